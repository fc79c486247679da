"""Resolve and read the paths of a project without hanging or crashing on odd files.

A project may hold a symbolic link loop, a FIFO or a link to a device
under any name, so the checker reads only regular files and treats a
path that cannot be resolved as an unreadable file.
"""

from __future__ import annotations

import configparser
import errno
import logging
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

logger = logging.getLogger(__name__)

# Declaration files (requirements, pyproject.toml, lock files) are read
# whole. Lock files are the largest of them, and this limit, an estimate,
# leaves room for the lock file of a large monorepo while stopping a file
# that grows without end.
MAX_DECLARATION_BYTES = 32 * 1024 * 1024


def read_regular_file(
    path: Path, max_bytes: int = MAX_DECLARATION_BYTES, follow_links: bool = True
) -> bytes:
    """Read `path` when it is a regular file of at most `max_bytes` bytes.

    Raises OSError for a missing or unreadable file, and also for a FIFO,
    a device or a larger file, so that callers that skip unreadable files
    skip those too. The file is opened without blocking, so a FIFO that
    no process writes to does not stop the run. With `follow_links` False,
    a path whose last component is a symbolic link raises OSError too.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_links:
        flags |= os.O_NOFOLLOW
    descriptor = os.open(path, flags)
    with os.fdopen(descriptor, "rb") as stream:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        if status.st_size > max_bytes:
            raise OSError(errno.EFBIG, f"larger than {max_bytes} bytes", str(path))
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise OSError(errno.EFBIG, f"larger than {max_bytes} bytes", str(path))
    return data


def read_regular_text(path: Path, max_bytes: int = MAX_DECLARATION_BYTES) -> str:
    """Read `path` like `read_regular_file` and decode it as UTF-8, replacing bad bytes."""
    return read_regular_file(path, max_bytes).decode("utf-8", errors="replace")


def read_toml(
    path: Path,
    reading: str,
    level: int = logging.WARNING,
    warn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Return the TOML document at `path`, or {} when it is missing, unreadable or not valid TOML.

    `reading` names what the caller reads from the file, for the log line
    that an unreadable or invalid file gets at `level`. With `warn`, that
    line goes to `warn` instead of the log.
    """
    if not path.is_file():
        return {}
    try:
        raw = read_regular_file(path)
    except OSError as error:
        reason = error.strerror or str(error)
        message = f"{path}: cannot read: {reason}; {reading} is not read from it"
        _report(message, level, warn)
        return {}
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        message = f"{path}: not valid TOML; {reading} is not read from it"
        _report(message, level, warn)
        return {}


def read_setup_cfg(
    path: Path,
    reading: str,
    level: int = logging.WARNING,
    warn: Callable[[str], None] | None = None,
) -> configparser.ConfigParser | None:
    """Return the parsed setup.cfg at `path`, or None when it is missing or not valid INI.

    `reading` is as for `read_toml`.
    """
    if not path.is_file():
        return None
    # Without interpolation, so that a `%` in a URL does not raise.
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(read_regular_file(path).decode("utf-8"), str(path))
    except (OSError, UnicodeDecodeError, configparser.Error):
        message = f"{path}: not valid INI; {reading} is not read from it"
        _report(message, level, warn)
        return None
    return parser


def _report(message: str, level: int, warn: Callable[[str], None] | None) -> None:
    if warn is None:
        logger.log(level, "%s", message)
    else:
        warn(message)


def is_regular_file(path: Path) -> bool:
    """Tell whether `path` is a regular file, or a link to one; False when it cannot be examined."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (OSError, RuntimeError):
        return False


def is_folder(path: Path) -> bool:
    """Tell whether `path` is a folder, or a link to one; False when it cannot be examined."""
    try:
        return stat.S_ISDIR(path.stat().st_mode)
    except (OSError, RuntimeError):
        return False


def exists_or_false(path: Path) -> bool:
    """Tell whether `path` exists; False when it cannot be examined, as in a denied folder."""
    try:
        path.stat()
    except (OSError, RuntimeError):
        return False
    return True


def resolve_or_none(path: Path) -> Path | None:
    """Return `path` resolved, or None when it cannot be (a link loop, a denied folder)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        # On Python 3.11, Path.resolve() raises RuntimeError for a symbolic
        # link loop, and OSError for other failures.
        return None


def resolve_or_absolute(path: Path) -> Path:
    """Return `path` resolved, or made absolute when it cannot be resolved."""
    resolved = resolve_or_none(path)
    return resolved if resolved is not None else Path(os.path.abspath(path))


def resolve_failure(path: Path) -> str | None:
    """Describe why `path` cannot be resolved or examined, or return None when it can."""
    try:
        path.resolve()
        path.stat()
    except RuntimeError:
        return "symbolic link loop"
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "symbolic link loop"
        return error.strerror or str(error)
    return None
