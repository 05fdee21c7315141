"""Another team's program on top of a Dossier stack: its outputs read through a StackReference.

A team running notebooks' companion services would do this: a namespace of its own,
a ConfigMap there with the hub's URL and the hub database's address (a client must run
in the hub's namespace with ``postgresql.clientLabels`` to connect: docs/outputs.md,
"Who may connect to what"), and a Secret
holding a connection URL built from the secret ``postgresqlPassword``, which stays
a secret in this stack's state and outputs (``databaseUrl``). Every output of the
contract is read with its type checked (``contract.py``): a Dossier stack that
drops or reshapes one fails this program's ``pulumi up`` naming it.
"""

import pulumi
import pulumi_kubernetes as k8s
from contract import OUTPUTS, require

config = pulumi.Config()

# --- reading the Dossier stack (docs/outputs.md shows this block) ---
dossier = pulumi.StackReference(config.require("dossierStack"))  # "<organization>/dossier/<stack>"
hub_url = require(dossier, "hubUrl")                      # "https://<fqdn>"
db = require(dossier, "postgresql")                       # {"host": "<service>.<namespace>.svc", "port", ...}
db_password = require(dossier, "postgresqlPassword")      # a secret here too
# --- end of the block ---

# Every output of the contract read and its type checked before anything is made: the namespace,
# which everything else is in, waits for all the checks (the list of names is no secret).
checked = pulumi.Output.unsecret(
    pulumi.Output.all(*(require(dossier, name) for name in OUTPUTS)).apply(lambda _: sorted(OUTPUTS))
)
namespace = k8s.core.v1.Namespace(
    "namespace", metadata={"name": checked.apply(lambda _: config.get("namespace") or "analytics")}
)
ns = namespace.metadata.apply(lambda m: m["name"])
db_host = db.apply(lambda d: d["host"])
db_port = db.apply(lambda d: str(int(d["port"])))

k8s.core.v1.ConfigMap(
    "dossier",
    metadata={"name": "dossier", "namespace": ns},
    data={"HUB_URL": hub_url, "DB_HOST": db_host, "DB_PORT": db_port, "DB_NAME": db.apply(lambda d: d["database"])},
)
database_url = pulumi.Output.all(db, db_password, db_host).apply(
    lambda a: f"postgresql://{a[0]['username']}:{a[1]}@{a[2]}:{int(a[0]['port'])}/{a[0]['database']}"
)
k8s.core.v1.Secret("dossier-database", metadata={"name": "dossier-database", "namespace": ns},
                   string_data={"DATABASE_URL": database_url})

pulumi.export("namespace", ns)
pulumi.export("hubUrl", hub_url)
pulumi.export("databaseHost", db_host)
pulumi.export("databasePort", db_port)
pulumi.export("databaseUrl", database_url)  # derived from a secret: a secret
pulumi.export("outputsChecked", checked)
