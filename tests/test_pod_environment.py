"""A container's environment and command line as the kubelet makes them (e2e/servers/pods/environment.py).

The pods are shaped like those the stack's charts render: z2jh 2.0.0's hub Deployment (its env,
``hub.args``), its Services, a notebook pod. The expected values are the kubelet's documented rules.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from e2e.servers.pods import environment, images
from e2e.servers.pods.environment import ContainerConfigError, StaticObjects

MASTER = ("127.0.0.1", 41234)
HUB_IMAGE = images.image_for("docker.io/alphaunito/dossier:0.0.1-alpha")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def service(name: str, ip: str, *ports: tuple[str | None, int], namespace: str = "jhub") -> dict[str, Any]:
    return {"kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"clusterIP": ip, "ports": [{"name": n, "port": p, "protocol": "TCP"} if n else
                                                {"port": p, "protocol": "TCP"} for n, p in ports]}}


def objects(*extra: dict[str, Any]) -> StaticObjects:
    return StaticObjects([
        service("kubernetes", "10.96.0.1", ("https", 443), namespace="default"),
        service("hub", "10.96.10.1", (None, 8081)),
        service("proxy-api", "10.96.10.2", (None, 8001)),
        service("proxy-public", "10.96.10.3", ("http", 80)),
        service("headless", "None", (None, 5432)),
        service("elsewhere", "10.96.20.1", (None, 9000), namespace="other"),
        {"kind": "Secret", "metadata": {"name": "hub", "namespace": "jhub"},
         "data": {"hub.config.ConfigurableHTTPProxy.auth_token": b64("proxy-token"), "values.yaml": b64("a: 1\n")}},
        {"kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "jhub"},
         "data": {"MODE": "strict", "LEVEL": "3", "not valid!": "skipped"}},
        {"kind": "Node", "metadata": {"name": "core-0"},
         "status": {"allocatable": {"cpu": "4", "memory": "8Gi"}}},
        *extra,
    ])


def hub_pod() -> dict[str, Any]:
    """The hub pod as z2jh 2.0.0's Deployment renders it for the stack (hub.args set, release jupyterhub)."""
    return {
        "metadata": {"name": "hub-7f9c-abcde", "namespace": "jhub", "uid": "0b1c", "labels": {"component": "hub"}},
        "spec": {
            "nodeName": "core-0", "serviceAccountName": "hub",
            "containers": [{
                "name": "hub", "image": "docker.io/alphaunito/dossier:0.0.1-alpha",
                "args": ["dossier", "--config", "/usr/local/etc/jupyterhub/jupyterhub_config.py", "--upgrade-db"],
                "env": [
                    {"name": "PYTHONUNBUFFERED", "value": "1"},
                    {"name": "HELM_RELEASE_NAME", "value": "jupyterhub"},
                    {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                    {"name": "CONFIGPROXY_AUTH_TOKEN", "valueFrom": {"secretKeyRef": {
                        "name": "hub", "key": "hub.config.ConfigurableHTTPProxy.auth_token"}}},
                ],
                "ports": [{"name": "http", "containerPort": 8081}],
            }],
        },
        "status": {"podIP": "127.1.0.5", "hostIP": "127.0.0.1"},
    }


def variables(pod: dict[str, Any], objs: StaticObjects | None = None) -> dict[str, str]:
    return environment.container_variables(pod, pod["spec"]["containers"][0], objs or objects(), master=MASTER)


def test_the_hub_gets_the_charts_env_and_the_services_variables() -> None:
    env = variables(hub_pod())
    assert {k: env[k] for k in ("PYTHONUNBUFFERED", "HELM_RELEASE_NAME", "POD_NAMESPACE", "CONFIGPROXY_AUTH_TOKEN")} \
        == {"PYTHONUNBUFFERED": "1", "HELM_RELEASE_NAME": "jupyterhub", "POD_NAMESPACE": "jhub",
            "CONFIGPROXY_AUTH_TOKEN": "proxy-token"}
    # What z2jh's jupyterhub_config.py reads to find the proxy's API and the hub (get_name_env).
    assert env["PROXY_API_SERVICE_HOST"] == "10.96.10.2" and env["PROXY_API_SERVICE_PORT"] == "8001"
    assert env["HUB_SERVICE_HOST"] == "10.96.10.1" and env["HUB_SERVICE_PORT"] == "8081"
    assert {k: v for k, v in env.items() if k.startswith("PROXY_PUBLIC_")} == {
        "PROXY_PUBLIC_SERVICE_HOST": "10.96.10.3", "PROXY_PUBLIC_SERVICE_PORT": "80",
        "PROXY_PUBLIC_SERVICE_PORT_HTTP": "80", "PROXY_PUBLIC_PORT": "tcp://10.96.10.3:80",
        "PROXY_PUBLIC_PORT_80_TCP": "tcp://10.96.10.3:80", "PROXY_PUBLIC_PORT_80_TCP_PROTO": "tcp",
        "PROXY_PUBLIC_PORT_80_TCP_PORT": "80", "PROXY_PUBLIC_PORT_80_TCP_ADDR": "10.96.10.3",
    }
    # The kubernetes Service's variables name the API server itself (no proxy serves its cluster IP).
    assert {k: v for k, v in env.items() if k.startswith("KUBERNETES_")} == {
        "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "41234",
        "KUBERNETES_SERVICE_PORT_HTTPS": "41234", "KUBERNETES_PORT": "tcp://127.0.0.1:41234",
        "KUBERNETES_PORT_41234_TCP": "tcp://127.0.0.1:41234", "KUBERNETES_PORT_41234_TCP_PROTO": "tcp",
        "KUBERNETES_PORT_41234_TCP_PORT": "41234", "KUBERNETES_PORT_41234_TCP_ADDR": "127.0.0.1",
    }
    # No variables for a headless Service or a Service of another namespace; nothing else at all.
    prefixes = ("PYTHONUNBUFFERED", "HELM_", "POD_", "CONFIGPROXY_", "PROXY_API_", "PROXY_PUBLIC_", "HUB_",
                "KUBERNETES_")
    assert [k for k in env if not k.startswith(prefixes)] == []


def test_the_process_gets_the_image_env_under_the_kubelets() -> None:
    pod = hub_pod()
    pod["spec"]["containers"][0]["env"].append({"name": "LANG", "value": "en_US.UTF-8"})
    env = environment.process_environment(pod, HUB_IMAGE, "/cache/dossier-hub/venv/bin", variables(pod))
    assert env["PATH"] == "/cache/dossier-hub/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert (env["HOSTNAME"], env["HOME"], env["DEBIAN_FRONTEND"], env["LANG"]) == \
        ("hub-7f9c-abcde", "/home/jovyan", "noninteractive", "en_US.UTF-8")


def test_without_service_links_only_the_kubernetes_service_is_given() -> None:
    pod = hub_pod()
    pod["spec"]["enableServiceLinks"] = False
    env = variables(pod)
    assert not [k for k in env if k.startswith(("HUB_", "PROXY_"))]
    assert env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"


def test_env_from_then_env_in_order_and_references_expanded() -> None:
    pod = hub_pod()
    container = pod["spec"]["containers"][0]
    container["envFrom"] = [{"configMapRef": {"name": "settings"}, "prefix": "APP_"},
                            {"secretRef": {"name": "hub"}}]
    container["env"] = [
        {"name": "APP_MODE", "value": "lenient"},  # env wins over envFrom
        {"name": "URL", "value": "http://$(HUB_SERVICE_HOST):$(HUB_SERVICE_PORT)/$(APP_LEVEL)"},
        {"name": "LITERAL", "value": "$$(APP_MODE) $(UNKNOWN) $(LATER)"},
        {"name": "LATER", "value": "x"},
        {"name": "HUB_SERVICE_PORT", "value": "9999"},  # the container's own value wins over the Service's
    ]
    env = variables(pod)
    assert (env["APP_MODE"], env["APP_LEVEL"], env["URL"], env["LITERAL"]) == \
        ("lenient", "3", "http://10.96.10.1:8081/3", "$(APP_MODE) $(UNKNOWN) $(LATER)")
    assert env["HUB_SERVICE_PORT"] == "9999" and env["values.yaml"] == "a: 1\n"
    assert "APP_not valid!" not in env


def test_unresolvable_references_fail_naming_each() -> None:
    pod = hub_pod()
    container = pod["spec"]["containers"][0]
    container["envFrom"] = [{"configMapRef": {"name": "absent"}}, {"secretRef": {"name": "absent-ok",
                                                                                 "optional": True}}]
    container["env"] += [
        {"name": "A", "valueFrom": {"secretKeyRef": {"name": "hub", "key": "no-such-key"}}},
        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "nothing", "key": "k"}}},
        {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "nothing", "key": "k", "optional": True}}},
        {"name": "D", "valueFrom": {"fieldRef": {"fieldPath": "spec.containers"}}},
    ]
    with pytest.raises(ContainerConfigError) as error:
        variables(pod)
    assert str(error.value) == (
        'container hub of pod jhub/hub-7f9c-abcde: configmap "absent" not found (envFrom); '
        "couldn't find key no-such-key in Secret jhub/hub (env A); configmap \"nothing\" not found (env B); "
        "env D: fieldPath 'spec.containers' is not supported by the downward API")


def test_downward_fields_and_resources() -> None:
    pod = hub_pod()
    container = pod["spec"]["containers"][0]
    container["resources"] = {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"memory": "512Mi"}}
    container["env"] = [
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
        {"name": "COMPONENT", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['component']"}}},
        {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
        {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "requests.memory", "divisor": "1Mi"}}},
        {"name": "MEM_LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}},
    ]
    env = variables(pod)
    assert [env[k] for k in ("IP", "NODE", "SA", "COMPONENT", "CPU", "MEM_MI", "MEM_LIMIT")] == \
        ["127.1.0.5", "core-0", "hub", "hub", "1", "512", str(2**30)]
    del container["resources"]["limits"]  # no limit: the node's allocatable, as the kubelet defaults it
    env = variables(pod)
    assert (env["CPU"], env["MEM_LIMIT"]) == ("4", str(8 * 2**30))


def test_command_and_args_follow_the_runtimes_rule() -> None:
    pod = hub_pod()
    container = pod["spec"]["containers"][0]
    env = variables(pod)
    # The chart gives args only: the image's entrypoint (none here: tini is left out) then the args.
    assert environment.command_line(container, HUB_IMAGE, env) == [
        "dossier", "--config", "/usr/local/etc/jupyterhub/jupyterhub_config.py", "--upgrade-db"]
    bare = {"name": "hub"}
    assert environment.command_line(bare, HUB_IMAGE, env) == list(HUB_IMAGE.cmd)
    proxy = images.image_for("jupyterhub/configurable-http-proxy:4.5.3")
    assert environment.command_line({"name": "p", "args": ["--port=8000"]}, proxy, env) == \
        ["/srv/configurable-http-proxy/chp-docker-entrypoint", "--port=8000"]
    assert environment.command_line({"name": "p", "command": ["configurable-http-proxy"]}, proxy, env) == \
        ["configurable-http-proxy"]
    with_reference = {"name": "p", "command": ["chp", "--default-target=http://hub:$(HUB_SERVICE_PORT)", "$$(X)"]}
    assert environment.command_line(with_reference, proxy, env) == \
        ["chp", "--default-target=http://hub:8081", "$(X)"]


def test_static_objects_do_not_leak_between_pods() -> None:
    objs = objects()
    before = copy.deepcopy(objs.objects)
    variables(hub_pod(), objs)
    assert objs.objects == before


@pytest.mark.parametrize(("reference", "repository", "tag"), [
    ("alphaunito/dossier:0.0.1-alpha", "docker.io/alphaunito/dossier", "0.0.1-alpha"),
    ("docker.io/jupyterhub/k8s-singleuser-sample:2.0.0", "docker.io/jupyterhub/k8s-singleuser-sample", "2.0.0"),
    ("busybox", "docker.io/library/busybox", "latest"),
    ("quay.io/jupyterhub/k8s-hub:2.0.0", "quay.io/jupyterhub/k8s-hub", "2.0.0"),
    ("localhost:5000/x/y:1", "localhost:5000/x/y", "1"),
])
def test_image_references_are_resolved_as_a_runtime_resolves_them(reference: str, repository: str, tag: str) -> None:
    assert images.normalize(reference) == (repository, tag)


def test_an_image_without_a_piece_is_named_with_the_known_ones() -> None:
    assert images.image_for("jupyterhub/k8s-singleuser-sample:2.0.0").piece == "singleuser"
    with pytest.raises(images.UnknownImageError, match=r"image jupyterhub/k8s-singleuser-sample:3\.0\.0 "
                                                       r"\(docker\.io/jupyterhub/k8s-singleuser-sample:3\.0\.0\) "
                                                       r"has no toolchain piece to run it; the e2e runs: "
                                                       r"docker\.io/alphaunito/dossier:0\.0\.1-alpha, "):
        images.image_for("jupyterhub/k8s-singleuser-sample:3.0.0")
