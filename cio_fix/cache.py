"""A content-hash cache of per-file results, kept in `.cio_fix_cache` at the project root.

Every key hashes what the result depends on: the file's bytes, the
cio-fix code, the versions of Python, libcst and black, and the
configuration. It also hashes the working directory, because findings show
paths relative to it, and the files that declare the SDK version, the
Python version or black's settings. A cache that cannot be read is treated
as empty, and one that cannot be written is skipped. Neither is an error.

The cache loads with a restricted unpickler that rebuilds only cio-fix
data classes and enums, paths, sets and plain values, because a cache
folder in a checked-out repository is not trusted input. For the same
reason, the cache file is read only when it is a regular file of at most
MAX_CACHE_BYTES and not a symbolic link, and no write follows a link.
"""

from __future__ import annotations

import dataclasses
import enum
import errno
import hashlib
import importlib
import io
import logging
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any

from cio_fix import __version__
from cio_fix.config import Config
from cio_fix.files import read_regular_file
from cio_fix.interrupts import deferred
from cio_fix.modules import folders_up_to
from cio_fix.python_version import PYTHON_VERSION_FILES, extended_ruff_files
from cio_fix.requirements import REQUIREMENTS_PATTERNS, included_files
from cio_fix.writer import temporary_file

logger = logging.getLogger(__name__)

CACHE_FOLDER = ".cio_fix_cache"
CACHE_FILE = "results.pickle"
# Bumped when the layout of the cache file or of its entries changes.
CACHE_FORMAT = 23
# Entries that no run has used for this long are dropped when the cache is saved.
MAX_ENTRY_AGE_SECONDS = 30 * 24 * 3600
# A larger cache file is ignored. An estimate: the entries of one file take
# a few kilobytes plus its fixed code, so this leaves room for tens of
# thousands of files while a planted file cannot fill the memory.
MAX_CACHE_BYTES = 1024 * 1024 * 1024
GITIGNORE_TEXT = "# Created by cio-fix.\n*\n"

# Files that change results without being checked themselves: the declared
# customerio and Python versions and black's settings. They are read in
# every folder from the common folder of the candidate files up to the
# project root, with the files that the requirements files include. The
# formatter settings that apply to a file are part of its key on their
# own, since ruff's may come from above the project root or from a file
# that a ruff configuration extends.
# What a rule reads on its own, such as an email template that a send call
# names, is kept with the file's cached check instead (`cio_fix.lookups`).
DECLARATION_PATTERNS = (
    "pyproject.toml",
    "setup.cfg",
    "setup.py",
    "Pipfile",
    "Pipfile.lock",
    "poetry.lock",
    "uv.lock",
    "pdm.lock",
    *REQUIREMENTS_PATTERNS,
    *PYTHON_VERSION_FILES,
    ".pre-commit-config.yaml",
)

_ALLOWED_BUILTINS = frozenset({"set", "frozenset"})
_ALLOWED_PATHS = frozenset(
    {"Path", "PosixPath", "WindowsPath", "PurePath", "PurePosixPath", "PureWindowsPath"}
)
# Python 3.13 defines the path classes in `pathlib._local`, and pickles name
# that module.
_PATH_MODULES = frozenset({"pathlib", "pathlib._local"})


def digest(*parts: bytes | str) -> str:
    """Return the SHA-256 of `parts`, each length-prefixed so that no two splits collide."""
    hasher = hashlib.sha256()
    for part in parts:
        data = (
            part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
        )
        hasher.update(len(data).to_bytes(8, "little"))
        hasher.update(data)
    return hasher.hexdigest()


def canonical_digest(value: Any) -> str:
    """Hash plain data so that equal values give equal digests in every process.

    Sets and dicts are ordered first: their iteration order depends on the
    string hash seed of the process.
    """
    return digest(repr(_canonical(value)))


_SCALARS = (str, int, float, bool, bytes, type(None))


def _canonical(value: Any) -> Any:
    # Most values are scalars, and they are checked first because the
    # dataclass test costs more.
    if type(value) in _SCALARS:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [
            (item.name, _canonical(getattr(value, item.name)))
            for item in dataclasses.fields(value)
        ]
        return (type(value).__qualname__, tuple(fields))
    if isinstance(value, enum.Enum):
        return (type(value).__qualname__, _canonical(value.value))
    if isinstance(value, dict):
        items = [(_canonical(key), _canonical(item)) for key, item in value.items()]
        return ("dict", tuple(sorted(items, key=repr)))
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted((_canonical(item) for item in value), key=repr)))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_canonical(item) for item in value))
    if isinstance(value, Path):
        return ("path", value.as_posix())
    return value


def _enum_member(cls: Any, name: Any) -> Any:
    """Stand in for `getattr` in pickles of enum members, allowing nothing else.

    Some Python versions (3.11.2, for one) pickle a member as
    `getattr(EnumClass, "NAME")`.
    """
    if (
        isinstance(cls, type)
        and issubclass(cls, enum.Enum)
        and isinstance(name, str)
        and name in cls.__members__
    ):
        return cls[name]
    raise pickle.UnpicklingError("getattr is allowed only for enum members")


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name == "getattr":
            return _enum_member
        if module == "builtins" and name in _ALLOWED_BUILTINS:
            return getattr(__import__("builtins"), name)
        if module in _PATH_MODULES and name in _ALLOWED_PATHS:
            return getattr(__import__("pathlib"), name)
        if module == "cio_fix" or module.startswith("cio_fix."):
            found = getattr(importlib.import_module(module), name, None)
            if isinstance(found, type) and _is_data_class(found):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in the cache")


def _is_data_class(cls: type) -> bool:
    return dataclasses.is_dataclass(cls) or issubclass(cls, (enum.Enum, tuple))


def dumps(value: Any) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Any:
    """Unpickle cache data, rebuilding only the classes the cache is allowed to hold."""
    return _RestrictedUnpickler(io.BytesIO(data)).load()


class Cache:
    """Entries by key; `folder` None means the cache is disabled."""

    def __init__(self, folder: Path | None, entries: dict[str, tuple[float, bytes]]):
        self.folder = folder
        self._entries = entries
        self._used: dict[str, tuple[float, bytes]] = {}
        self._now = time.time()
        self._cleared = False

    @classmethod
    def disabled(cls) -> Cache:
        return cls(None, {})

    @classmethod
    def open(cls, root: Path) -> Cache:
        folder = root / CACHE_FOLDER
        if folder.is_symlink():
            # Writing through a link would write outside the project.
            logger.warning(
                "%s is a symbolic link; the cache is off for this run, remove the link",
                folder,
            )
            return cls.disabled()
        return cls(folder, _read_entries(folder / CACHE_FILE))

    @property
    def enabled(self) -> bool:
        return self.folder is not None

    def get(self, key: str) -> Any | None:
        """Return the value stored under `key`, or None when it is missing or unreadable."""
        entry = self._entries.get(key) or self._used.get(key)
        if entry is None:
            return None
        try:
            value = loads(_verified(entry[1]))
        except Exception:
            logger.debug("ignoring an unreadable cache entry", exc_info=True)
            self._entries.pop(key, None)
            return None
        self._used[key] = (self._now, entry[1])
        return value

    def put(self, key: str, value: Any) -> None:
        """Store `value`; a value that cannot be pickled is not cached."""
        if self.folder is None:
            return
        try:
            data = dumps(value)
        except Exception:
            logger.debug("not caching a value that cannot be pickled", exc_info=True)
            return
        self._used[key] = (self._now, _checksum(data) + data)

    def clear(self) -> None:
        """Drop every entry, so that `save` leaves an empty cache for the next run."""
        self._entries = {}
        self._used = {}
        self._cleared = True

    def save(self) -> None:
        """Write the entries used by this run and the recent ones of earlier runs."""
        if self.folder is None or not (self._used or self._cleared):
            return
        kept = {
            key: entry
            for key, entry in self._entries.items()
            if self._now - entry[0] < MAX_ENTRY_AGE_SECONDS
        }
        kept.update(self._used)
        try:
            _write_entries(self.folder, kept)
        except OSError as error:
            logger.debug("cannot write the cache in %s: %s", self.folder, error)


CHECKSUM_BYTES = 16


def _checksum(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=CHECKSUM_BYTES).digest()


def _verified(entry: bytes) -> bytes:
    """Return an entry's pickle after checking its checksum.

    A damaged entry that still unpickles (one changed byte of a field name
    or of fixed code) would otherwise crash the run or be written out.
    """
    checksum, data = entry[:CHECKSUM_BYTES], entry[CHECKSUM_BYTES:]
    if checksum != _checksum(data):
        raise ValueError("the cache entry does not match its checksum")
    return data


def _read_entries(path: Path) -> dict[str, tuple[float, bytes]]:
    # A checked-out repository may hold a FIFO, or a link to /dev/zero or to
    # a file outside the project, in place of the cache file.
    try:
        data = read_regular_file(path, MAX_CACHE_BYTES, follow_links=False)
    except OSError as error:
        if not isinstance(error, FileNotFoundError):
            logger.debug("ignoring the unreadable cache %s: %s", path, error)
        return {}
    try:
        document = loads(data)
    except Exception:
        logger.debug("ignoring the unreadable cache %s", path, exc_info=True)
        return {}
    if not isinstance(document, dict) or document.get("format") != CACHE_FORMAT:
        return {}
    entries = document.get("entries")
    if not isinstance(entries, dict):
        return {}
    valid = {}
    for key, entry in entries.items():
        if (
            isinstance(key, str)
            and isinstance(entry, tuple)
            and len(entry) == 2
            and isinstance(entry[0], float)
            and isinstance(entry[1], bytes)
        ):
            valid[key] = entry
    return valid


def _write_entries(folder: Path, entries: dict[str, tuple[float, bytes]]) -> None:
    """Write the cache file, and the folder's `.gitignore` when it has none.

    No write follows a symbolic link: `Cache.open` checked the folder, but a
    link may have replaced it during the run. The rename replaces a link
    in place of the cache file itself, not the link's target.
    """
    folder.mkdir(exist_ok=True)
    if folder.is_symlink():
        raise OSError(errno.ELOOP, "the cache folder is a symbolic link", str(folder))
    _create_gitignore(folder / ".gitignore")
    data = dumps({"format": CACHE_FORMAT, "entries": entries})
    with temporary_file(folder, ".results-") as (stream, temporary):
        stream.write(data)
        stream.close()
        os.replace(temporary, folder / CACHE_FILE)


def _create_gitignore(path: Path) -> None:
    """Create `path` unless something, even a broken symbolic link, is there already."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    # Deferred, so that an interrupt cannot leave an empty file that later runs keep.
    with deferred():
        try:
            descriptor = os.open(path, flags, 0o644)
        except FileExistsError:
            return
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                stream.write(GITIGNORE_TEXT)
        except BaseException:
            path.unlink(missing_ok=True)
            raise


def run_fingerprint(config: Config, start: Path | None) -> str:
    """Hash everything besides a file's own bytes that its results depend on.

    `start` is the folder where the SDK version search begins (the common
    folder of the candidate files): every folder from there up to the
    project root may declare the customerio version.
    """
    settings = dataclasses.replace(config, jobs=None, cache=True)
    parts: list[str] = [
        f"format {CACHE_FORMAT}",
        f"cio-fix {__version__}",
        f"python {sys.version}",
        _code_fingerprint(),
        _distribution_versions(),
        repr(settings),
        os.getcwd(),
    ]
    root = config.declarations_root
    for folder in folders_up_to(root, start):
        parts.extend(declaration_fingerprints(folder, root))
    return digest(*parts)


def _code_fingerprint() -> str:
    """Stat the cio-fix sources, so that a changed rule invalidates the cache too."""
    package = Path(__file__).parent
    stats = []
    for path in sorted(package.rglob("*.py")):
        info = path.stat()
        relative = path.relative_to(package).as_posix()
        stats.append(f"{relative}:{info.st_size}:{info.st_mtime_ns}")
    return "\n".join(stats)


def _distribution_versions() -> str:
    from importlib import metadata

    versions = []
    for name in ("libcst", "black"):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} missing")
    return ", ".join(versions)


def declaration_fingerprints(folder: Path, root: Path) -> list[str]:
    """Hash the declaration files of `folder` and the files they include or extend.

    The files that its requirements files include and that its ruff
    configurations extend count.

    An included or extended file that is missing is hashed as unreadable,
    so that creating it changes the key too.
    """
    paths = []
    for pattern in DECLARATION_PATTERNS:
        paths.extend(sorted(folder.glob(pattern)))
    paths.extend(included_files(folder, root))
    # A shared ruff configuration, anywhere, may set the Python version.
    paths.extend(extended_ruff_files(folder))
    found = []
    for path in paths:
        try:
            found.append(f"{path}:{digest(read_regular_file(path))}")
        except OSError:
            found.append(f"{path}:unreadable")
    return found
