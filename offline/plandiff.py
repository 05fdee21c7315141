"""``make plan-diff BASE=<git ref>``: the plan of a base ref next to this tree's, as a unified diff.

The base ref's files are exported with ``git archive`` into a temporary
directory (read-only for the repository: no worktree, no checkout); both trees
are then planned by *this* tree's ``offline/plan.py`` in their own processes,
the base into ``<out>/base/<stack>/`` and this tree into ``<out>/<stack>/``, so
the diff shows changes to the program and its config, not to the renderer.

Exit status: 0 whether or not the plans differ (the diff is a review artifact),
non-zero if either plan fails or the ref cannot be exported.
"""

from __future__ import annotations

import argparse
import difflib
import io
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from offline.engine import ROOT


def export_ref(ref: str, into: Path, repo: Path = ROOT) -> None:
    """The files of ``ref`` under ``into`` (``git archive``; the repository is not modified)."""
    archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=repo, capture_output=True, check=False)
    if archive.returncode != 0:
        raise RuntimeError(f"cannot export {ref!r}: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")


def run_plan(root: Path, stack: str, out: Path, kubernetes_version: str | None, stacks: Path = Path(".")) -> int:
    """Plan ``root`` with this tree's planner in a fresh process; its report goes to stderr."""
    command = [sys.executable, "-m", "offline.plan", "--stack", stack, "--out", str(out), "--root", str(root),
               "--stacks", str(stacks)]
    if kubernetes_version:
        command += ["--kubernetes-version", kubernetes_version]
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout)
    return done.returncode


def _files(tree: Path) -> dict[str, Path]:
    return {str(p.relative_to(tree)): p for p in sorted(tree.rglob("*")) if p.is_file()} if tree.is_dir() else {}


def diff_trees(base: Path, head: Path, base_label: str = "base", head_label: str = "head") -> Iterator[str]:
    """A unified diff of two directory trees, file by file in path order (added/removed files included)."""
    old, new = _files(base), _files(head)
    for relative in sorted(set(old) | set(new)):
        a = old[relative].read_text().splitlines(keepends=True) if relative in old else []
        b = new[relative].read_text().splitlines(keepends=True) if relative in new else []
        if a == b:
            continue
        from_file = f"{base_label}/{relative}" if relative in old else "/dev/null"
        to_file = f"{head_label}/{relative}" if relative in new else "/dev/null"
        for line in difflib.unified_diff(a, b, from_file, to_file):
            yield line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.plandiff", description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git ref to compare against (branch, tag, commit)")
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--out", type=Path, default=Path("build"))
    parser.add_argument("--kubernetes-version")
    parser.add_argument("--stacks", type=Path, default=Path("."),
                        help="folder of Pulumi.<stack>.yaml in both trees, relative to their roots (default: the root)")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    with tempfile.TemporaryDirectory(prefix="plan-base-") as tmp:
        try:
            export_ref(args.base, Path(tmp))
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        base_status = run_plan(Path(tmp), args.stack, out / "base", args.kubernetes_version, args.stacks)
    head_status = run_plan(ROOT, args.stack, out, args.kubernetes_version, args.stacks)
    if base_status or head_status:
        failed = [name for name, status in ((args.base, base_status), ("this tree", head_status)) if status]
        print(f"error: the plan of {' and '.join(failed)} failed (see above)", file=sys.stderr)
        return 1
    changed = False
    for line in diff_trees(out / "base" / args.stack, out / args.stack, f"{args.base}", "HEAD+worktree"):
        changed = True
        sys.stdout.write(line)
    print(f"plan of {args.stack}: {'differs from' if changed else 'same as'} {args.base}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
