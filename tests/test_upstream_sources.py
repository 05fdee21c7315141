"""Upstream sources of the toolchain pieces (e2e/upstream.py): pins in the piece, found as the schemas are.

The forge's archive of a commit differs in bytes from ``git archive`` of it (top folder, compression):
the ``tree`` pin must accept both and nothing else. Downloads are tested against a local server.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
from pathlib import Path

import pytest

from e2e import upstream
from offline import schemas
from offline.schemas import SchemaUnavailable, Sources

DOSSIER = "src/dossier-efd8873.tar.gz"
COMMIT = "efd887334cb214d8ba10cb056ae514524d8d8928"
ALLOW_UNCHECKED = os.environ.get("DOSSIER_ALLOW_UNCHECKED", "") not in ("", "0")


def archive(files: dict[str, tuple[bytes, int]], prefix: str, *, level: int = 9, mtime: int = 0,
            links: dict[str, str] | None = None) -> bytes:
    """A gzipped tar of ``files`` (path -> (content, mode)) under ``prefix/``, with its folder entries."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=level) as tar:
        folder = tarfile.TarInfo(prefix)
        folder.type, folder.mtime = tarfile.DIRTYPE, mtime
        tar.addfile(folder)
        for path, (content, mode) in files.items():
            info = tarfile.TarInfo(f"{prefix}/{path}")
            info.size, info.mode, info.mtime = len(content), mode, mtime
            tar.addfile(info, io.BytesIO(content))
        for path, target in (links or {}).items():
            info = tarfile.TarInfo(f"{prefix}/{path}")
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


def repacked(data: bytes, prefix: str) -> bytes:
    """``data``'s files under another top folder, in reverse order, compressed otherwise (as a forge serves them)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else b"") for m in tar]  # type: ignore[union-attr]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1, format=tarfile.PAX_FORMAT) as tar:
        for member, content in reversed(members):
            member.name = prefix + member.name[member.name.index("/"):] if "/" in member.name else prefix
            member.mtime = 1_700_000_000
            tar.addfile(member, io.BytesIO(content) if member.isfile() else None)
    return buffer.getvalue()


def pinned_archive(piece: str, name: str) -> Path:
    """A piece's pinned source archive from DOSSIER_UPSTREAM or the cache; strict unless DOSSIER_ALLOW_UNCHECKED."""
    try:
        return upstream.path(piece, name)
    except SchemaUnavailable as exc:
        if ALLOW_UNCHECKED:
            pytest.skip(str(exc))
        pytest.fail(f"{exc}\n" + "\n".join(schemas.how_to_provide(cluster=False)), pytrace=False)


@pytest.fixture
def dossier_archive() -> Path:
    """The pinned Dossier archive."""
    return pinned_archive("dossier-hub", DOSSIER)


def test_tree_digest_ignores_top_folder_order_and_compression_not_content() -> None:
    files = {"setup.py": (b"print(1)\n", 0o644), "bower-lite": (b"#!/bin/sh\n", 0o755), "a/b.txt": (b"b", 0o644)}
    first = archive(files, "dossier", links={"link": "a/b.txt"})
    assert schemas.tree_digest(first) == schemas.tree_digest(repacked(first, f"dossier-{COMMIT}"))
    assert first != repacked(first, "dossier")
    changed = [
        {**files, "a/b.txt": (b"c", 0o644)},  # content
        {**files, "setup.py": (b"print(1)\n", 0o755)},  # the executable bit
        {**files, "a/c.txt": (b"", 0o644)},  # one more file
        {k: v for k, v in files.items() if k != "a/b.txt"},  # one file less
    ]
    digests = {schemas.tree_digest(archive(f, "dossier", links={"link": "a/b.txt"})) for f in changed}
    digests.add(schemas.tree_digest(archive(files, "dossier", links={"link": "setup.py"})))  # a link's target
    assert len(digests) == 5 and schemas.tree_digest(first) not in digests
    # A mode change that is not the executable bit, or another mtime, changes nothing.
    assert schemas.tree_digest(archive({**files, "a/b.txt": (b"b", 0o600)}, "x", mtime=5, links={"link": "a/b.txt"})) \
        == schemas.tree_digest(first)


def test_the_pin_is_the_tree_digest_of_the_shared_copy(
    dossier_archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pin = upstream.piece_sources("dossier-hub")[DOSSIER]
    assert (pin.form, pin.url) == ("tree", f"https://github.com/alpha-unito/dossier/archive/{COMMIT}.tar.gz")
    assert schemas.main(["pin", str(dossier_archive)]) == 0
    assert capsys.readouterr().out.split()[0] == pin.sha256


def test_the_forge_archive_downloads_into_the_cache_once(
    dossier_archive: Path, tmp_path: Path, local_server, unreachable_url: str
) -> None:
    pin = upstream.piece_sources("dossier-hub")[DOSSIER]
    forge = repacked(dossier_archive.read_bytes(), f"dossier-{COMMIT}")
    route = "/" + pin.url.split("://", 1)[1]
    server = local_server({route: (200, forge)})
    sources = Sources(None, tmp_path / "cache", server.url)
    assert upstream.path("dossier-hub", DOSSIER, sources) == tmp_path / "cache" / DOSSIER
    assert (tmp_path / "cache" / DOSSIER).read_bytes() == forge
    assert [path for path, _ in server.requests] == [route]
    # A new process (new sources), the server gone: the cache answers.
    assert upstream.path("dossier-hub", DOSSIER, Sources(None, tmp_path / "cache", unreachable_url)).is_file()


def test_a_changed_source_is_refused_wherever_it_comes_from(
    dossier_archive: Path, tmp_path: Path, local_server
) -> None:
    pin = upstream.piece_sources("dossier-hub")[DOSSIER]
    with tarfile.open(dossier_archive, mode="r:gz") as tar:
        files = {m.name.split("/", 1)[1]: (tar.extractfile(m).read(), m.mode)  # type: ignore[union-attr]
                 for m in tar if m.isfile()}
    files["requirements.txt"] = (files["requirements.txt"][0].replace(b"jupyterhub==3.1.1", b"jupyterhub==4.0.0"),
                                 0o644)
    tampered = archive(files, "dossier")
    server = local_server({"/" + pin.url.split("://", 1)[1]: (200, tampered)})
    with pytest.raises(SchemaUnavailable, match=rf"{DOSSIER}: refused the download of {re.escape(server.url)}/\S+: "
                                                r"its content does not match the pin"):
        upstream.path("dossier-hub", DOSSIER, Sources(None, tmp_path / "cache", server.url))
    assert not (tmp_path / "cache" / DOSSIER).exists()
    directory = tmp_path / "upstream"
    (directory / "src").mkdir(parents=True)
    (directory / DOSSIER).write_bytes(tampered)
    with pytest.raises(SchemaUnavailable, match=rf"refused {directory / DOSSIER}: its content does not match"):
        upstream.path("dossier-hub", DOSSIER, Sources(directory, tmp_path / "cache", server.url))


def test_sources_files_are_read_strictly(tmp_path: Path) -> None:
    (tmp_path / "piece").mkdir()
    (tmp_path / "piece" / "sources").write_text("# comment\nsrc/x.tar.gz tree abc https://example.org/x\n")
    with pytest.raises(upstream.SourcesFileError, match=r"piece/sources:2: expected '<name> <tree\|bytes> <sha256> "
                                                        r"<url>', got 'src/x.tar.gz tree abc https://example.org/x'"):
        upstream.piece_sources("piece", tmp_path)
    assert upstream.piece_sources("no-such-piece", tmp_path) == {}
    with pytest.raises(SchemaUnavailable, match="not a source of piece dossier-hub"):
        upstream.path("dossier-hub", "src/other.tar.gz")


def test_every_source_a_build_asks_for_is_pinned_in_its_piece() -> None:
    asked = []
    for build in sorted(upstream.PIECES.glob("*/build")):
        for piece, name in re.findall(r"-m e2e\.upstream path (\S+) (\S+)\)", build.read_text()):
            assert piece == build.parent.name, f"{build} asks for another piece's source"
            assert name in upstream.piece_sources(piece), f"{build} asks for {name}, not in {piece}/sources"
            asked.append(name)
    assert {DOSSIER, HOST} <= set(asked)


def test_the_hub_lock_holds_dossiers_exact_pins(dossier_archive: Path) -> None:
    with tarfile.open(dossier_archive, mode="r:gz") as tar:
        member = tar.extractfile("dossier/requirements.txt")
        assert member is not None
        wanted = {line.split("==")[0].lower().replace("_", "-"): line.split("==")[1]
                  for line in member.read().decode().split() if "==" in line}
    lock = (upstream.PIECES / "dossier-hub" / "requirements.txt").read_text()
    locked = dict(re.findall(r"^([a-z0-9-]+)==(\S+)", lock, re.MULTILINE))
    assert {name: locked.get(name) for name in wanted} == wanted


# --- a pin of part of an archive: the Python language host -------------------------------------

HOST = "src/pulumi-language-python-v3.259.0.tar.gz"
HOST_PATHS = ("sdk/python/cmd/pulumi-language-python/", "sdk/python/cmd/pulumi-language-python-exec")


@pytest.fixture
def host_archive() -> Path:
    """The language host's pinned source archive."""
    return pinned_archive("language-python", HOST)


def _files(data: bytes) -> dict[str, tuple[bytes, int]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name.split("/", 1)[1]: (tar.extractfile(m).read(), m.mode)  # type: ignore[union-attr]
                for m in tar if m.isfile()}


def test_a_tree_pin_of_some_paths_covers_those_files_only() -> None:
    kept = {"cmd/host/main.go": (b"package main\n", 0o644), "cmd/host-exec": (b"#!/usr/bin/env python\n", 0o755)}
    only = ("cmd/host/", "cmd/host-exec")
    digest = schemas.tree_digest(archive(kept, "host"), only)
    assert digest == schemas.tree_digest(archive(kept, "host"))  # nothing else in it: the whole archive's
    whole = archive({**kept, "README.md": (b"x", 0o644), "cmd/host2/main.go": (b"y", 0o644)}, "repo-abc")
    assert schemas.tree_digest(whole, only) == digest != schemas.tree_digest(whole)
    assert schemas.tree_digest(archive({**kept, "cmd/host/main.go": (b"package other\n", 0o644)}, "host"), only) \
        != digest
    assert schemas.tree_digest(archive({**kept, "cmd/host/extra.go": (b"", 0o644)}, "host"), only) != digest


def test_the_host_pin_covers_its_two_paths_of_the_shared_archive(host_archive: Path) -> None:
    pin = upstream.piece_sources("language-python")[HOST]
    assert (pin.form, schemas.tree_paths(pin)) == ("tree", HOST_PATHS)
    assert pin.url == "https://github.com/pulumi/pulumi/archive/0ac56e876614aedf12771d73ef7e80959b8a6fd4.tar.gz"
    data = host_archive.read_bytes()
    assert schemas.tree_digest(data, HOST_PATHS) == pin.sha256
    assert sorted(_files(data)) == ["sdk/python/cmd/pulumi-language-python-exec",
                                    *(f"sdk/python/cmd/pulumi-language-python/{f}"
                                      for f in ("go.mod", "go.sum", "main.go", "main_test.go"))]


def test_the_forges_archive_of_the_whole_commit_is_accepted_and_a_changed_host_refused(
    host_archive: Path, tmp_path: Path, local_server
) -> None:
    pin = upstream.piece_sources("language-python")[HOST]
    files = _files(host_archive.read_bytes())
    others = {"README.md": (b"# Pulumi\n", 0o644), "sdk/go/pulumi/run.go": (b"package pulumi\n", 0o644)}
    route = "/" + pin.url.split("://", 1)[1]
    forge = archive({**files, **others}, "pulumi-0ac56e876614aedf12771d73ef7e80959b8a6fd4")
    server = local_server({route: (200, forge)})
    assert upstream.path("language-python", HOST, Sources(None, tmp_path / "cache", server.url)).read_bytes() == forge
    main_go = "sdk/python/cmd/pulumi-language-python/main.go"
    changed = archive({**files, **others, main_go: (files[main_go][0] + b"// changed\n", 0o644)}, "pulumi-0ac56e8")
    server = local_server({route: (200, changed)})
    with pytest.raises(SchemaUnavailable, match="its content does not match the pin"):
        upstream.path("language-python", HOST, Sources(None, tmp_path / "other-cache", server.url))


def test_a_paths_pin_is_for_tree_only(tmp_path: Path) -> None:
    (tmp_path / "piece").mkdir()
    (tmp_path / "piece" / "sources").write_text(f"x.tar.gz bytes:a/b {'0' * 64} https://example.org/x\n")
    with pytest.raises(upstream.SourcesFileError, match="a tree pin of some paths only"):
        upstream.piece_sources("piece", tmp_path)


def test_the_host_module_requires_the_release_it_builds() -> None:
    go_mod = (upstream.PIECES / "language-python" / "go.mod").read_text()
    release = re.search(r"-(v\d+\.\d+\.\d+)\.tar\.gz$", HOST)
    assert release
    for module in ("github.com/pulumi/pulumi/pkg/v3", "github.com/pulumi/pulumi/sdk/v3"):
        assert f"\t{module} {release[1]}\n" in go_mod
        assert f"{module} =>" not in go_mod
    assert not list((upstream.PIECES / "language-python").glob("*.go")), "upstream's main.go is never committed"
