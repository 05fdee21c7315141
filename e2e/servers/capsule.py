"""Capsule 0.2.1, the real operator and webhooks, out of cluster against the run's API server.

``start_capsule(supervisor, cluster, ca, hub_namespace="jhub")`` installs what
Capsule's own chart installs, rendered by Helm's engine from the chart of the
same tag (the ``capsule`` toolchain piece: ``capsule-chart``) with Dossier's
values (``forceTenantPrefix: true``; ``capsuleUserGroups``: ``dossier.unito.it``
and ``system:serviceaccounts:<hub namespace>``), and runs the manager:

- the CRDs of ``charts/capsule/crds/`` (Tenant, CapsuleConfiguration, ...), their
  conversion webhook pointed at Capsule's loopback address with the run's CA;
- the chart's ServiceAccount, ClusterRoles and bindings, and the
  CapsuleConfiguration ``default`` (``tls.enableController: false``: no Secret
  ``capsule-tls`` out of cluster; the run's CA signs the webhook certificate);
- the manager, with the command line of the chart's Deployment less
  ``--enable-leader-election`` (one replica, and no kubelet here to restart it
  when a stopped API server makes it lose the lease), ``NAMESPACE``, a
  kubeconfig at ``$HOME/.kube/config`` holding a token of its ServiceAccount
  (the chart's RBAC decides what it may do), ``TMPDIR`` in the run's folder
  (controller-runtime reads the webhook certificate from
  ``$TMPDIR/k8s-webhook-server/serving-certs``), in a network namespace of its
  own joined to loopback by ``relay.py`` (its webhook and health ports are
  fixed in its code);
- once it serves, every webhook of the chart's Mutating- and
  ValidatingWebhookConfiguration, each with ``clientConfig.url`` on loopback and
  the run's CA in place of the in-cluster Service.

It returns once Capsule's RBAC manager has bound its namespace-provisioner
ClusterRole to the user groups: the controllers run. ``Capsule.configure(groups)``
applies the chart's CapsuleConfiguration rendered with other user groups, as a
``helm upgrade`` would, and waits until Capsule has bound them.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from kubernetes import client, dynamic

from e2e.servers.certs import CertificateAuthority
from e2e.servers.cluster import Cluster, write_kubeconfig
from e2e.servers.crds import apply_crds
from e2e.servers.supervisor import HOST, Process, ServerStartError, Supervisor, free_port, tool

NAMESPACE = "capsule-system"
RELEASE = "capsule"
DOSSIER_GROUP = "dossier.unito.it"
#: Fixed in Capsule 0.2.1's main.go (no flag): private to its network namespace.
WEBHOOK_PORT, HEALTH_PORT = 9443, 10080
#: The chart's metrics port (``--metrics-addr`` inside the namespace).
METRICS_PORT = 8080
PROVISIONER = "capsule-namespace-provisioner"
START_LIMIT = 180.0
TOKEN_SECONDS = 24 * 3600
#: Out of cluster, with one replica and nothing to restart it, the manager runs without leader election.
DROPPED_ARGS = ("--enable-leader-election",)


def user_groups(hub_namespace: str) -> tuple[str, ...]:
    """Dossier's ``capsuleUserGroups``: its own group and the hub namespace's service accounts."""
    return (DOSSIER_GROUP, f"system:serviceaccounts:{hub_namespace}")


def chart_values(groups: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """The values Capsule's chart is rendered with: Dossier's guide's, and no TLS controller out of cluster."""
    return {"manager": {"options": {"forceTenantPrefix": True, "capsuleUserGroups": list(groups)}},
            "tls": {"enableController": False}}


def render_chart(values: dict[str, Any], folder: Path) -> dict[str, list[dict[str, Any]]]:
    """Capsule's chart rendered by Helm's engine: ``{"templates": [...], "crds": [...]}``, each a list of objects."""
    renderer = tool("capsule", "capsule-chart")
    values_file = folder / f"values-{time.monotonic_ns()}.json"
    values_file.write_text(json.dumps(values))
    answer = subprocess.run([str(renderer), "-chart", str(renderer.parent.parent / "chart"),
                             "-values", str(values_file), "-release", RELEASE, "-namespace", NAMESPACE],
                            capture_output=True, text=True)
    if answer.returncode != 0:
        raise ServerStartError(f"capsule-chart could not render Capsule's chart: {answer.stderr.strip()}")
    rendered = json.loads(answer.stdout)
    return {part: [doc for _, text in sorted(rendered[part].items()) for doc in yaml.safe_load_all(text) if doc]
            for part in ("templates", "crds")}


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The single object of ``kind`` among ``objects``."""
    found = [o for o in objects if o.get("kind") == kind]
    if len(found) != 1:
        raise ServerStartError(f"Capsule's chart rendered {len(found)} {kind} objects, expected 1")
    return found[0]


def _webhooks_on_loopback(configuration: dict[str, Any], url: str, ca_bundle: str) -> dict[str, Any]:
    """A webhook configuration of the chart with each webhook's Service replaced by ``url`` + its path."""
    patched = json.loads(json.dumps(configuration))
    for webhook in patched["webhooks"]:
        service = webhook["clientConfig"].pop("service")
        webhook["clientConfig"] = {"url": f"{url}{service.get('path', '')}", "caBundle": ca_bundle}
    return patched


def _crd_on_loopback(crd: dict[str, Any], url: str, ca_bundle: str) -> dict[str, Any]:
    patched = json.loads(json.dumps(crd))
    webhook = (patched["spec"].get("conversion") or {}).get("webhook")
    if webhook:
        service = webhook["clientConfig"].pop("service")
        webhook["clientConfig"] = {"url": f"{url}{service.get('path', '')}", "caBundle": ca_bundle}
    return patched


@dataclass
class Capsule:
    """A running Capsule: where its webhooks and probes answer, and what it was installed with."""

    cluster: Cluster
    folder: Path
    groups: tuple[str, ...]
    webhook_url: str
    health_url: str
    metrics_url: str
    manager: Process
    relay: Process
    installed: dict[str, list[dict[str, Any]]]
    """The chart's objects as registered here (webhooks on loopback), by ``templates``/``crds``."""
    seconds: dict[str, float] = field(default_factory=dict)

    def configuration(self) -> dict[str, Any]:
        custom: Any = client.CustomObjectsApi(self.cluster.api_client())
        return dict(custom.get_cluster_custom_object("capsule.clastix.io", "v1beta2", "capsuleconfigurations",
                                                     "default"))

    def provisioner_groups(self) -> list[str]:
        """The groups Capsule bound to its namespace-provisioner ClusterRole (who may create namespaces)."""
        rbac = client.RbacAuthorizationV1Api(self.cluster.api_client())
        binding = rbac.read_cluster_role_binding(PROVISIONER)
        return [s.name for s in binding.subjects or [] if s.kind == "Group"]

    def configure(self, groups: tuple[str, ...] | list[str], limit: float = 60.0) -> None:
        """The chart's CapsuleConfiguration rendered with ``capsuleUserGroups: groups``, applied; waits for Capsule."""
        wanted = one(render_chart(chart_values(groups), self.folder)["templates"], "CapsuleConfiguration")
        custom: Any = client.CustomObjectsApi(self.cluster.api_client())
        custom.patch_cluster_custom_object("capsule.clastix.io", "v1beta2", "capsuleconfigurations", "default",
                                           {"spec": wanted["spec"]})
        _wait(lambda: self.provisioner_groups() == list(groups), limit,
              f"Capsule did not bind {PROVISIONER} to {list(groups)}", self.manager)
        self.groups = tuple(groups)


def _wait(probe: Any, limit: float, what: str, process: Process) -> float:
    started = time.monotonic()
    last = ""
    while time.monotonic() - started < limit:
        if not process.alive():
            raise ServerStartError(f"Capsule exited ({what}); last lines of {process.log}:\n{process.log_tail()}")
        try:
            if probe():
                return time.monotonic() - started
        except Exception as exc:  # not yet
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.3)
    raise ServerStartError(f"{what} within {limit:.0f} s (last: {last}); last lines of {process.log}:\n"
                           f"{process.log_tail()}")


def _create(api: client.ApiClient, objects: list[dict[str, Any]]) -> None:
    """Create the chart's objects; namespaced ones in the release's namespace, as Helm does."""
    resources = dynamic.DynamicClient(api).resources
    for obj in objects:
        resource = resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        namespace = obj["metadata"].get("namespace", NAMESPACE) if resource.namespaced else None
        resource.create(body=obj, namespace=namespace)


def _service_account_token(api: client.ApiClient, namespace: str, name: str) -> str:
    core = client.CoreV1Api(api)
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(
        audiences=[], expiration_seconds=TOKEN_SECONDS))
    answer = core.create_namespaced_service_account_token(name, namespace, request)
    if answer.status is None or not answer.status.token:
        raise ServerStartError(f"the API server returned no token for {namespace}:{name}")
    return str(answer.status.token)


def _unshare() -> list[str]:
    # As root a network namespace needs nothing else; otherwise a user namespace maps us to root in it.
    return ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--net"]


def start_capsule(supervisor: Supervisor, cluster: Cluster, ca: CertificateAuthority, *, hub_namespace: str = "jhub",
                  groups: tuple[str, ...] | None = None, limit: float = START_LIMIT) -> Capsule:
    """Install Capsule's chart objects and run the manager (see the module doc); returns once it reconciles."""
    manager_bin = tool("capsule", "capsule")
    groups = groups if groups is not None else user_groups(hub_namespace)
    folder = supervisor.path("capsule")
    seconds: dict[str, float] = {}
    started = time.monotonic()
    chart = render_chart(chart_values(groups), folder)
    ca_bundle = base64.b64encode(ca.cert_pem).decode()
    webhook_port, health_port, metrics_port = free_port(), free_port(), free_port()
    webhook_url = f"https://{HOST}:{webhook_port}"

    api = cluster.api_client()
    client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
    crds = [_crd_on_loopback(crd, webhook_url, ca_bundle) for crd in chart["crds"]]
    apply_crds(api, crds)
    seconds["crds"] = time.monotonic() - started
    kinds = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "CapsuleConfiguration")
    _create(api, [o for o in chart["templates"] if o["kind"] in kinds])
    service_account = one(chart["templates"], "ServiceAccount")["metadata"]["name"]

    home, tmp, sockets = folder / "home", folder / "tmp", folder / "sockets"
    certs = tmp / "k8s-webhook-server" / "serving-certs"
    for path in (home / ".kube", certs, sockets):
        path.mkdir(parents=True, exist_ok=True)
    write_kubeconfig(home / ".kube" / "config", cluster.url, ca,
                     _service_account_token(api, NAMESPACE, service_account), "capsule")
    serving = ca.issue("capsule-webhook")
    (certs / "tls.crt").write_bytes(serving.cert_path.read_bytes())
    (certs / "tls.key").touch(mode=0o600)
    (certs / "tls.key").write_bytes(serving.key_path.read_bytes())

    deployment = one(chart["templates"], "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    args = [a for a in container.get("args", []) if a not in DROPPED_ARGS]
    api_port = cluster.url.rsplit(":", 1)[1]
    relay_py = str(Path(__file__).with_name("relay.py"))
    sock = {name: f"unix:{sockets / f'{name}.sock'}" for name in ("api", "webhook", "health", "metrics")}
    relay = supervisor.start("capsule-relay", [
        sys.executable, relay_py,
        f"--forward={sock['api']}=tcp:{HOST}:{api_port}",
        f"--forward=tcp:{HOST}:{webhook_port}={sock['webhook']}",
        f"--forward=tcp:{HOST}:{health_port}={sock['health']}",
        f"--forward=tcp:{HOST}:{metrics_port}={sock['metrics']}",
    ])
    supervisor.wait_until(relay, lambda: (sockets / "api.sock").exists(), limit=30, what="listening")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "TMPDIR": str(tmp), "NAMESPACE": NAMESPACE,
           "KUBECONFIG": str(home / ".kube" / "config")}
    manager = supervisor.start("capsule", [
        *_unshare(), sys.executable, relay_py, "--loopback-up",
        f"--forward=tcp:{HOST}:{api_port}={sock['api']}",
        f"--forward={sock['webhook']}=tcp:{HOST}:{WEBHOOK_PORT}",
        f"--forward={sock['health']}=tcp:{HOST}:{HEALTH_PORT}",
        f"--forward={sock['metrics']}=tcp:{HOST}:{METRICS_PORT}",
        "--", manager_bin, *args, f"--metrics-addr={HOST}:{METRICS_PORT}",
    ], env=env)
    health_url = f"http://{HOST}:{health_port}"
    seconds["ready"] = supervisor.wait_until(
        manager, lambda: requests.get(f"{health_url}/readyz", timeout=2).status_code == 200, limit=limit,
        what="ready (/readyz)")
    # The webhook server answers (any HTTP status) over TLS with the run's CA.
    _wait(lambda: requests.get(f"{webhook_url}/convert", verify=str(ca.cert_path), timeout=2) is not None, limit,
          "Capsule's webhook server did not answer", manager)

    installed = {"crds": crds, "templates": []}
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        installed["templates"].append(_webhooks_on_loopback(one(chart["templates"], kind), webhook_url, ca_bundle))
    _create(api, installed["templates"])
    installed["templates"] += [o for o in chart["templates"] if o["kind"] in kinds]
    capsule = Capsule(cluster, folder, tuple(groups), webhook_url, health_url, f"http://{HOST}:{metrics_port}",
                      manager, relay, installed, seconds)
    seconds["rbac"] = _wait(lambda: capsule.provisioner_groups() == list(groups), limit,
                            f"Capsule did not bind {PROVISIONER} to {list(groups)}", manager)
    seconds["total"] = time.monotonic() - started
    return capsule
