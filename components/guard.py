"""The destroy guard: with ``protectData``, a ``pulumi destroy`` deletes nothing at all.

Protecting the data-bearing resources alone is not enough: ``pulumi destroy``
deletes in reverse dependency order, so everything that no protected resource
depends on (the ingress, the hub's RBAC, the Keycloak mapper and roles, whose
deletion also drops every user's role mapping) would go before the engine
reaches the first protected resource and stops. The guard is a protected
component that depends on every other resource of the stack: the engine must
delete it first, cannot, and so deletes nothing. Its URN
(``dossier:safety:DestroyGuard::destroy-guard``) names it in the refusal.

With ``protectData: false`` it is unprotected and goes first, then the rest.
It calls no provider and holds no state of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi


class DestroyGuard(pulumi.ComponentResource):
    """Depends on ``resources`` (components expand to their children); protected with ``protect``."""

    def __init__(self, name: str, resources: Sequence[pulumi.Resource], protect: bool) -> None:
        super().__init__(
            "dossier:safety:DestroyGuard",
            name,
            None,
            pulumi.ResourceOptions(depends_on=list(resources), protect=protect or None),
        )
        self.register_outputs({})
