// Command pulumi-tfgen-keycloak writes the Pulumi schema and bridge metadata of the keycloak bridge:
// pulumi-tfgen-keycloak schema --out DIR --skip-docs --skip-examples.
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	keycloak "dossier-stack/e2e/toolchain/keycloak"
)

func main() {
	tfgen.Main("keycloak", keycloak.Version, keycloak.Provider(nil))
}
