//go:build tools

// Package tools pins kube-apiserver: `go build` of the imported main package, at the
// version go.mod requires, with every download checked against go.sum.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
