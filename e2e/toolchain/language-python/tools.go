//go:build tools

// Package tools pins the Pulumi Python language host: `go build` of the imported main package, at the
// version go.mod requires, with every download checked against go.sum. v3.79.0 is the last release of
// the github.com/pulumi/pulumi/sdk/v3 module that holds the host as a package (it is its own module
// from 3.80 on, and that module is not served to us).
package tools

import _ "github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python"
