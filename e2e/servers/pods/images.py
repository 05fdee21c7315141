"""The container images a pod of the e2e can run, each as a toolchain piece run on the host.

A container runtime starts an image's ``ENTRYPOINT`` and ``CMD`` (replaced by the container's
``command`` and ``args``) with the image's ``ENV`` under the image's ``USER`` in its ``WORKDIR``.
Here an image is a toolchain piece: its programs come first on the image's ``PATH``, and the
rest of what the image's configuration says is written below, read from the image's Dockerfiles
at the pinned versions. Left out: the base images' ``PYTHON_*``, ``NODE_*``, ``YARN_*`` and
``GPG_KEY`` variables, which describe interpreters the pieces do not use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Debian's and the python/node base images' PATH after the piece's programs.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class UnknownImageError(LookupError):
    """An image no toolchain piece stands for (the message names it and the images known)."""


@dataclass(frozen=True)
class Image:
    """What a runtime takes from an image's configuration, with the piece that holds its programs."""

    repository: str
    tag: str
    piece: str
    #: The piece's folder whose programs come first on PATH (relative to the piece's home).
    programs: str
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    user: int = 0
    group: int = 0
    home: str = "/root"
    workdir: str = "/"
    #: Where the image's TLS clients read the certificates they trust (a runner's ``trust`` goes there too).
    ca_files: tuple[str, ...] = ("/etc/ssl/certs/ca-certificates.crt",)

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"


# The images' ENTRYPOINT is `tini --`, an init that forwards signals to its one child and reaps
# orphans. A process here is the leader of a process group of its own, which the supervisor
# signals and reaps as a whole, so the entrypoint is left out: the command runs as tini would run it.
IMAGES: tuple[Image, ...] = (
    # Dossier's Dockerfile: FROM jupyterhub/k8s-hub:2.0.0, Dossier installed over it; CMD its own.
    # k8s-hub (python:3.9-slim-bullseye): ENV DEBIAN_FRONTEND, user jovyan (1000), WORKDIR /srv/jupyterhub.
    Image("docker.io/alphaunito/dossier", "0.0.1-alpha", piece="dossier-hub", programs="venv/bin",
          entrypoint=(), cmd=("dossier", "--config", "/usr/local/etc/jupyterhub/jupyterhub_config.py"),
          env={"LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"},
          user=1000, group=1000, home="/home/jovyan", workdir="/srv/jupyterhub",
          # Debian's bundle (Python's ssl), and the one the libcurl bundled in pycurl's wheel reads.
          ca_files=("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")),
    # jupyterhub/configurable-http-proxy 4.5.3 (node:lts-alpine3.16): user 65534, WORKDIR
    # /srv/configurable-http-proxy, ENTRYPOINT its chp-docker-entrypoint script, which the piece does
    # not hold: z2jh's proxy Deployment gives the container's command, which replaces it.
    Image("docker.io/jupyterhub/configurable-http-proxy", "4.5.3", piece="chp", programs="bin",
          entrypoint=("/srv/configurable-http-proxy/chp-docker-entrypoint",), cmd=(), env={},
          user=65534, group=65534, home="/", workdir="/srv/configurable-http-proxy",
          ca_files=("/etc/ssl/certs/ca-certificates.crt",)),
    # jupyterhub/k8s-singleuser-sample 2.0.0 (python:3.9-slim-bullseye): ENV NB_USER, NB_UID, HOME,
    # user jovyan (1000), WORKDIR $HOME, CMD `jupyter lab` (the chart's singleuser.cmd replaces it).
    Image("docker.io/jupyterhub/k8s-singleuser-sample", "2.0.0", piece="singleuser", programs="venv/bin",
          entrypoint=(), cmd=("jupyter", "lab"),
          env={"LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive", "NB_USER": "jovyan", "NB_UID": "1000",
               "HOME": "/home/jovyan"},
          user=1000, group=1000, home="/home/jovyan", workdir="/home/jovyan"),
)


def normalize(reference: str) -> tuple[str, str]:
    """(repository with its registry, tag) of an image reference, as a runtime resolves a short name."""
    name, _, digest = reference.partition("@")
    if digest:
        raise UnknownImageError(f"image {reference}: pinned by digest; the e2e images are known by tag")
    slash, colon = name.rfind("/"), name.rfind(":")
    repository, tag = (name[:colon], name[colon + 1:]) if colon > slash else (name, "latest")
    first = repository.split("/", 1)[0]
    if "/" not in repository:
        repository = f"docker.io/library/{repository}"
    elif "." not in first and ":" not in first and first != "localhost":
        repository = f"docker.io/{repository}"
    return repository, tag


def image_for(reference: str, images: tuple[Image, ...] = IMAGES) -> Image:
    """The image a reference names; ``UnknownImageError`` naming it and those known otherwise."""
    repository, tag = normalize(reference)
    for image in images:
        if (image.repository, image.tag) == (repository, tag):
            return image
    known = ", ".join(image.reference for image in images)
    raise UnknownImageError(f"image {reference} ({repository}:{tag}) has no toolchain piece to run it; "
                            f"the e2e runs: {known}")
