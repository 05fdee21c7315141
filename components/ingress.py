"""TLS ingress of the hub: a cert-manager Certificate and a Contour HTTPProxy.

The Certificate (``dnsNames: [fqdn]``, issued by a ClusterIssuer) writes the
secret ``<fqdn>-tls``; the HTTPProxy serves that secret for the hub's fqdn and
routes ``/`` to the JupyterHub chart's ``proxy-public`` service with websockets
and long timeouts (idle kernels). Assumes cert-manager with the ClusterIssuer
and Contour are installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs

from components.common import child


@dataclass(frozen=True, kw_only=True)
class HubIngressArgs:
    namespace: pulumi.Input[str]
    fqdn: str
    cluster_issuer: str
    service_name: str
    service_port: int
    response_timeout: str = "650s"
    idle_timeout: str = "1h"


def tls_secret_name(fqdn: str) -> str:
    return f"{fqdn}-tls"


def certificate_spec(args: HubIngressArgs) -> dict[str, Any]:
    return {
        "secretName": tls_secret_name(args.fqdn),
        "dnsNames": [args.fqdn],
        "issuerRef": {"name": args.cluster_issuer, "kind": "ClusterIssuer", "group": "cert-manager.io"},
    }


def httpproxy_spec(args: HubIngressArgs, secret_name: str) -> dict[str, Any]:
    return {
        "virtualhost": {"fqdn": args.fqdn, "tls": {"secretName": secret_name}},
        "routes": [
            {
                "conditions": [{"prefix": "/"}],
                "enableWebsockets": True,
                # Ref: projectcontour/contour#2578: without a route idle timeout, Envoy's
                # 5-minute stream idle timeout cuts idle kernel websockets.
                "timeoutPolicy": {"response": args.response_timeout, "idle": args.idle_timeout},
                "services": [{"name": args.service_name, "port": args.service_port}],
            }
        ],
    }


class HubIngress(pulumi.ComponentResource):
    """Certificate + HTTPProxy in front of the hub."""

    certificate: CustomResource
    http_proxy: CustomResource
    tls_secret: str

    def __init__(self, name: str, args: HubIngressArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dossier:ingress:HubIngress", name, None, opts)
        self.tls_secret = tls_secret_name(args.fqdn)
        self.certificate = CustomResource(
            f"{name}-certificate",
            api_version="cert-manager.io/v1",
            kind="Certificate",
            metadata=ObjectMetaArgs(name=self.tls_secret, namespace=args.namespace),
            spec=certificate_spec(args),
            opts=child(self),
        )
        # The proxy names the secret the Certificate writes, read back from the Certificate.
        secret_name = self.certificate.spec.apply(lambda spec: spec["secretName"])  # type: ignore[attr-defined]
        self.http_proxy = CustomResource(
            f"{name}-httpproxy",
            api_version="projectcontour.io/v1",
            kind="HTTPProxy",
            metadata=ObjectMetaArgs(name=args.fqdn, namespace=args.namespace),
            spec=httpproxy_spec(args, secret_name),
            opts=child(self),
        )
        self.register_outputs({"tlsSecret": self.tls_secret})
