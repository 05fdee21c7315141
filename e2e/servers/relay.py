"""A byte relay between TCP ports on loopback and Unix sockets, optionally running a program beside it.

Capsule 0.2.1 binds two fixed ports on every interface (its webhook server
``:9443`` and its health probe ``:10080``; ``main.go`` sets both, no flag
changes them), so two runs on one machine would collide. ``e2e/servers/capsule.py``
therefore runs it in a network namespace of its own (``unshare --net``), where
those ports are private, and joins the two namespaces with this relay through
Unix sockets in the run's folder (a path-named Unix socket is reachable from
any network namespace):

- inside the namespace, ``--loopback-up`` brings ``lo`` up, the relay listens
  where Capsule expects the API server and forwards to a socket, and forwards
  sockets to Capsule's ports; then it starts the program after ``--`` and
  exits with its exit code (it passes SIGTERM and SIGINT on);
- outside, a second relay forwards the API socket to the API server and free
  loopback ports to Capsule's sockets.

Usage: ``python relay.py [--loopback-up] --forward LISTEN=TARGET ... [-- PROGRAM ARGS...]``,
where each end is ``tcp:127.0.0.1:PORT`` or ``unix:PATH``. Standard library
only: it runs as a script, with no project import.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import signal
import socket
import struct
import sys

CHUNK = 65536
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
IFREQ = "16sh22x"  # struct ifreq on Linux: the name, then the flags in a 24-byte union


def loopback_up() -> None:
    """Bring ``lo`` up: a new network namespace starts with it down."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(IFREQ, b"lo", 0)
        flags = struct.unpack(IFREQ, fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP))


async def _open(end: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    kind, _, where = end.partition(":")
    if kind == "unix":
        return await asyncio.open_unix_connection(where)
    host, _, port = where.rpartition(":")
    return await asyncio.open_connection(host, int(port))


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        pass


async def _serve(listen: str, target: str) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await _open(target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pump(reader, upstream_writer), _pump(upstream_reader, writer))
        for w in (writer, upstream_writer):
            w.close()

    kind, _, where = listen.partition(":")
    if kind == "unix":
        return await asyncio.start_unix_server(handle, where)
    host, _, port = where.rpartition(":")
    return await asyncio.start_server(handle, host, int(port), reuse_address=True)


async def run(forwards: list[tuple[str, str]], program: list[str]) -> int:
    servers = [await _serve(listen, target) for listen, target in forwards]
    print(f"relay ready: {', '.join(f'{a} -> {b}' for a, b in forwards)}", flush=True)
    loop = asyncio.get_running_loop()
    if not program:
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        code = 0
    else:
        child = await asyncio.create_subprocess_exec(*program)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, child.send_signal, signum)
        code = await child.wait()
        print(f"relay: {program[0]} exited with code {code}", flush=True)
    for server in servers:
        server.close()
    return code


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    program: list[str] = []
    if "--" in args:
        at = args.index("--")
        args, program = args[:at], args[at + 1:]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loopback-up", action="store_true", help="bring lo up first (in a new network namespace)")
    parser.add_argument("--forward", action="append", default=[], metavar="LISTEN=TARGET")
    options = parser.parse_args(args)
    forwards = [tuple(f.split("=", 1)) for f in options.forward]
    if any(len(f) != 2 for f in forwards):
        parser.error("--forward takes LISTEN=TARGET")
    if options.loopback_up:
        loopback_up()
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run([(a, b) for a, b in forwards], program))
    return 130


if __name__ == "__main__":
    sys.exit(main())
