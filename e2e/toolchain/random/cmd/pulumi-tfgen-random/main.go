// Command pulumi-tfgen-random writes the Pulumi schema and bridge metadata of the random bridge:
// pulumi-tfgen-random schema --out DIR --skip-docs --skip-examples.
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	random "dossier-stack/e2e/toolchain/random"
)

func main() {
	tfgen.Main("random", random.Provider(nil))
}
