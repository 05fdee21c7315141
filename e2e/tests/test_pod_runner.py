"""Pods of the API server run as host processes (e2e/servers/pods/): what each process sees.

Each Pod is created with a fixed ``nodeName`` (no scheduling needed) and kwok reports it Running
with a pod IP on loopback; the controller manager gives the namespace its ``kube-root-ca.crt``
and ``default`` ServiceAccount, the API server's admission plugin its token volume. A probe container (the singleuser
image's Python) serves, on every address, a report of what it sees: its environment, user, groups,
folder, host name, the files where the pod mounts its volumes, its listening address, and who the
API server says its token belongs to. The test compares each with what it expects, written out
here, not computed by the runner's own functions. The proxy image's real configurable-http-proxy
runs beside it; a second pod runs the real single-user server with Dossier's application.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from kubernetes import client

from e2e.servers import CertificateAuthority, Cluster, Supervisor, start_cluster
from e2e.servers.crds import kube_request
from e2e.servers.pods import PodError, PodRunner, RunningPod

pytestmark = pytest.mark.e2e
NAMESPACE = "jhub"
NODE = "core-0"
SINGLEUSER = "jupyterhub/k8s-singleuser-sample:2.0.0"
HUB = "alphaunito/dossier:0.0.1-alpha"
CHP = "jupyterhub/configurable-http-proxy:4.5.3"
SA_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"

PROBE = textwrap.dedent('''
    import http.server, json, os, socket, ssl, urllib.request
    def tree(top):
        found = {}
        for folder, dirs, files in os.walk(top, followlinks=True):
            for name in dirs + files:
                path = os.path.join(folder, name)
                key = os.path.relpath(path, top)
                found[key] = None if os.path.isdir(path) else open(path, errors="replace").read()
        return found
    sa = "/var/run/secrets/kubernetes.io/serviceaccount"
    token = open(f"{sa}/token").read()
    api = f"https://{os.environ['KUBERNETES_SERVICE_HOST']}:{os.environ['KUBERNETES_SERVICE_PORT']}"
    review = urllib.request.Request(api + "/apis/authentication.k8s.io/v1/selfsubjectreviews", method="POST",
        data=json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    context = ssl.create_default_context(cafile=f"{sa}/ca.crt")
    whoami = json.load(urllib.request.urlopen(review, context=context))["status"]["userInfo"]
    def localhost():  # the proxy's API port of this pod, asked for on localhost
        try:
            with socket.create_connection(("127.0.0.1", 8001), timeout=5) as pod_local:
                return pod_local.getpeername()[0]
        except OSError as exc:
            return f"refused: {exc}"
    server = http.server.ThreadingHTTPServer(("0.0.0.0", 8888), http.server.BaseHTTPRequestHandler)
    report = {
        "env": dict(os.environ), "uid": os.getuid(), "gid": os.getgid(), "groups": sorted(os.getgroups()),
        "cwd": os.getcwd(), "hostname": socket.gethostname(), "listening": server.server_address,
        "whoami": whoami, "token": token, "etc": tree("/usr/local/etc/jupyterhub"), "sa": tree(sa),
        "sa_names": sorted(os.listdir(sa)), "secret_names": sorted(os.listdir("/usr/local/etc/jupyterhub/secret")),
        "writable_home": os.access(os.environ["HOME"], os.W_OK),
    }
    def fetch(url, **kwargs):  # through the pod's hosts file and routes, or the images' trust
        try:
            return urllib.request.urlopen(url, timeout=5, **kwargs).read().decode()
        except OSError as exc:
            return f"failed: {exc}"
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/ping":
                body = b"pong"
            else:
                body = json.dumps({**report, "localhost_8001": localhost(),
                                   "via_name": fetch("http://hub:8081/ping"),
                                   "via_fqdn": fetch("http://hub.jhub.svc.cluster.local:8081/ping"),
                                   "no_endpoint": fetch("http://proxy-api:8001/"),
                                   "default_trust": fetch(api + "/version", context=ssl.create_default_context()),
                                   }).encode()
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body)
    server.RequestHandlerClass = Handler
    server.serve_forever()
''')


HUB_PROBE = textwrap.dedent('''
    import http.server, json, os, sys
    from tornado.httpclient import AsyncHTTPClient, HTTPClient
    import dossier.app
    AsyncHTTPClient.configure("tornado.curl_httpclient.CurlAsyncHTTPClient")  # as z2jh's config does
    url = f"https://{os.environ['KUBERNETES_SERVICE_HOST']}:{os.environ['KUBERNETES_SERVICE_PORT']}/version"
    try:
        answer = HTTPClient().fetch(url)
        seen = {"status": answer.code, "version": json.loads(answer.body)["gitVersion"]}
    except Exception as exc:
        seen = {"error": str(exc)}
    seen["client"] = type(AsyncHTTPClient()).__name__
    seen["prefix"] = sys.prefix
    body = json.dumps(seen).encode()
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body)
    http.server.HTTPServer(("0.0.0.0", 8090), Handler).serve_forever()
''')


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Supervisor, Cluster]]:
    with Supervisor(name="e2e-pods") as supervisor:
        cluster = start_cluster(supervisor, CertificateAuthority(supervisor.path("ca")), nodes=[NODE], crds=False)
        api = cluster.api_client()

        def create(path: str, body: dict[str, Any]) -> None:
            kube_request(api, "POST", f"/api/v1/namespaces/{NAMESPACE}/{path}", body)

        kube_request(api, "POST", "/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
        create("serviceaccounts", {"metadata": {"name": "hub"}})
        # What the controller manager puts in every namespace (the admission plugin needs the account).
        core = client.CoreV1Api(api)
        until(lambda: core.list_namespaced_config_map(NAMESPACE, field_selector="metadata.name=kube-root-ca.crt").items
              and core.list_namespaced_service_account(NAMESPACE, field_selector="metadata.name=default").items,
              "kube-root-ca.crt and the default ServiceAccount")
        create("configmaps", {"metadata": {"name": "hub"}, "data": {
            "jupyterhub_config.py": "# the chart's config\n", "z2jh.py": "# the chart's helpers\n",
            "values.yaml": "hub:\n  baseUrl: /\n"}})
        create("secrets", {"metadata": {"name": "hub"}, "data": {
            "values.yaml": b64("hub:\n  db:\n    password: pw\n"),
            "hub.config.ConfigurableHTTPProxy.auth_token": b64("the-proxy-token")}})
        # The hub Service leads to the probe's port.
        for name, port, target in (("hub", 8081, 8888), ("proxy-api", 8001, 8001)):
            create("services", {"metadata": {"name": name}, "spec": {
                "ports": [{"port": port, "targetPort": target}], "selector": {"component": name}}})
        yield supervisor, cluster


def until(probe: Any, what: str, limit: float = 60.0) -> Any:
    deadline = time.monotonic() + limit
    while not (found := probe()):
        assert time.monotonic() < deadline, f"{what}: not within {limit:.0f} s"
        time.sleep(0.2)
    return found


def create_pod(cluster: Cluster, name: str, spec: dict[str, Any],
               labels: dict[str, str] | None = None) -> tuple[dict[str, Any], str]:
    """A Pod bound to the node, once kwok reports it Running with its IP on loopback."""
    api = cluster.api_client()
    kube_request(api, "POST", f"/api/v1/namespaces/{NAMESPACE}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
        "spec": {"nodeName": NODE, **spec}})
    path = f"/api/v1/namespaces/{NAMESPACE}/pods/{name}"
    pod = until(lambda: (found := kube_request(api, "GET", path)).get("status", {}).get("podIP") and found,
                f"pod {name} Running with an IP")
    return pod, pod["status"]["podIP"]


def get(url: str, **kwargs: Any) -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False
        return session.get(url, timeout=10, **kwargs)


def wait_for(url: str, limit: float = 90.0, **kwargs: Any) -> requests.Response:
    deadline = time.monotonic() + limit
    while True:
        try:
            return get(url, **kwargs)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.fixture(scope="module")
def hub_like(cluster: tuple[Supervisor, Cluster]) -> Iterator[tuple[RunningPod, dict[str, Any], dict[str, Any]]]:
    """A pod shaped like z2jh's hub pod (its volumes and env), whose container is the probe, and the proxy."""
    supervisor, api_cluster = cluster
    spec = {
        "serviceAccountName": "hub",
        "securityContext": {"fsGroup": 1000},
        "volumes": [{"name": "config", "configMap": {"name": "hub"}},
                    {"name": "secret", "secret": {"secretName": "hub"}},
                    {"name": "home", "emptyDir": {}}],
        "containers": [
            {"name": "probe", "image": SINGLEUSER, "command": ["python3", "-c", PROBE],
             "securityContext": {"runAsUser": 1000, "runAsGroup": 1000},
             "env": [{"name": "PYTHONUNBUFFERED", "value": "1"},
                     {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                     {"name": "CONFIGPROXY_AUTH_TOKEN", "valueFrom": {"secretKeyRef": {
                         "name": "hub", "key": "hub.config.ConfigurableHTTPProxy.auth_token"}}},
                     {"name": "HUB_URL", "value": "http://$(HUB_SERVICE_HOST):$(HUB_SERVICE_PORT)"}],
             "ports": [{"containerPort": 8888}],
             "volumeMounts": [
                 {"mountPath": "/usr/local/etc/jupyterhub/jupyterhub_config.py", "subPath": "jupyterhub_config.py",
                  "name": "config"},
                 {"mountPath": "/usr/local/etc/jupyterhub/z2jh.py", "subPath": "z2jh.py", "name": "config"},
                 {"mountPath": "/usr/local/etc/jupyterhub/config/", "name": "config"},
                 {"mountPath": "/usr/local/etc/jupyterhub/secret/", "name": "secret"},
                 {"mountPath": "/home/jovyan", "name": "home"}]},
            # Dossier's hub image: its Python, the chart's curl client through the images' trust.
            {"name": "hub", "image": HUB, "command": ["python3", "-c", HUB_PROBE],
             "securityContext": {"runAsUser": 1000, "runAsGroup": 1000}, "ports": [{"containerPort": 8090}]},
            # z2jh 2.0.0's proxy container: its command as the proxy Deployment gives it.
            {"name": "chp", "image": CHP,
             "command": ["configurable-http-proxy", "--ip=", "--api-ip=", "--api-port=8001",
                         "--default-target=http://hub:$(HUB_SERVICE_PORT)", "--port=8000"],
             "env": [{"name": "CONFIGPROXY_AUTH_TOKEN", "valueFrom": {"secretKeyRef": {
                 "name": "hub", "key": "hub.config.ConfigurableHTTPProxy.auth_token"}}}],
             "ports": [{"containerPort": 8000}, {"containerPort": 8001}],
             "securityContext": {"runAsUser": 65534, "runAsGroup": 65534}},
        ],
    }
    pod, ip = create_pod(api_cluster, "hub-like", spec, labels={"component": "hub"})
    runner = PodRunner(api_cluster, supervisor, trust=api_cluster.ca_cert)
    running = runner.start(NAMESPACE, "hub-like")
    runner.refresh()  # the pod is Running and Ready: the hub Service, whose selector picks it, leads to it
    wait_for(f"http://{ip}:8001/api/routes", headers={"Authorization": "token the-proxy-token"})
    report = wait_for(f"http://{ip}:8888/").json()
    report["hub"] = wait_for(f"http://{ip}:8090/").json()
    yield running, pod, report
    runner.stop(running)


def test_the_process_sees_exactly_the_kubelets_environment(
    cluster: tuple[Supervisor, Cluster], hub_like: tuple[RunningPod, dict[str, Any], dict[str, Any]]
) -> None:
    _, api_cluster = cluster
    _, _, report = hub_like
    api = api_cluster.api_client()
    hub_ip = kube_request(api, "GET", f"/api/v1/namespaces/{NAMESPACE}/services/hub")["spec"]["clusterIP"]
    api_ip = kube_request(api, "GET", f"/api/v1/namespaces/{NAMESPACE}/services/proxy-api")["spec"]["clusterIP"]
    master = urlsplit(api_cluster.url)
    services: dict[str, str] = {}
    for prefix, host, port, name in (("HUB", hub_ip, 8081, None), ("PROXY_API", api_ip, 8001, None),
                                     ("KUBERNETES", str(master.hostname), master.port, "HTTPS")):
        services |= {f"{prefix}_SERVICE_HOST": host, f"{prefix}_SERVICE_PORT": str(port),
                     f"{prefix}_PORT": f"tcp://{host}:{port}", f"{prefix}_PORT_{port}_TCP": f"tcp://{host}:{port}",
                     f"{prefix}_PORT_{port}_TCP_PROTO": "tcp", f"{prefix}_PORT_{port}_TCP_PORT": str(port),
                     f"{prefix}_PORT_{port}_TCP_ADDR": host}
        if name:
            services[f"{prefix}_SERVICE_PORT_{name}"] = str(port)
    programs = report["env"]["PATH"].split(":")[0]
    assert programs.endswith("/venv/bin") and "/pieces/singleuser-" in programs
    # Python adds LC_CTYPE itself when it coerces the C locale; the image's LANG keeps it from doing so.
    assert report["env"] == {
        "PATH": f"{programs}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive", "NB_USER": "jovyan", "NB_UID": "1000",
        "HOME": "/home/jovyan", "HOSTNAME": "hub-like",
        "PYTHONUNBUFFERED": "1", "POD_NAMESPACE": NAMESPACE, "CONFIGPROXY_AUTH_TOKEN": "the-proxy-token",
        "HUB_URL": f"http://{hub_ip}:8081", **services,
    }
    assert (report["uid"], report["gid"], report["groups"]) == (1000, 1000, [1000])
    assert (report["cwd"], report["hostname"], report["writable_home"]) == ("/home/jovyan", "hub-like", True)
    assert socket.gethostname() != "hub-like"  # the pod's UTS namespace only


def test_the_volumes_are_where_the_pod_mounts_them(
    hub_like: tuple[RunningPod, dict[str, Any], dict[str, Any]]
) -> None:
    _, _, report = hub_like
    # The files as a process lists them (the atomic writer's ..data and ..<time> folders aside, checked below).
    visible = {k: v for k, v in report["etc"].items() if not any(p.startswith("..") for p in k.split("/"))}
    assert visible == {
        "jupyterhub_config.py": "# the chart's config\n", "z2jh.py": "# the chart's helpers\n",
        "config": None, "config/jupyterhub_config.py": "# the chart's config\n",
        "config/z2jh.py": "# the chart's helpers\n", "config/values.yaml": "hub:\n  baseUrl: /\n",
        "secret": None, "secret/values.yaml": "hub:\n  db:\n    password: pw\n",
        "secret/hub.config.ConfigurableHTTPProxy.auth_token": "the-proxy-token",
    }
    assert report["secret_names"][0].startswith("..20")  # the atomic writer's folder
    assert report["secret_names"][1:] == ["..data", "hub.config.ConfigurableHTTPProxy.auth_token", "values.yaml"]
    # Nothing of it on the host.
    for path in ("/usr/local/etc/jupyterhub", "/home/jovyan", "/var/run/secrets/kubernetes.io", "/etc/pod-network"):
        assert not os.path.lexists(path), path
    assert not os.path.lexists("/etc/ld.so.preload")


def test_the_token_is_the_service_accounts_bound_to_the_pod(
    cluster: tuple[Supervisor, Cluster], hub_like: tuple[RunningPod, dict[str, Any], dict[str, Any]]
) -> None:
    _, api_cluster = cluster
    _, pod, report = hub_like
    assert report["sa_names"][0].startswith("..20")
    assert report["sa_names"][1:] == ["..data", "ca.crt", "namespace", "token"]
    assert report["sa"]["namespace"] == NAMESPACE
    assert report["sa"]["ca.crt"] == api_cluster.ca_cert.read_text()
    whoami = report["whoami"]
    assert whoami["username"] == f"system:serviceaccount:{NAMESPACE}:hub"
    assert set(whoami["groups"]) == {"system:serviceaccounts", f"system:serviceaccounts:{NAMESPACE}",
                                     "system:authenticated"}
    assert whoami["extra"]["authentication.kubernetes.io/pod-name"] == ["hub-like"]
    assert whoami["extra"]["authentication.kubernetes.io/pod-uid"] == [pod["metadata"]["uid"]]
    # Asked for 3607 s as the admission plugin's volume asks; the API server extends such a token
    # (--service-account-extend-token-expiration, on by default) and says when clients should have renewed it.
    claims = json.loads(base64.urlsafe_b64decode(report["token"].split(".")[1] + "=="))
    assert claims["kubernetes.io"]["warnafter"] - claims["iat"] == 3607
    assert claims["kubernetes.io"]["pod"] == {"name": "hub-like", "uid": pod["metadata"]["uid"]}


def test_the_process_listens_on_the_pod_ip_and_reaches_its_pod_on_localhost(
    hub_like: tuple[RunningPod, dict[str, Any], dict[str, Any]]
) -> None:
    running, _, report = hub_like
    assert report["listening"] == [running.ip, 8888]  # it asked for 0.0.0.0
    assert report["localhost_8001"] == running.ip  # localhost:8001 reached the pod's proxy, on the pod's IP
    # The real proxy, started with z2jh's flags (every address), answers on the pod's IP only.
    routes = wait_for(f"http://{running.ip}:8001/api/routes", headers={"Authorization": "token the-proxy-token"})
    assert routes.status_code == 200
    assert {path: route["target"] for path, route in routes.json().items()} == {"/": "http://hub:8081"}
    # Every socket the proxy listens on (it asked for every address, IPv6 included): the pod's IP only.
    chp = running.containers["chp"].pid
    listening = {line.split()[3] for line in os.popen("ss -Hltnp").read().splitlines() if f"pid={chp}," in line}
    assert listening == {f"[::ffff:{running.ip}]:8000", f"[::ffff:{running.ip}]:8001"}


def test_services_resolve_and_route_and_the_images_trust_the_runs_ca(
    hub_like: tuple[RunningPod, dict[str, Any], dict[str, Any]]
) -> None:
    _, _, report = hub_like
    # The hub Service by its short and full names, through its cluster IP, to its endpoint (the probe itself).
    assert (report["via_name"], report["via_fqdn"]) == ("pong", "pong")
    # proxy-api selects no pod: its cluster IP refuses, as kube-proxy refuses a Service without endpoints.
    assert report["no_endpoint"] == "failed: <urlopen error [Errno 111] Connection refused>"
    # Python's default trust, and the chart's curl client in Dossier's hub image, accept the API server's
    # certificate, which the run's CA signed.
    assert json.loads(report["default_trust"])["gitVersion"] == "v1.35.4"
    hub = report["hub"]
    assert (hub.get("status"), hub.get("version"), hub["client"]) == (200, "v1.35.4", "CurlAsyncHTTPClient"), hub
    assert "/pieces/dossier-hub-" in hub["prefix"]


def test_stopping_the_pod_ends_its_processes_and_the_token_with_the_pod(
    cluster: tuple[Supervisor, Cluster], hub_like: tuple[RunningPod, dict[str, Any], dict[str, Any]]
) -> None:
    supervisor, api_cluster = cluster
    running, _, report = hub_like
    PodRunner(api_cluster, supervisor).stop(running)
    for process in running.containers.values():
        assert not process.alive()
    with pytest.raises(requests.ConnectionError):
        get(f"http://{running.ip}:8888/")
    api = api_cluster.api_client()
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": report["token"]}}
    assert kube_request(api, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", review)["status"]["authenticated"]
    client.CoreV1Api(api).delete_namespaced_pod("hub-like", NAMESPACE, grace_period_seconds=0)
    deadline = time.monotonic() + 30
    while kube_request(api, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", review)["status"].get(
            "authenticated"):
        assert time.monotonic() < deadline, "the pod's token still authenticates after the pod is gone"
        time.sleep(0.5)


@pytest.fixture
def hub_api() -> Iterator[str]:
    """The two calls a single-user server makes to its hub on its own (version check, activity), answered.

    The real hub runs in the end-to-end stack; here only the server's start is under test.
    """
    class Handler(http.server.BaseHTTPRequestHandler):
        def reply(self) -> None:
            body = b'{"version": "3.1.1"}'
            self.send_response(200)
            self.send_header("X-JupyterHub-Version", "3.1.1")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = reply  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hub/api"
    server.shutdown()
    server.server_close()


def test_a_notebook_pod_runs_the_real_single_user_server(cluster: tuple[Supervisor, Cluster], hub_api: str) -> None:
    supervisor, api_cluster = cluster
    env = {  # what KubeSpawner 4.3.0 gives a server (JupyterHub 3.1.1's Spawner.get_env), Dossier's app
        "JUPYTERHUB_API_TOKEN": "a-token", "JUPYTERHUB_CLIENT_ID": "jupyterhub-user-alice",
        "JUPYTERHUB_API_URL": hub_api, "JUPYTERHUB_ACTIVITY_URL": f"{hub_api}/users/alice/activity",
        "JUPYTERHUB_USER": "alice",
        "JUPYTERHUB_SERVER_NAME": "", "JUPYTERHUB_BASE_URL": "/", "JUPYTERHUB_SERVICE_PREFIX": "/user/alice/",
        "JUPYTERHUB_SERVICE_URL": "http://0.0.0.0:8888/user/alice/",
        "JUPYTERHUB_OAUTH_CALLBACK_URL": "/user/alice/oauth_callback", "JUPYTERHUB_OAUTH_SCOPES": "[]",
        "JUPYTERHUB_OAUTH_ACCESS_SCOPES": "[]", "JUPYTERHUB_HOST": "",
        "JUPYTERHUB_SINGLEUSER_APP": "notebook.notebookapp.NotebookApp",
    }
    spec = {"automountServiceAccountToken": False, "securityContext": {"fsGroup": 100, "runAsUser": 1000},
            "volumes": [{"name": "home", "emptyDir": {}}],
            "containers": [{"name": "notebook", "image": SINGLEUSER, "args": ["jupyterhub-singleuser"],
                            "env": [{"name": k, "value": v} for k, v in env.items()],
                            "ports": [{"name": "notebook-port", "containerPort": 8888}],
                            "volumeMounts": [{"name": "home", "mountPath": "/home/jovyan"}]}]}
    _, ip = create_pod(api_cluster, "jupyter-alice", spec)
    runner = PodRunner(api_cluster, supervisor)
    running = runner.start(NAMESPACE, "jupyter-alice")
    try:
        answer = wait_for(f"http://{ip}:8888/user/alice/api")
        assert answer.status_code == 200, answer.text
        assert answer.json()["version"] == "6.4.12"  # the classic Notebook server of the singleuser image
        log = running.containers["notebook"].log.read_text()
        assert f"http://{ip}:8888/user/alice/" in log or "8888/user/alice/" in log
    finally:
        runner.stop(running)


def test_a_pod_that_cannot_run_here_is_named(cluster: tuple[Supervisor, Cluster]) -> None:
    supervisor, api_cluster = cluster
    runner = PodRunner(api_cluster, supervisor)
    create_pod(api_cluster, "unknown-image", {"containers": [{"name": "x", "image": "busybox:1.36"}],
                                              "automountServiceAccountToken": False})
    with pytest.raises(PodError, match=r"image busybox:1\.36 .* has no toolchain piece to run it"):
        runner.start(NAMESPACE, "unknown-image")
    create_pod(api_cluster, "missing-secret", {
        "serviceAccountName": "hub",
        "containers": [{"name": "x", "image": SINGLEUSER, "env": [
            {"name": "A", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]}],
        "volumes": [{"name": "v", "configMap": {"name": "absent"}}]})
    with pytest.raises(PodError, match=r'pod jhub/missing-secret: volume v: configmap "absent" not found'):
        runner.start(NAMESPACE, "missing-secret")
    kube_request(api_cluster.api_client(), "POST", f"/api/v1/namespaces/{NAMESPACE}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pending"},
        # No node has that name: the scheduler leaves it Pending (any other pod it binds at once).
        "spec": {"containers": [{"name": "x", "image": SINGLEUSER}],
                 "nodeSelector": {"kubernetes.io/hostname": "no-such-node"}}})
    with pytest.raises(PodError, match="pod jhub/pending is not bound to a node"):
        runner.start(NAMESPACE, "pending")
    assert not list(Path(supervisor.run_dir, "pods").glob("*_pending_*"))
