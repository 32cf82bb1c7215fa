"""The kernel's own output folder: created by the kernel, emptied before each cell.

The folder is never shared between kernels, and clearing it can never reach outside it:
the kernel refuses to clear a path it did not create, a symlink, ``/`` or the home folder,
and notices when the folder was replaced between cells (its device/inode changed).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

MARKER = ".pyspark-kernel-output"
# A folder's mtime changes whenever an entry is added or removed, by at least the file
# clock's tick (a jiffy, 1-10 ms): an mtime older than this when the folder was seen empty
# is not repeated by a later change.
MTIME_TICK_NS = 100_000_000


class OutputDirError(RuntimeError):
    """The output folder is not one the kernel may empty."""


class OutputDir:
    """A folder the kernel created and owns."""

    def __init__(self, path: str = "") -> None:
        if path:
            self.path = Path(os.path.abspath(os.path.expanduser(path)))
            _refuse_special(self.path)
            if self.path.is_symlink():
                raise OutputDirError(f"output folder {self.path} is a symlink; refusing to use it")
            if self.path.exists():
                if not (self.path / MARKER).is_file():
                    raise OutputDirError(
                        f"output folder {self.path} exists and was not created by the kernel; "
                        "refusing to empty it (choose a new path)"
                    )
            else:
                self.path.mkdir(parents=True, mode=0o700)
                (self.path / MARKER).write_text("created by pyspark-kernel\n")
        else:
            self.path = Path(tempfile.mkdtemp(prefix="pyspark-kernel-output-"))
            (self.path / MARKER).write_text("created by pyspark-kernel\n")
        info = os.lstat(self.path)
        self._identity = (info.st_dev, info.st_ino)
        self._empty_since: int | None = None  # the folder's mtime when last seen empty

    def check(self) -> os.stat_result:
        """Raise `OutputDirError` unless the folder is still the one the kernel created;
        return its `lstat`."""
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            raise OutputDirError(f"output folder {self.path} was removed") from None
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise OutputDirError(f"output folder {self.path} was replaced by a link or a file")
        if (info.st_dev, info.st_ino) != self._identity:
            raise OutputDirError(f"output folder {self.path} was replaced by another folder")
        if info.st_mtime_ns != self._empty_since and not (self.path / MARKER).is_file():
            raise OutputDirError(f"output folder {self.path} lost its ownership marker")
        return info

    def clear(self) -> None:
        """Remove everything inside the folder; links are removed, never followed."""
        if self._unchanged(self.check()):
            return  # nothing was added (nor the marker removed) since it was last empty
        removed = False
        for entry in os.scandir(self.path):
            if entry.name == MARKER:
                continue
            removed = True
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        if not removed:
            self._seen_empty(os.lstat(self.path))

    def _unchanged(self, info: os.stat_result) -> bool:
        return info.st_mtime_ns == self._empty_since

    def _seen_empty(self, info: os.stat_result) -> None:
        """Remember the mtime of the folder found empty, if it is old enough that any
        later change gets another one (file times tick at a few milliseconds)."""
        old = time.time_ns() - info.st_mtime_ns > MTIME_TICK_NS
        self._empty_since = info.st_mtime_ns if old else None

    def remove(self) -> None:
        """Delete the folder itself (at kernel shutdown, only if still ours)."""
        try:
            self.check()
        except OutputDirError:
            return
        shutil.rmtree(self.path, ignore_errors=True)

    def find_parquet(self) -> Path | None:
        """``result.parquet`` if the cell wrote it, else the first Parquet dataset by name."""
        if self._unchanged(self.check()):
            return None
        preferred = self.path / "result.parquet"
        if not preferred.is_symlink() and _is_parquet(preferred):
            return preferred
        for entry in sorted(os.scandir(self.path), key=lambda e: e.name):
            candidate = Path(entry.path)
            if entry.name != MARKER and not entry.is_symlink() and _is_parquet(candidate):
                return candidate
        return None


def _is_parquet(path: Path) -> bool:
    if path.is_file():
        return path.suffix == ".parquet"
    if not path.is_dir():
        return False
    for _root, _dirs, files in os.walk(path, followlinks=False):
        if any(name.endswith(".parquet") for name in files):
            return True
    return False


def _refuse_special(path: Path) -> None:
    if path == Path(path.anchor) or path == Path.home() or str(path) in {"/tmp", "/var/tmp"}:
        raise OutputDirError(f"refusing to use {path} as the kernel's output folder")
