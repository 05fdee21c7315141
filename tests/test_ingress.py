"""TLS ingress: Certificate, HTTPProxy and their cross-links to the hub."""

from __future__ import annotations

import pytest

from offline import validate
from offline.engine import RunResult, reveal

CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"
HTTPPROXY = "kubernetes:projectcontour.io/v1:HTTPProxy"


def test_certificate(dev: RunResult) -> None:
    cert = reveal(dev.one(CERTIFICATE).inputs)
    assert cert["metadata"] == {"name": "notebooks.lab-staging.test-tls", "namespace": "jhub"}
    assert cert["spec"] == {
        "secretName": "notebooks.lab-staging.test-tls",
        "dnsNames": ["notebooks.lab-staging.test"],
        "issuerRef": {"name": "letsencrypt-cluster-issuer", "kind": "ClusterIssuer", "group": "cert-manager.io"},
    }


def test_httpproxy_serves_the_certificate_secret_and_routes_to_the_hub(dev: RunResult) -> None:
    cert = reveal(dev.one(CERTIFICATE).inputs)
    proxy = reveal(dev.one(HTTPPROXY).inputs)
    assert proxy["metadata"]["namespace"] == "jhub"
    assert proxy["spec"]["virtualhost"] == {
        "fqdn": "notebooks.lab-staging.test",
        "tls": {"secretName": cert["spec"]["secretName"]},
    }
    [route] = proxy["spec"]["routes"]
    assert route["conditions"] == [{"prefix": "/"}]
    assert route["enableWebsockets"] is True
    assert route["timeoutPolicy"] == {"response": "650s", "idle": "1h"}
    # The JupyterHub chart's public proxy service, from the JupyterHub component.
    assert route["services"] == [{"name": "proxy-public", "port": 80}]
    hub = reveal(dev.one("kubernetes:helm.sh/v3:Release", "jupyterhub-release").inputs)
    assert hub["namespace"] == proxy["metadata"]["namespace"]
    assert dev.one(CERTIFICATE).urn in dev.one(HTTPPROXY).dependencies


def test_timeouts_and_issuer_are_configurable(run_program) -> None:
    result = run_program(ingress={"clusterIssuer": "internal-ca", "responseTimeout": "1h", "idleTimeout": "infinity"})
    proxy = reveal(result.one(HTTPPROXY).inputs)
    assert proxy["spec"]["routes"][0]["timeoutPolicy"] == {"response": "1h", "idle": "infinity"}
    assert reveal(result.one(CERTIFICATE).inputs)["spec"]["issuerRef"]["name"] == "internal-ca"


@pytest.mark.usefixtures("upstream")
def test_certificate_and_httpproxy_validate_against_their_crds(dev: RunResult) -> None:
    assert validate.validate_custom_resource(reveal(dev.one(CERTIFICATE).inputs)) == []
    assert validate.validate_custom_resource(reveal(dev.one(HTTPPROXY).inputs)) == []


@pytest.mark.usefixtures("upstream")
def test_a_misspelt_httpproxy_field_is_an_error(dev: RunResult) -> None:
    proxy = reveal(dev.one(HTTPPROXY).inputs)
    route = proxy["spec"]["routes"][0]
    route["enableWebsocket"] = route.pop("enableWebsockets")
    problems = validate.validate_custom_resource(proxy)
    assert any("enableWebsocket" in p for p in problems), problems
