"""Inside a container's private mount and UTS namespaces: set up its view of the files, then exec it.

Run by the pod runner as ``unshare --mount --uts --propagation private <python> -I enter.py PLAN``
(standard library only: it runs with no project on the path). PLAN is a JSON file:

- ``scratch``: an empty folder; a tmpfs is mounted there for this namespace's own files;
- ``hostname``: the pod's host name;
- ``mounts``: ``{"source", "target", "read_only"}`` bind mounts, in order (a target that does not
  exist is created; its nearest existing folder gets an overlay first, whose upper layer is on the
  tmpfs, so the host's folder is never written);
- ``expose``: host folders the container's user must reach at their own paths (the image's files: a
  toolchain piece and the interpreter it runs on); where one sits below a folder that user may not
  enter (``/root``), a tmpfs hides that folder and only the exposed folders are bound into it;
- ``preload``: a library for ``/etc/ld.so.preload`` (the pod's network, ``podnet.c``), or null;
- ``workdir``, ``uid``, ``gid``, ``groups``, ``env``, ``argv``: what the process runs as and with.

The host's files are never changed: every mount is private to the namespace and dies with it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def submounts(folder: str) -> list[str]:
    """Mount points strictly below ``folder`` (an overlay on it would hide them)."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(folder.rstrip("/") + "/"):
            points.append(point)
    return sorted(set(points))


class View:
    """The namespace's file view: overlays made so far and the tmpfs that holds their upper layers."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.overlaid: list[str] = []
        mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", str(scratch))

    def overlay(self, folder: str) -> None:
        """An overlay on ``folder`` whose changes go to the tmpfs; mounts below it are kept."""
        if folder == "/":
            raise SystemExit("cannot overlay the root folder: give the mount target an existing parent")
        n = len(self.overlaid)
        upper, work, keep = (self.scratch / f"overlay-{n}" / part for part in ("upper", "work", "keep"))
        for path in (upper, work, keep):
            path.mkdir(parents=True)
        kept = submounts(folder)
        for i, point in enumerate(kept):
            holder = keep / str(i)
            holder.mkdir() if os.path.isdir(point) else holder.touch()
            mount("--rbind", point, str(holder))
        mount("-t", "overlay", "overlay", "-o", f"lowerdir={folder},upperdir={upper},workdir={work}", folder)
        for i, point in enumerate(kept):
            if not os.path.lexists(point):
                os.makedirs(point) if (keep / str(i)).is_dir() else Path(point).touch()
            mount("--rbind", str(keep / str(i)), point)
        self.overlaid.append(folder)

    def expose(self, paths: list[str], uid: int, groups: set[int]) -> None:
        """Each of ``paths`` reachable by ``uid``.

        Each folder on the way that the user may not enter (``/root``, a 0700 folder) is replaced by a
        tmpfs holding only what is exposed (of an exposed folder itself: its entries).
        """
        masks: dict[str, set[str]] = {}
        for path in map(os.path.realpath, paths):
            parts = path.strip("/").split("/")
            for depth in range(1, len(parts) + 1):
                folder = "/" + "/".join(parts[:depth])
                if not _enterable(os.stat(folder), uid, groups):
                    inside = [os.path.join(folder, e) for e in os.listdir(folder)] if folder == path else [path]
                    masks.setdefault(folder, set()).update(inside)
        for folder in sorted(masks, key=lambda f: f.count("/")):  # outer folders first
            self.mask(folder, sorted(masks[folder]))

    def mask(self, folder: str, keep: list[str]) -> None:
        """A tmpfs on ``folder`` that holds only ``keep`` (paths below it), bound at their own paths."""
        holders = self.scratch / f"mask-{len(list(self.scratch.glob('mask-*')))}"
        holders.mkdir()
        for i, path in enumerate(keep):
            holder = holders / str(i)
            holder.mkdir() if os.path.isdir(path) else holder.touch()
            mount("--rbind", path, str(holder))
        mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", folder)
        for i, path in enumerate(keep):
            holder = holders / str(i)
            os.makedirs(path if holder.is_dir() else os.path.dirname(path), mode=0o755, exist_ok=True)
            if not holder.is_dir():
                Path(path).touch()
            mount("--rbind", str(holder), path)

    def make(self, target: str, directory: bool) -> str:
        """``target`` made to exist (a folder or an empty file); its real path."""
        real = os.path.realpath(target)
        if os.path.lexists(real):
            return real
        existing = real
        while not os.path.isdir(existing):
            existing = os.path.dirname(existing)
        if not any(existing == o or existing.startswith(o.rstrip("/") + "/") for o in self.overlaid):
            self.overlay(existing)
        if directory:
            os.makedirs(real, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(real), exist_ok=True)
            Path(real).touch()
        return real

    def bind(self, source: str, target: str, read_only: bool) -> None:
        real = self.make(target, os.path.isdir(source))
        mount("--bind", source, real)
        if read_only:
            mount("-o", "remount,bind,ro", real)


def _enterable(st: os.stat_result, uid: int, groups: set[int]) -> bool:
    if uid == 0:
        return True
    if st.st_uid == uid:
        return bool(st.st_mode & 0o100)
    if st.st_gid in groups:
        return bool(st.st_mode & 0o010)
    return bool(st.st_mode & 0o001)


def main(plan_path: str) -> None:
    plan = json.loads(Path(plan_path).read_text())
    view = View(Path(plan["scratch"]))
    socket.sethostname(plan["hostname"])
    view.expose(plan["expose"], plan["uid"], {plan["gid"], *plan["groups"]})
    for item in plan["mounts"]:
        view.bind(item["source"], item["target"], item["read_only"])
    if plan.get("preload"):
        preload = view.scratch / "ld.so.preload"
        preload.write_text(plan["preload"] + "\n")
        view.bind(str(preload), "/etc/ld.so.preload", read_only=True)
    workdir = view.make(plan["workdir"], directory=True)
    os.chdir(workdir)
    os.setgroups(plan["groups"])
    os.setgid(plan["gid"])
    os.setuid(plan["uid"])
    argv = plan["argv"]
    try:
        os.execvpe(argv[0], argv, plan["env"])
    except OSError as exc:
        print(f"cannot run {argv[0]!r} (PATH {plan['env'].get('PATH', '')}): {exc}", file=sys.stderr)
        raise SystemExit(127) from None


if __name__ == "__main__":
    main(sys.argv[1])
