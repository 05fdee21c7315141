// Package keycloak maps the upstream keycloak Terraform provider (SDKv2) to the Pulumi package the
// published pulumi-keycloak SDK addresses: package "keycloak", modules ldap, oidc, openid, saml and
// authentication by resource-name prefix, everything else in "index"
// (keycloak_openid_client -> keycloak:openid/client:Client, keycloak_role -> keycloak:index/role:Role).
package keycloak

import (
	"github.com/keycloak/terraform-provider-keycloak/provider"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	ptokens "github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

// Version is the version the plugin reports: the pulumi-keycloak SDK pin it stands in for
// (set by the build with -ldflags -X).
var Version = "0.0.0-dev"

// Provider is the bridge mapping. metadata is the bridge metadata tfgen wrote (nil when tfgen
// itself runs: this provider has no release history to carry forward).
func Provider(metadata []byte) tfbridge.ProviderInfo {
	prov := tfbridge.ProviderInfo{
		P:            shimv2.NewProvider(provider.KeycloakProvider(nil)),
		Name:         "keycloak",
		Version:      Version,
		Description:  "Local bridge build of the keycloak Terraform provider (dossier-stack e2e).",
		License:      "Apache-2.0",
		GitHubOrg:    "keycloak",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Config: map[string]*tfbridge.SchemaInfo{
			// The published SDK's default (the Terraform provider's own is 15).
			"client_timeout": {Default: &tfbridge.DefaultInfo{Value: 5, EnvVars: []string{"KEYCLOAK_CLIENT_TIMEOUT"}}},
		},
		// Names the published SDK gives that the prefix rule below would not.
		Resources: map[string]*tfbridge.ResourceInfo{
			"keycloak_attribute_to_role_identity_provider_mapper": {Tok: resource("index", "AttributeToRoleIdentityMapper")},
			"keycloak_custom_identity_provider_mapper":            {Tok: resource("index", "CustomIdentityProviderMapping")},
			"keycloak_hardcoded_role_identity_provider_mapper":    {Tok: resource("index", "HardcodedRoleIdentityMapper")},
			"keycloak_realm_keystore_java_keystore":               {Tok: resource("index", "RealmKeystoreJavaGenerated")},
			"keycloak_openid_client_client_policy":                {Tok: resource("openid", "ClientPolicy")},
			"keycloak_saml_client_default_scopes":                 {Tok: resource("saml", "ClientDefaultScope")},
			// Generated when absent, as published (autonaming below covers the "name" inputs).
			"keycloak_openid_client":                   {Fields: autoNamed("client_id", "clientId")},
			"keycloak_oidc_google_identity_provider":   {Fields: autoNamed("client_id", "clientId")},
			"keycloak_realm":                           {Fields: autoNamed("realm", "realm")},
			"keycloak_authentication_flow":             {Fields: autoNamed("alias", "alias")},
			"keycloak_authentication_subflow":          {Fields: autoNamed("alias", "alias")},
			"keycloak_authentication_execution_config": {Fields: autoNamed("alias", "alias")},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"keycloak_authentication_execution": {Tok: tfbridge.MakeDataSource("keycloak", "index", "getAuthenticationExecution")},
			"keycloak_authentication_flow":      {Tok: tfbridge.MakeDataSource("keycloak", "index", "getAuthenticationFlow")},
		},
	}
	modules := []string{"ldap_", "oidc_", "openid_", "saml_", "authentication_"}
	prov.MustComputeTokens(tokens.KnownModules("keycloak_", "index", modules, tokens.MakeStandard("keycloak")))
	// As published: a missing name-like input is generated (name plus a random suffix).
	prov.SetAutonaming(255, "-")
	return prov
}

func resource(module, name string) ptokens.Type {
	return tfbridge.MakeResource("keycloak", module, name)
}

func autoNamed(field, pulumiName string) map[string]*tfbridge.SchemaInfo {
	return map[string]*tfbridge.SchemaInfo{field: tfbridge.AutoName(pulumiName, 255, "-")}
}
