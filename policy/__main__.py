"""The dossier policy pack: ``pulumi preview --policy-pack policy``.

The rules live in ``dossier_rules.py`` as pure functions (tested offline by
``tests/test_policy.py``); this file only serves them to the Pulumi CLI.
"""

from dossier_rules import POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="dossier",
    description="Guards of the Dossier platform: no public services, TLS, pinned charts, "
    "confidential Keycloak clients, protected data outside dev, undeletable tenants, no RBAC wildcards.",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=list(POLICIES),
)
