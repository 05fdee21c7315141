"""How long a tenant's name may be: Dossier's spawner names every notebook namespace after it.

The hub runs KubeSpawner 4.2.0 (the z2jh 2.0.0 hub image Dossier's is built on) with
``enable_user_namespaces``: a user's server gets the namespace ``user_namespace_template``,
``{hubnamespace}-{username}``, the user name escaped to a-z, 0-9 and ``-`` (at least one
character; a hub in ``default`` uses ``user``). Dossier's ``DossierKubeSpawner._start``
then prefixes the user's tenant, ``<tenant>-``, unless the name already starts with it:
``<tenant>-<hub namespace>-<user>``. A namespace name is a DNS-1123 label, at most 63
characters, and neither of them shortens it, so a tenant whose name leaves no room for
even a one-character user name can never start a notebook.
Ref: kubespawner 4.2.0 ``spawner.py`` (``_expand_user_properties``); Dossier efd8873
``dossier/spawners/kubespawner.py`` (``_start``).
"""

from __future__ import annotations

#: Kubernetes' limit on a namespace name (a DNS-1123 label).
NAMESPACE_MAX = 63


def _hub_part(hub_namespace: str) -> str:
    return "user" if hub_namespace == "default" else hub_namespace


def user_name_room(tenant: str, hub_namespace: str) -> int:
    """Characters left for the escaped user name in a notebook namespace of ``tenant`` (below 1: none fits)."""
    prefix = f"{_hub_part(hub_namespace)}-"
    if not prefix.startswith(f"{tenant}-"):
        prefix = f"{tenant}-{prefix}"
    return NAMESPACE_MAX - len(prefix)


def too_long(tenant: str, hub_namespace: str) -> str | None:
    """Why ``tenant`` can never hold a notebook with the hub in ``hub_namespace``, or ``None``."""
    if user_name_room(tenant, hub_namespace) >= 1:
        return None
    hub = _hub_part(hub_namespace)
    longest = NAMESPACE_MAX - len(hub) - 3
    if longest < 1:
        return (f"too long with the hub namespace {hub_namespace!r}: Dossier puts each notebook in the namespace "
                f"<tenant>-{hub}-<user>, at most {NAMESPACE_MAX} characters; shorten dossier:namespace")
    return (f"too long: Dossier puts each notebook in the namespace <tenant>-{hub}-<user>, at most "
            f"{NAMESPACE_MAX} characters, so no user could start one; with the hub namespace "
            f"{hub_namespace!r} a tenant name has at most {longest} characters, and each one fewer leaves "
            "one more for user names")
