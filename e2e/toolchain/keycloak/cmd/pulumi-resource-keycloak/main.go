// Command pulumi-resource-keycloak is the keycloak resource plugin. schema.json and
// bridge-metadata.json are not in the repository: ../../build writes them here, in a scratch copy
// of this module, with pulumi-tfgen-keycloak before it builds this command.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	keycloak "dossier-stack/e2e/toolchain/keycloak"
)

//go:embed schema.json
var schema []byte

//go:embed bridge-metadata.json
var metadata []byte

func main() {
	tfbridge.Main("keycloak", keycloak.Version, keycloak.Provider(metadata), schema)
}
