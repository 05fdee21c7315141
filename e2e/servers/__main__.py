"""``python -m e2e.servers up [--keep]``: start the servers, print how to reach them, wait for Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import time

from e2e.servers.run import ALL, start_servers
from e2e.servers.supervisor import ServerError, Supervisor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.servers", description=__doc__)
    parser.add_argument("command", choices=["up"], help="start the servers and wait until Ctrl-C")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (data, logs) at the end")
    parser.add_argument("--only", nargs="+", choices=ALL, default=list(ALL), help="start only these servers")
    parser.add_argument("--context", default="e2e", help="kubeconfig context name (default: e2e)")
    parser.add_argument("--node", action="append", default=[], help="create a Node of this name (repeatable)")
    parser.add_argument("--provider-realm", default="master",
                        help="realm of the Pulumi keycloak provider's service account (master or dossier)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        with Supervisor(keep=args.keep or None) as supervisor:
            servers = start_servers(supervisor, which=tuple(args.only), context=args.context,
                                    nodes=tuple(args.node), provider_realm=args.provider_realm)
            print(servers.summary(), flush=True)
            print(f"all up in {time.monotonic() - started:.0f} s; Ctrl-C stops them", flush=True)
            while True:
                signal.pause()
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
