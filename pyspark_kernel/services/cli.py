"""``kafka`` and ``postgres`` sub-commands: start, stop and status of the local services.

Each leaf parser sets ``args.func``; calling ``args.func(args)`` returns the exit code
(0 ok, 1 error, 3 for ``status`` when the service does not run).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from pyspark_kernel.services._process import ServiceState

EXIT_ERROR = 1
EXIT_NOT_RUNNING = 3


def _fail(message: str) -> int:
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    print(f"error: {first}", file=sys.stderr)
    return EXIT_ERROR


def _report(state: ServiceState | None, address: str) -> int:
    if state is None:
        print("not running")
        return EXIT_NOT_RUNNING
    print(f"running pid={state.pid} address={address} data-dir={state.data_dir}")
    return 0


def _kafka(args: argparse.Namespace) -> int:
    from pyspark_kernel.services.kafka import ENV_BOOTSTRAP, KafkaBroker

    broker = KafkaBroker(args.data_dir, port=args.port)
    if args.action == "start":
        external = os.environ.get(ENV_BOOTSTRAP, "").strip()
        if external:
            print(external)
            print(f"{ENV_BOOTSTRAP} is set: nothing started", file=sys.stderr)
            return 0
        print(broker.start())
    elif args.action == "stop":
        print("stopped" if broker.stop() else "not running")
    else:
        state = broker.status()
        return _report(state, state.address if state else "")
    return 0


def _postgres(args: argparse.Namespace) -> int:
    from pyspark_kernel.services.postgres import ENV_URL, LocalPostgres, mask_password

    server = LocalPostgres(args.data_dir, port=args.port)
    if args.action == "start":
        external = os.environ.get(ENV_URL, "").strip()
        if external:
            print(mask_password(external))
            print(f"{ENV_URL} is set: nothing started", file=sys.stderr)
            return 0
        print(mask_password(server.start()))
    elif args.action == "stop":
        print("stopped" if server.stop() else "not running")
    else:
        state = server.status()
        return _report(state, mask_password(server.url()) if state else "")
    return 0


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except Exception as exc:  # one line for the user; details are in the logs
            return _fail(str(exc) or type(exc).__name__)

    return run


def _add_service(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    text: str,
    handler: Callable[[argparse.Namespace], int],
) -> None:
    parser = subparsers.add_parser(name, help=text, description=text)
    actions = parser.add_subparsers(dest="action", metavar="{start,stop,status}", required=True)
    for action, help_text in (
        ("start", "start it (if needed) and print its address"),
        ("stop", "stop it"),
        ("status", "tell whether it runs (exit 3 if not)"),
    ):
        sub = actions.add_parser(action, help=help_text)
        sub.add_argument("--data-dir", metavar="D", help="data folder (default: in the cache)")
        sub.add_argument("--port", metavar="P", type=int, help="port on 127.0.0.1 (default: free)")
        sub.set_defaults(func=_guarded(handler))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``kafka`` and ``postgres`` commands to an argparse sub-parsers object."""
    _add_service(subparsers, "kafka", "local Apache Kafka broker (KRaft, 127.0.0.1)", _kafka)
    _add_service(subparsers, "postgres", "local PostgreSQL server (127.0.0.1)", _postgres)


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry: ``python -m pyspark_kernel.services.cli kafka start``."""
    parser = argparse.ArgumentParser(prog="pyspark-kernel")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
