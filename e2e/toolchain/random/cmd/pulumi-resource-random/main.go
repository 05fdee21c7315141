// Command pulumi-resource-random is the random resource plugin. schema.json and
// bridge-metadata.json are not in the repository: ../../build writes them here, in a scratch copy
// of this module, with pulumi-tfgen-random before it builds this command.
package main

import (
	"context"
	_ "embed"

	pf "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	random "dossier-stack/e2e/toolchain/random"
)

//go:embed schema.json
var schema []byte

//go:embed bridge-metadata.json
var metadata []byte

func main() {
	meta := pf.ProviderMetadata{PackageSchema: schema, BridgeMetadata: metadata}
	pf.Main(context.Background(), "random", random.Provider(metadata), meta)
}
