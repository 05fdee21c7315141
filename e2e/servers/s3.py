"""An S3-compatible object store on https://127.0.0.1:<port>: the state backend a team shares.

``start_object_store(supervisor, ca)`` runs the ``versitygw`` piece (versitygw,
an S3 gateway over a POSIX folder, built from its Go module) as
``versitygw --port 127.0.0.1:<port> --cert --key --access --secret --region
--health /health --access-log <run>/s3/access.log posix <run>/s3/data``: one root
account with a random key, TLS with a certificate from the run's CA, its data in
the run's folder, every S3 request written to the access log. Ready when its
health path answers; then the state bucket is created through the S3 API
(SigV4-signed requests, ``requests-aws4auth``), as a team's administrator creates it.

``ObjectStore.backend_url()`` is what an operator passes to ``pulumi login``
(``s3://<bucket>?endpoint=https://127.0.0.1:<port>&use_path_style=true&region=...``),
``ObjectStore.env()`` the credentials and CA bundle the CLI reads from the
environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_CA_BUNDLE``).
``keys(prefix)`` lists the bucket through the S3 API; ``bucket_dir`` is the
bucket's folder on the gateway (each object a file under its key), which the
fault rig reads to time its injections as it reads a ``file://`` backend.
``mark()`` and ``accesses(since)`` read the access log: the requests made since a
mark, each as its S3 operation and object key (what a command read and wrote).
"""

from __future__ import annotations

import re
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import requests
from requests_aws4auth import AWS4Auth

from e2e.servers.certs import CertificateAuthority
from e2e.servers.supervisor import HOST, Process, Supervisor, claim_port, tool

S3_LIMIT = 60.0
REGION = "us-east-1"
BUCKET = "dossier-state"
HEALTH = "/health"
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
#: A line of versitygw's access log (``s3log/file.go``): owner, bucket, [time], remote IP, requester,
#: request id, operation (``s3_GetObject``, ...), key (``-`` for none), request URI, HTTP status, ...
_ACCESS = re.compile(r"^\S+ (?P<bucket>\S+) \[[^\]]*\] \S+ \S+ \S+ s3_(?P<operation>\S+) (?P<key>\S+) "
                     r"(?P<uri>\S+) (?P<status>\d+) ")


@dataclass(frozen=True)
class Access:
    """One request the gateway served: ``GetObject .pulumi/meta.yaml`` (the key ``""`` for a bucket request)."""

    operation: str
    key: str
    uri: str
    status: int


@dataclass
class ObjectStore:
    """A running versitygw: endpoint, root credentials, the state bucket."""

    endpoint: str
    """``https://127.0.0.1:<port>``"""
    port: int
    access_key: str
    secret_key: str
    bucket: str
    ca_cert: Path
    root: Path
    process: Process
    seconds: float
    access_log: Path

    @property
    def bucket_dir(self) -> Path:
        """The bucket's folder on the POSIX gateway: the object ``a/b.json`` is the file ``a/b.json`` in it."""
        return self.root / self.bucket

    def backend_url(self, bucket: str | None = None) -> str:
        """The ``pulumi login`` URL of the bucket (path-style: the endpoint is an address, not a DNS name)."""
        query = urlencode({"endpoint": self.endpoint, "use_path_style": "true", "region": REGION}, safe=":/")
        return f"s3://{bucket or self.bucket}?{query}"

    def env(self) -> dict[str, str]:
        """What the CLI reads from the environment to reach the bucket."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_CA_BUNDLE": str(self.ca_cert), "AWS_REGION": REGION}

    def request(self, method: str, path: str, **params: str) -> requests.Response:
        """One signed S3 request (path-style), raising on an error status with the server's answer."""
        auth = AWS4Auth(self.access_key, self.secret_key, REGION, "s3")
        response = requests.request(method, f"{self.endpoint}/{path}", params=params or None, auth=auth,
                                    verify=str(self.ca_cert), timeout=30)
        if response.status_code >= 300:
            raise requests.HTTPError(f"S3 {method} /{path}: {response.status_code} {response.text[:300]}",
                                     response=response)
        return response

    def mark(self) -> int:
        """Where the access log ends now: ``accesses(mark)`` gives the requests made after this call."""
        return self.access_log.stat().st_size if self.access_log.exists() else 0

    def accesses(self, since: int = 0) -> list[Access]:
        """The requests logged since ``since`` (a ``mark()``), in order; a line not of the log's form fails."""
        with self.access_log.open("rb") as log:
            log.seek(since)
            lines = log.read().decode().splitlines()
        found = []
        for line in lines:
            match = _ACCESS.match(line)
            assert match, f"not a versitygw access log line: {line!r}"
            key = match["key"]
            found.append(Access(match["operation"], "" if key == "-" else key, match["uri"], int(match["status"])))
        return found

    def create_bucket(self, name: str) -> None:
        self.request("PUT", name)

    def keys(self, prefix: str = "") -> list[str]:
        """Every key of the bucket under ``prefix``, through the S3 API (ListObjectsV2, every page)."""
        found: list[str] = []
        token: dict[str, str] = {}
        while True:
            page = ET.fromstring(self.request("GET", self.bucket, **{"list-type": "2", "prefix": prefix}, **token)
                                 .content)
            found += [item.findtext(f"{S3_NS}Key") or "" for item in page.iter(f"{S3_NS}Contents")]
            following = page.findtext(f"{S3_NS}NextContinuationToken")
            if page.findtext(f"{S3_NS}IsTruncated") != "true" or not following:
                return sorted(found)
            token = {"continuation-token": following}


def start_object_store(supervisor: Supervisor, ca: CertificateAuthority, *, port: int | None = None,
                       bucket: str = BUCKET, limit: float = S3_LIMIT) -> ObjectStore:
    """The S3 gateway over https on 127.0.0.1, with the state bucket (see the module doc)."""
    program = tool("versitygw", "versitygw")
    https_port = claim_port(port, "the S3 gateway")
    root = supervisor.path("s3", "data")
    serving = ca.issue("s3")
    access, secret = f"e2e{secrets.token_hex(6)}", secrets.token_urlsafe(24)
    access_log = supervisor.path("s3") / "access.log"
    process = supervisor.start("versitygw", [
        program, "--port", f"{HOST}:{https_port}", "--cert", serving.cert_path, "--key", serving.key_path,
        "--access", access, "--secret", secret, "--region", REGION, "--health", HEALTH, "--quiet",
        "--access-log", access_log, "posix", root,
    ], cwd=supervisor.path("s3"))
    endpoint = f"https://{HOST}:{https_port}"

    def ready() -> bool:
        return requests.get(f"{endpoint}{HEALTH}", verify=str(ca.cert_path), timeout=5).status_code == 200

    seconds = supervisor.wait_until(process, ready, limit=limit, what=f"answering {HEALTH} over https")
    store = ObjectStore(endpoint, https_port, access, secret, bucket, ca.cert_path, root, process, seconds,
                        access_log)
    store.create_bucket(bucket)
    return store
