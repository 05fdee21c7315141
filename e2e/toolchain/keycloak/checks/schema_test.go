// Package checks tests the Pulumi schema the build generated (SCHEMA_JSON) against what the
// project's pulumi-keycloak SDK (6.14.1) sends: its type tokens, the provider configuration keys,
// the inputs our components set and the outputs that must be secret. The build runs it before it
// builds the plugin.
package checks

import (
	"encoding/json"
	"os"
	"testing"
)

type property struct {
	Secret bool `json:"secret"`
}

type resourceSpec struct {
	InputProperties map[string]property `json:"inputProperties"`
	Properties      map[string]property `json:"properties"`
}

type packageSpec struct {
	Name      string                     `json:"name"`
	Resources map[string]resourceSpec    `json:"resources"`
	Functions map[string]json.RawMessage `json:"functions"`
	Config    struct {
		Variables map[string]property `json:"variables"`
	} `json:"config"`
}

func load(t *testing.T) packageSpec {
	t.Helper()
	path := os.Getenv("SCHEMA_JSON")
	if path == "" {
		t.Fatal("SCHEMA_JSON is not set: the build script runs this test on the schema it generated")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var spec packageSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return spec
}

// What the components register, set and read (components/keycloak_client.py, research.py), with
// the type tokens of pulumi_keycloak 6.14.1's classes.
var used = []struct {
	token   string
	inputs  []string
	secrets []string
}{
	{
		"keycloak:openid/client:Client",
		[]string{
			"realmId", "clientId", "name", "enabled", "accessType", "clientSecret", "standardFlowEnabled",
			"implicitFlowEnabled", "directAccessGrantsEnabled", "serviceAccountsEnabled", "validRedirectUris",
			"validPostLogoutRedirectUris", "webOrigins", "rootUrl",
		},
		[]string{"clientSecret"},
	},
	{
		"keycloak:openid/userClientRoleProtocolMapper:UserClientRoleProtocolMapper",
		[]string{
			"realmId", "clientId", "name", "claimName", "claimValueType", "clientIdForRoleMappings",
			"multivalued", "addToIdToken", "addToAccessToken", "addToUserinfo",
		},
		nil,
	},
	{"keycloak:index/role:Role", []string{"realmId", "clientId", "name", "description"}, nil},
	{"keycloak:index/realm:Realm", []string{"realm", "enabled"}, nil},
}

func TestTheProjectsResourcesHaveTheSDKTokensInputsAndSecrets(t *testing.T) {
	spec := load(t)
	if spec.Name != "keycloak" {
		t.Errorf("package name %q, want keycloak", spec.Name)
	}
	for _, u := range used {
		res, ok := spec.Resources[u.token]
		if !ok {
			t.Errorf("schema has no resource %s", u.token)
			continue
		}
		for _, name := range u.inputs {
			if _, ok := res.InputProperties[name]; !ok {
				t.Errorf("%s has no input %q", u.token, name)
			}
		}
		for _, name := range u.secrets {
			if prop, ok := res.Properties[name]; !ok || !prop.Secret {
				t.Errorf("%s output %q is not a secret (present: %v)", u.token, name, ok)
			}
		}
	}
}

// Resource and function tokens of pulumi_keycloak 6.14.1 whose names are not the plain
// prefix-to-module mapping: the bridge must reproduce each explicitly.
func TestRenamedTokensMatchTheSDK(t *testing.T) {
	spec := load(t)
	for _, token := range []string{
		"keycloak:index/attributeToRoleIdentityMapper:AttributeToRoleIdentityMapper",
		"keycloak:index/customIdentityProviderMapping:CustomIdentityProviderMapping",
		"keycloak:index/hardcodedRoleIdentityMapper:HardcodedRoleIdentityMapper",
		"keycloak:index/realmKeystoreJavaGenerated:RealmKeystoreJavaGenerated",
		"keycloak:openid/clientPolicy:ClientPolicy",
		"keycloak:saml/clientDefaultScope:ClientDefaultScope",
	} {
		if _, ok := spec.Resources[token]; !ok {
			t.Errorf("schema has no resource %s", token)
		}
	}
	for _, token := range []string{
		"keycloak:index/getAuthenticationExecution:getAuthenticationExecution",
		"keycloak:index/getAuthenticationFlow:getAuthenticationFlow",
	} {
		if _, ok := spec.Functions[token]; !ok {
			t.Errorf("schema has no function %s", token)
		}
	}
}

// The stack configuration keys (keycloak:<key>) the SDK reads and the docs name.
func TestProviderConfigKeys(t *testing.T) {
	spec := load(t)
	for _, key := range []string{
		"url", "clientId", "clientSecret", "username", "password", "realm", "basePath", "rootCaCertificate",
		"tlsInsecureSkipVerify", "clientTimeout", "initialLogin", "additionalHeaders", "redHatSso",
	} {
		if _, ok := spec.Config.Variables[key]; !ok {
			t.Errorf("schema has no provider config key %q", key)
		}
	}
}
