"""The driver JVM launched before ipykernel is imported.

The kernel's settings come from its command line, its environment and the config files
IPython's kernel application reads. The launcher (`launcher.main`) starts a session from
the first two at once, held after the JVM's launch (`SessionManager(held=True)`); the
kernel then takes it if its full settings launch the same JVM (`SparkSettings.launch_key`)
and builds it with them, or ends it unseen and starts its own. The JVM starts about half
a second sooner, while Python imports and sets up the kernel; the first Spark result
comes sooner where a core is free for it (on two busy cores it measured the same).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from traitlets.config import Config
from traitlets.config.loader import KVArgParseConfigLoader

from .config import SparkSettings
from .session import SessionManager

log = logging.getLogger(__name__)

_OPTION = f"--{SparkSettings.__name__}."
_early: SessionManager | None = None


def launch(argv: Sequence[str]) -> None:
    """Start a held session from the command line's and environment's settings (not for
    Spark Connect: there is no JVM to launch; nor for settings Spark would refuse)."""
    global _early
    try:
        settings = SparkSettings(config=_command_line(argv))
        settings.apply_env()
        settings.check()
    except (Exception, SystemExit) as exc:  # the kernel names a bad setting later
        log.debug("no early launch: %s", exc)
        return
    if settings.remote:
        return
    session = SessionManager(settings, held=True)
    session.start(spawn_here=True)
    _early = session


def take(settings: SparkSettings) -> SessionManager | None:
    """The early session, if there is one and `settings` launch the same JVM (the caller
    adopts it); else None, and an early session is ended."""
    global _early
    early, _early = _early, None
    if early is None:
        return None
    if early.settings.launch_key() == settings.launch_key():
        return early
    log.info("the driver JVM launched early was for other settings: launching again")
    early.supersede()
    return None


def _command_line(argv: Sequence[str]) -> Config:
    """The ``--SparkSettings.name=value`` / ``--SparkSettings.name value`` options of
    `argv`, read as the kernel application reads them."""
    ours: list[str] = []
    for i, arg in enumerate(argv):
        if arg.startswith(_OPTION):
            ours.append(arg)
            if "=" not in arg and i + 1 < len(argv):
                ours.append(argv[i + 1])
    return KVArgParseConfigLoader(ours, classes=[SparkSettings]).load_config()
