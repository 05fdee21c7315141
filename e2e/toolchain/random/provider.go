// Package random maps the upstream random Terraform provider (plugin framework) to the Pulumi
// package the published pulumi-random SDK addresses: package "random", every resource in module
// "index" named Random<Name> (random_password -> random:index/randomPassword:RandomPassword).
package random

import (
	"context"
	"fmt"

	pf "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/terraform-providers/terraform-provider-random/shim"
)

// Version is the version the plugin reports: the pulumi-random SDK pin it stands in for
// (set by the build with -ldflags -X).
var Version = "0.0.0-dev"

// Provider is the bridge mapping. metadata is the bridge metadata tfgen wrote (nil when tfgen
// itself runs: this provider has no release history to carry forward).
func Provider(metadata []byte) tfbridge.ProviderInfo {
	prov := tfbridge.ProviderInfo{
		P:            pf.ShimProvider(shim.NewProvider()),
		Name:         "random",
		Version:      Version,
		Description:  "Local bridge build of the random Terraform provider (dossier-stack e2e).",
		License:      "Apache-2.0",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Resources: map[string]*tfbridge.ResourceInfo{
			// random_bytes has no id attribute upstream; the published provider uses the value's
			// base64 form as the ID, so does this one (it is therefore not secret in the state).
			"random_bytes": {ComputeID: idFromBase64},
		},
		// Runtime behaviour flags the published provider enables, so that previews and the
		// state this build writes take the same form.
		EnableAccurateBridgePreview: true,
		EnableRawStateDelta:         true,
	}
	prefixed := func(module, name string) (string, error) {
		return tokens.MakeStandard("random")(module, "Random"+name)
	}
	prov.MustComputeTokens(tokens.SingleModule("random_", "index", prefixed))
	return prov
}

func idFromBase64(_ context.Context, state resource.PropertyMap) (resource.ID, error) {
	value, ok := state["base64"]
	if !ok {
		return "", fmt.Errorf("random_bytes state has no base64 property")
	}
	if value.IsSecret() {
		value = value.SecretValue().Element
	}
	if !value.IsString() {
		return "", fmt.Errorf("random_bytes base64 is %v, expected a string", value.TypeString())
	}
	return resource.ID(value.StringValue()), nil
}
