//go:build tools

// Package tools pins the Pulumi CLI: `go build` of the imported main package, at the
// version go.mod requires, with every download checked against go.sum.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
