//go:build tools

// Package tools pins kubectl: `go build` of the imported main package, at the version go.mod
// requires (the control plane's Kubernetes release), with every download checked against go.sum.
package tools

import _ "k8s.io/kubernetes/cmd/kubectl"
