// Package shim exposes the random Terraform provider, which lives in the upstream module's
// internal/ tree: only a module whose path starts with the upstream module path may import it,
// hence this nested module of ours named github.com/terraform-providers/terraform-provider-random/shim.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"
	upstream "github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// NewProvider returns the upstream plugin-framework provider.
func NewProvider() provider.Provider {
	return upstream.New()
}
