"""``kafka``, ``postgres``, ``opensearch``, ``cluster`` and ``connect`` sub-commands: start,
stop and status of the local services.

Each leaf parser sets ``args.func``; calling ``args.func(args)`` returns the exit code
(0 ok, 1 error, 3 for ``status`` when the service does not run).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from pyspark_kernel.services._process import LocalService, ServiceState

EXIT_ERROR = 1
EXIT_NOT_RUNNING = 3


def _fail(message: str) -> int:
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    print(f"error: {first}", file=sys.stderr)
    return EXIT_ERROR


def _run(
    args: argparse.Namespace,
    service: LocalService[Any],
    describe: Callable[[Any], str],
    env_overrides: tuple[str, ...] = (),
    shown: Callable[[str], str] = str,
) -> int:
    """Carry out ``args.action`` on ``service``; ``describe`` words a running state for
    ``status``; if one of the ``env_overrides`` variables is set, ``start`` starts nothing."""
    if args.action == "start":
        given = [name for name in env_overrides if os.environ.get(name, "").strip()]
        if given:
            print(shown(os.environ[given[0]].strip()))
            print(f"{given[0]} is set: nothing started", file=sys.stderr)
        else:
            print(shown(service.start()))
    elif args.action == "stop":
        print("stopped" if service.stop() else "not running")
    else:
        state = service.status()
        if state is None:
            print("not running")
            return EXIT_NOT_RUNNING
        print(f"running {describe(state)}")
    return 0


def _kafka(args: argparse.Namespace) -> int:
    from pyspark_kernel.services.kafka import ENV_BOOTSTRAP, KafkaBroker

    def describe(state: ServiceState) -> str:
        return f"pid={state.pid} address={state.address} data-dir={state.data_dir}"

    return _run(args, KafkaBroker(args.data_dir, port=args.port), describe, (ENV_BOOTSTRAP,))


def _postgres(args: argparse.Namespace) -> int:
    from pyspark_kernel.services.postgres import ENV_URL, LocalPostgres, mask_password

    server = LocalPostgres(args.data_dir, port=args.port)

    def describe(state: ServiceState) -> str:
        url = mask_password(server.url())
        return f"pid={state.pid} address={url} data-dir={state.data_dir}"

    return _run(args, server, describe, (ENV_URL,), shown=mask_password)


def _opensearch(args: argparse.Namespace) -> int:
    from pyspark_kernel.services.opensearch import ENV_URLS, OpenSearchNode
    from pyspark_kernel.services.postgres import mask_password

    node = OpenSearchNode(args.data_dir, port=args.port)

    def describe(state: ServiceState) -> str:
        return (
            f"pid={state.pid} address={state.address} health={node.health()} "
            f"data-dir={state.data_dir}"
        )

    return _run(args, node, describe, ENV_URLS, shown=mask_password)


def _cluster(args: argparse.Namespace) -> int:
    from pyspark_kernel.services.cluster import ClusterStatus, StandaloneCluster

    def describe(state: ClusterStatus) -> str:
        alive = "?" if state.alive_workers is None else state.alive_workers
        return (
            f"pid={state.master.pid} address={state.master_url} web-ui={state.web_ui} "
            f"workers={alive}/{len(state.workers)} data-dir={state.master.data_dir}"
        )

    cluster = StandaloneCluster(args.data_dir, workers=args.workers, port=args.port)
    return _run(args, cluster, describe)


def _connect(args: argparse.Namespace) -> int:
    from pyspark_kernel.services.cluster import ConnectServer

    server = ConnectServer(args.data_dir, port=args.port, master=args.master)

    def describe(state: ServiceState) -> str:
        return (
            f"pid={state.pid} address={state.address} "
            f"spark-ui={server.ui_url or '-'} data-dir={state.data_dir}"
        )

    return _run(args, server, describe)


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
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
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
        if extra is not None:
            extra(sub)
        sub.set_defaults(func=_guarded(handler))


def _cluster_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers", metavar="N", type=int, default=2, help="workers to start (default: 2)"
    )


def _connect_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--master",
        default="local[*]",
        help="where the server runs its jobs (default: local[*]; or spark://HOST:PORT)",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``kafka``, ``postgres``, ``opensearch``, ``cluster`` and ``connect`` commands to an
    argparse sub-parsers object."""
    _add_service(subparsers, "kafka", "local Apache Kafka broker (KRaft, 127.0.0.1)", _kafka)
    _add_service(subparsers, "postgres", "local PostgreSQL server (127.0.0.1)", _postgres)
    _add_service(
        subparsers,
        "opensearch",
        "local OpenSearch node (127.0.0.1, HTTP port in 9200-9299); prints its URL",
        _opensearch,
    )
    _add_service(
        subparsers,
        "cluster",
        "local Spark standalone master and workers (127.0.0.1); prints the master URL",
        _cluster,
        _cluster_options,
    )
    _add_service(
        subparsers,
        "connect",
        "local Spark Connect server (127.0.0.1); prints its sc:// URL",
        _connect,
        _connect_options,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry: ``python -m pyspark_kernel.services.cli kafka start``."""
    parser = argparse.ArgumentParser(prog="pyspark-kernel")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
