// Command pulumi-resource-kubernetes is the Pulumi kubernetes resource provider, built from the upstream
// provider module at the version go.mod pins.
//
// Upstream's own main (cmd/pulumi-resource-kubernetes) embeds files its `go generate` step writes, so it
// cannot be built from the module as served. This main does what that one does: it embeds the Pulumi
// schema and the Terraform mapping the module ships in cmd/pulumi-resource-kubernetes/, which the build
// script copies beside this file in a temporary work folder (they are never committed), and serves them.
package main

import (
	_ "embed"
	"fmt"
	"os"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema.json
var pulumiSchema []byte

//go:embed terraform-mapping.json
var terraformMapping []byte

func main() {
	// The build sets the version with -ldflags "-X .../pkg/version.Version=..."; the engine reads it from
	// the plugin's GetPluginInfo and the provider sends it in its user agent.
	if version.Version == "" {
		fmt.Fprintln(os.Stderr, "pulumi-resource-kubernetes: built without a version (see the build script)")
		os.Exit(2)
	}
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
