//go:build tools

// Package tools pins etcd: `go build` of the imported main package, at the
// version go.mod requires, with every download checked against go.sum.
package tools

import _ "go.etcd.io/etcd/server/v3"
