//go:build tools

// Package tools pins versitygw: `go build` of the imported main package, at the
// version go.mod requires, with every download checked against go.sum.
package tools

import _ "github.com/versity/versitygw/cmd/versitygw"
