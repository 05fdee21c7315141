"""Upstream sources a toolchain piece builds from, found and checked as the plan finds its schemas.

A piece that builds from upstream files outside this repository (Dossier's hub package, ...)
lists them in a ``sources`` file in its folder, one line each::

    <name> <form> <sha256> <download URL>

``name`` is the file's path under ``DOSSIER_UPSTREAM`` (``src/dossier-efd8873.tar.gz``);
``form`` is how the SHA-256 is taken (``tree``: the files of a gzipped source archive, whatever
its top folder and compression, so a forge's archive of the commit matches a ``git archive``
of it; ``tree:<path>,...``: only the files at or under those paths, so ``git archive`` of a
few paths matches the forge's archive of the whole commit; ``bytes``: the file as it is).
The pin lives in the piece's folder, so the piece's cache key changes with it. Each file is
looked for as ``offline/schemas.py`` does (docs/schemas.md): in ``DOSSIER_UPSTREAM``, then the
per-user cache, then a download of the URL, stored in the cache once it matches; a file that
does not match its pin is refused, whatever its source.

``python -m e2e.upstream`` shows where each piece's sources come from (fetching what is
missing); ``python -m e2e.upstream path PIECE NAME`` prints a verified local copy's path, for
the piece's ``build`` script.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from offline.schemas import Pin, SchemaUnavailable, Sources, how_to_provide, resolve_pin

PIECES = Path(__file__).resolve().parent / "toolchain"
FORMS = ("tree", "bytes")


class SourcesFileError(ValueError):
    """A piece's ``sources`` file that cannot be read as pins (the message names the file and line)."""


def piece_sources(piece: str, pieces: Path = PIECES) -> dict[str, Pin]:
    """The pins of ``<pieces>/<piece>/sources`` by name (empty when the piece builds from nothing upstream)."""
    path = pieces / piece / "sources"
    if not path.is_file():
        return {}
    pins: dict[str, Pin] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        form, _, paths = fields[1].partition(":") if len(fields) > 1 else ("", "", "")
        if len(fields) != 4 or form not in FORMS or (paths and form != "tree") or len(fields[2]) != 64:
            raise SourcesFileError(f"{path}:{number}: expected '<name> <{'|'.join(FORMS)}> <sha256> <url>', "
                                   f"got {line.strip()!r} (a tree pin of some paths only: tree:<path>,...)")
        name, _, sha256, url = fields
        extract = f"tree:{paths}" if paths else "file"
        pins[name] = Pin(name, url, extract, sha256, form)  # type: ignore[arg-type]  # form checked above
    return pins


def path(piece: str, name: str, sources: Sources | None = None) -> Path:
    """A local copy of ``name`` that matches the piece's pin; raises ``SchemaUnavailable``."""
    pins = piece_sources(piece)
    if name not in pins:
        raise SchemaUnavailable(name, [f"not a source of piece {piece} (its sources file lists: "
                                       f"{', '.join(pins) or 'nothing'})"])
    return resolve_pin(pins[name], sources)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.upstream", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("status", help="where each piece's sources come from (fetches what is missing)")
    one = sub.add_parser("path", help="the path of a verified copy of one source of a piece")
    one.add_argument("piece")
    one.add_argument("name")
    args = parser.parse_args(argv)
    try:
        if args.command == "path":
            print(path(args.piece, args.name))
            return 0
        missing = 0
        for piece in sorted(p.name for p in PIECES.iterdir() if p.is_dir()):
            for name, pin in piece_sources(piece).items():
                try:
                    where, source, _ = resolve_pin(pin)
                    print(f"ok       {piece}: {name}  from {source}: {where}")
                except SchemaUnavailable as exc:
                    missing += 1
                    print(f"missing  {piece}: {name}: {'; '.join(exc.reasons)}")
    except SchemaUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("\n".join(f"  {line}" for line in how_to_provide(cluster=False)), file=sys.stderr)
        return 1
    except SourcesFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
