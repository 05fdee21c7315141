//go:build tools

// Package tools pins the control plane: `go build` of the imported main packages, at the
// version go.mod requires, with every download checked against go.sum.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
