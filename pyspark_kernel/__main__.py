"""``pyspark-kernel`` / ``python -m pyspark_kernel``: install, warm, services, demo."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _install(args: argparse.Namespace) -> int:
    from .kernelspec import install

    prefix = sys.prefix if args.sys_prefix else args.prefix
    path = install(
        user=args.user,
        prefix=prefix,
        name=args.name,
        display_name=args.display_name,
        master=args.master,
        remote=args.remote,
        conf=args.conf,
    )
    print(f"Installed kernelspec {args.name} in {path}")
    return 0


def _warm(args: argparse.Namespace) -> int:
    import pyspark_kernel.classdata as classdata

    from .config import SparkSettings, parse_assignment

    if args.background:
        return classdata.background_main(args.nice)
    if args.remove:
        removed = classdata.remove_all()
        print(f"Removed {classdata.folder()} ({len(removed)} files)")
        return 0
    if args.status:
        for row in classdata.archives():
            print(" ".join(f"{k}={v}" for k, v in row.items()))
        return 0
    settings = SparkSettings()
    settings.apply_env()
    for item in args.conf:
        key, value = parse_assignment(item)
        settings.conf = {**settings.conf, key: value}
    print("Building the class-data archive of the Spark driver JVM (about a minute) ...")
    result = classdata.build(settings.spark_conf())
    print(result.describe())
    return 0 if result.status in {"built", "current"} else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyspark-kernel", description="A Jupyter kernel for PySpark."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    inst = commands.add_parser("install", help="install the pyspark kernelspec")
    where = inst.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="install for the current user")
    where.add_argument("--sys-prefix", action="store_true", help="install into sys.prefix")
    where.add_argument("--prefix", help="install into this prefix")
    inst.add_argument("--name", default="pyspark", help="kernelspec name (default: pyspark)")
    inst.add_argument("--display-name", default="PySpark", help="name shown in Jupyter")
    target = inst.add_mutually_exclusive_group()
    target.add_argument("--master", help="Spark master URL (default: local[*])")
    target.add_argument("--remote", help="Spark Connect URL, sc://HOST:PORT")
    inst.add_argument(
        "--conf", action="append", default=[], metavar="KEY=VALUE", help="a Spark setting"
    )
    inst.set_defaults(func=_install)

    warm = commands.add_parser(
        "warm",
        help="build the class-data archive that makes the Spark driver JVM start faster",
        description="Build the class-data archive of the Spark driver JVM for the current "
        "Java, pyspark and settings (kernels also build it in the background when missing).",
    )
    warm.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Spark setting of the kernels (as given to install) that shapes the driver JVM",
    )
    which = warm.add_mutually_exclusive_group()
    which.add_argument("--status", action="store_true", help="list the archives kept")
    which.add_argument("--remove", action="store_true", help="remove every archive")
    which.add_argument("--background", action="store_true", help=argparse.SUPPRESS)
    warm.add_argument("--nice", type=int, default=19, help=argparse.SUPPRESS)
    warm.set_defaults(func=_warm)

    try:
        from .services.cli import register as register_services
    except ImportError:  # services not installed in this build
        pass
    else:
        register_services(commands)
    try:
        from .demo import register as register_demo
    except ImportError:
        pass
    else:
        register_demo(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ModuleNotFoundError as exc:
        from .prerequisites import missing_extra

        hint = missing_extra(exc)
        if hint is None:
            raise
        print(f"pyspark-kernel: {hint}", file=sys.stderr)
        return 1
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"pyspark-kernel: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
