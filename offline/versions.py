"""The versions a stack's cluster and the machine that deploys it need: one table, generated from the pins.

``python -m offline.versions`` prints the table of docs/operations.md, "Prerequisites";
``--update-docs`` rewrites it between that page's versions-table markers (nothing else).
``tests/test_versions.py`` fails when the page drifts from what this writes. Every fact is
read from where it is pinned, so none is typed twice:

- Kubernetes: the versions ``make plan --kubernetes-version`` accepts, which are those
  kubernetes-validate (pinned in requirements.txt) has schemas for, and the plan's default;
- Capsule, cert-manager, Contour: the apiVersion and kind the stack creates, and the
  release its pinned CRD schema is of (``crds`` of ``pins.yaml``);
- the Pulumi CLI: the minimum ``Pulumi.yaml``'s declarations need
  (``offline.config_doc.MIN_PULUMI_CLI``) and the one the workflows install;
- the Pulumi SDK and the providers: their pins in requirements.txt;
- what ``make e2e`` runs: the pieces under ``e2e/toolchain/`` (a module's version in a
  piece's ``go.mod``, a version its ``build`` script sets). Every piece is either read here
  or named in ``NOT_PREREQUISITES`` with why, so a new piece cannot go unmentioned.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from offline import pins, plan, validate
from offline.config_doc import MIN_PULUMI_CLI
from offline.engine import ROOT

PAGE = ROOT / "docs" / "operations.md"
START = "<!-- versions-table:start -->"
END = "<!-- versions-table:end -->"
TOOLCHAIN = ROOT / "e2e" / "toolchain"
WORKFLOWS = ROOT / ".github" / "workflows"
REQUIREMENTS = ROOT / "requirements.txt"

#: Pieces of the e2e toolchain that are no prerequisite of a user's: what runs them in a real deployment.
NOT_PREREQUISITES = {
    "chp": "the hub's proxy, which the z2jh chart runs",
    "postgresql": "PostgreSQL, which the bitnami/postgresql chart runs",
    "etcd": "the API server's store, part of any cluster",
    "dossier-hub": "Dossier's hub, which its image runs in the z2jh chart's hub pod",
    "singleuser": "the single-user notebook server, which the singleuser image runs",
    "pod-net": "the e2e's stand-in for a pod network, for pods run as host processes",
    "versitygw": "the S3-compatible store of the shared-backend e2e; a team's backend is its own store",
    "kubectl": "the operator's client for the day-2 runbooks (one the cluster's version supports); the program "
               "does not use it",
}
#: Where each prerequisite's project lives (the table links its name).
HOMES = {
    "Capsule": "https://github.com/projectcapsule/capsule",
    "cert-manager": "https://cert-manager.io",
    "Contour": "https://projectcontour.io",
    "Keycloak": "https://www.keycloak.org",
    "Pulumi CLI": "https://www.pulumi.com/docs/install/",
}


class VersionSourceError(Exception):
    """A pin the table reads is not where it should be; the message names the file and what was expected."""


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise VersionSourceError(f"{_shown(path)}: cannot read it ({exc}); offline/versions.py reads it") from None


def _one(pattern: str, path: Path, what: str) -> str:
    found = sorted(set(re.findall(pattern, _read(path), flags=re.MULTILINE)))
    if len(found) != 1:
        raise VersionSourceError(f"{_shown(path)}: expected one {what}, found {found or 'none'} "
                                 "(offline/versions.py reads it for the versions table)")
    return str(found[0])


def requirement(package: str) -> str:
    """The version requirements.txt pins ``package`` to."""
    return _one(rf"^{re.escape(package)}==(\S+)", REQUIREMENTS, f"pin of {package}")


def go_module(piece: str, module: str) -> str:
    """The version of ``module`` that the piece's go.mod requires, without its ``v``."""
    return _one(rf"^(?:require\s+|\s+){re.escape(module)} v(\S+)", TOOLCHAIN / piece / "go.mod",
                f"version of {module}")


def build_setting(piece: str, variable: str) -> str:
    """A version the piece's build script sets (``variable=1.2.3``)."""
    return _one(rf"^{re.escape(variable)}=([\w.+-]+)", TOOLCHAIN / piece / "build", f"{variable}=")


def workflows_cli() -> str:
    """The Pulumi CLI both workflows install (``pulumi-version``); one version, or an error."""
    found = {version for path in sorted(WORKFLOWS.glob("*.yml"))
             for version in re.findall(r"^\s*pulumi-version:\s*(\S+)", _read(path), flags=re.MULTILINE)}
    if len(found) != 1:
        raise VersionSourceError(f".github/workflows: expected one pulumi-version, found {sorted(found) or 'none'}")
    return found.pop()


def kubernetes_versions() -> tuple[str, str]:
    """The oldest and newest Kubernetes minor ``make plan`` accepts."""
    supported = plan.supported_kubernetes_versions()
    return supported[0], supported[-1]


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


@dataclass(frozen=True)
class Row:
    what: str
    needs: str
    plan_checks: str
    e2e_runs: str
    #: the toolchain pieces the row reads
    pieces: tuple[str, ...] = ()


def _name(what: str) -> str:
    return f"[{what}]({HOMES[what]})" if what in HOMES else what


def rows() -> list[Row]:
    """The table's rows, read from the pins (see the module doc)."""
    oldest, newest = kubernetes_versions()
    table = [Row(
        "Kubernetes",
        f"{oldest} to {newest} (what `make plan` can check)",
        f"kubernetes-validate {requirement('kubernetes-validate')}'s schemas of the version given "
        f"(`KUBERNETES_VERSION`, default {_minor(validate.DEFAULT_KUBERNETES_VERSION)})",
        f"kube-apiserver, kube-controller-manager and kube-scheduler "
        f"{go_module('kube-control-plane', 'k8s.io/kubernetes')}; kwok {go_module('kwok', 'sigs.k8s.io/kwok')}'s "
        "nodes and pods",
        ("kube-control-plane", "kwok"),
    )]
    for crd in pins.current().crds.values():
        project = crd.release.rsplit(" ", 1)[0] if crd.release else crd.crd.split(".", 1)[1]
        runs: str = "that schema as a CRD, no controller"
        read: tuple[str, ...] = ()
        if project == "Capsule":  # the real operator (e2e/toolchain/capsule), its version the tag its build pins
            tag = re.search(r"^tag=(\S+)$", (TOOLCHAIN / "capsule" / "build").read_text(), re.M)
            version = tag.group(1).lstrip("v") if tag else "?"
            runs, read = f"Capsule {version}, its chart's CRDs and webhooks", ("capsule",)
        table.append(Row(
            project,
            f"serving {crd.kind} `{crd.api_version}`",
            f"{crd.release}'s {crd.kind} schema" if crd.release else f"the pinned {crd.kind} schema",
            runs,
            read,
        ))
    cli, e2e_cli = workflows_cli(), go_module("pulumi", "github.com/pulumi/pulumi/pkg/v3")
    # The published CLI brings the Python language host of its own release; the e2e's is older (docs/e2e.md).
    host = go_module("language-python", "github.com/pulumi/pulumi/sdk/v3")
    table += [
        Row("Keycloak", "a realm: the program creates the hub's client, its roles and mapper in it", "—",
            f"Keycloak {build_setting('keycloak-server', 'version')}", ("keycloak-server",)),
        Row("Pulumi CLI", f"{MIN_PULUMI_CLI} or newer", "— (no CLI needed)",
            (f"{e2e_cli}, which the workflows install too" if e2e_cli == cli else
             f"{e2e_cli}; the workflows install {cli}") + f", with the Python language host of {host}, a local build",
            ("pulumi", "language-python")),
        Row("Pulumi SDK", f"`pulumi` {requirement('pulumi')} (requirements.txt)", "runs the program with it",
            "the same"),
        Row("kubernetes provider", f"`pulumi-kubernetes` {requirement('pulumi-kubernetes')}: the CLI installs "
            "that plugin", "the SDK, no plugin", f"plugin {build_setting('kubernetes', 'release')}, a local build",
            ("kubernetes",)),
        Row("keycloak provider", f"`pulumi-keycloak` {requirement('pulumi-keycloak')}: the CLI installs that plugin",
            "the SDK, no plugin", f"a bridge build of ours reporting {build_setting('keycloak', 'sdk_version')}",
            ("keycloak",)),
        Row("random provider", f"`pulumi-random` {requirement('pulumi-random')}: the CLI installs that plugin",
            "the SDK, no plugin", f"a bridge build of ours reporting {build_setting('random', 'sdk_version')}",
            ("random",)),
    ]
    return table


def unaccounted_pieces(table: list[Row] | None = None) -> list[str]:
    """Toolchain pieces that neither a row reads nor ``NOT_PREREQUISITES`` explains."""
    read = {piece for row in (table or rows()) for piece in row.pieces}
    present = sorted(p.name for p in TOOLCHAIN.iterdir() if (p / "build").is_file())
    return [name for name in present if name not in read and name not in NOT_PREREQUISITES]


def markdown_table() -> str:
    lines = ["| what | this program needs | `make plan` checks against | `make e2e` runs |", "|---|---|---|---|"]
    lines += [f"| {_name(r.what)} | {r.needs} | {r.plan_checks} | {r.e2e_runs} |" for r in rows()]
    return "\n".join(lines)


def update_table(text: str) -> str:
    """``text`` (a Markdown page) with the table between the versions-table markers regenerated."""
    start, end = text.index(START) + len(START), text.index(END)
    return f"{text[:start]}\n{markdown_table()}\n{text[end:]}"


def main(argv: list[str]) -> int:
    try:
        if argv[1:] == ["--update-docs"]:
            PAGE.write_text(update_table(PAGE.read_text()))
            return 0
        if argv[1:]:
            sys.stderr.write("usage: python -m offline.versions [--update-docs]\n")
            return 2
        print(markdown_table())
    except (VersionSourceError, pins.PinsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
