// Package checks tests the Pulumi schema the build generated (SCHEMA_JSON) against what the
// project's pulumi-random SDK (4.21.4) sends: its type tokens, the inputs our components set and
// the outputs that must be secret. The build runs it before it builds the plugin.
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
	Name      string                  `json:"name"`
	Resources map[string]resourceSpec `json:"resources"`
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

// The type token of every resource class of pulumi_random 4.21.4 (its super().__init__ calls).
var sdkTokens = []string{
	"random:index/randomBytes:RandomBytes",
	"random:index/randomId:RandomId",
	"random:index/randomInteger:RandomInteger",
	"random:index/randomPassword:RandomPassword",
	"random:index/randomPet:RandomPet",
	"random:index/randomShuffle:RandomShuffle",
	"random:index/randomString:RandomString",
	"random:index/randomUuid:RandomUuid",
}

func TestEveryResourceTokenOfTheSDKExists(t *testing.T) {
	spec := load(t)
	if spec.Name != "random" {
		t.Errorf("package name %q, want random", spec.Name)
	}
	for _, token := range sdkTokens {
		if _, ok := spec.Resources[token]; !ok {
			t.Errorf("schema has no resource %s", token)
		}
	}
}

// What the components set and read (components/postgresql.py, keycloak_client.py, jupyterhub.py).
func TestInputsAndSecretOutputsTheProjectUses(t *testing.T) {
	spec := load(t)
	cases := []struct {
		token   string
		inputs  []string
		secrets []string
	}{
		{"random:index/randomPassword:RandomPassword", []string{"length", "special"}, []string{"result", "bcryptHash"}},
		{"random:index/randomBytes:RandomBytes", []string{"length"}, []string{"base64", "hex"}},
	}
	for _, c := range cases {
		res, ok := spec.Resources[c.token]
		if !ok {
			t.Errorf("schema has no resource %s", c.token)
			continue
		}
		for _, name := range c.inputs {
			if _, ok := res.InputProperties[name]; !ok {
				t.Errorf("%s has no input %q", c.token, name)
			}
		}
		for _, name := range c.secrets {
			if prop, ok := res.Properties[name]; !ok || !prop.Secret {
				t.Errorf("%s output %q is not a secret (present: %v)", c.token, name, ok)
			}
		}
	}
}
