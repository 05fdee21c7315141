//go:build tools

// Package tools pins kwok: `go build` of the imported main package, at the version go.mod
// requires, with every download checked against go.sum.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
