"""The file system lookups that a file's check makes, kept with its cached result.

A rule or fix may read more than the file and the files that the cache
keys hash: whether a package is a folder of the project (CIO304's helper
import), an email template (CIO503), or the folder of the service that
another file belongs to (CIO101's variable names). Each such lookup is
recorded while a file is checked. A cached check is used only when every
lookup it recorded still gives the same result.

This module imports no libcst, because the cache reads it in runs that
parse nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cio_fix.cache import DECLARATION_PATTERNS
from cio_fix.files import is_folder, is_regular_file, read_regular_file
from cio_fix.modules import folders_up_to

FIRST_PARTY = "first-party"
IS_FILE = "is-file"
FILE_BYTES = "file-bytes"
SERVICE = "service"

# The result of a FILE_BYTES lookup of a file that is missing, not a
# regular file, larger than its limit or unreadable.
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Lookup:
    """One lookup and its result: `kind` names the function that `arguments` go to."""

    kind: str
    arguments: tuple[str, ...]
    result: str


# The lookups of the check in progress, or None outside `recording`, and
# the same lookups as a set, so that a lookup made again is kept once.
_recorded: list[Lookup] | None = None
_recorded_set: set[Lookup] = set()


@contextlib.contextmanager
def recording() -> Iterator[list[Lookup]]:
    """Collect the lookups made in the block into the list it yields."""
    global _recorded, _recorded_set
    previous = _recorded, _recorded_set
    _recorded, _recorded_set = [], set()
    try:
        yield _recorded
    finally:
        _recorded, _recorded_set = previous


def record(lookups: Iterable[Lookup]) -> None:
    """Record lookups that a result kept for the whole project was computed from.

    Such a result is computed in the first check that needs it, under its
    own `recording`, and every check that uses it records its lookups.
    """
    for lookup in lookups:
        _record(lookup.kind, lookup.arguments, lookup.result)


def _record(kind: str, arguments: tuple[str, ...], result: str) -> None:
    if _recorded is None:
        return
    lookup = Lookup(kind, arguments, result)
    if lookup not in _recorded_set:
        _recorded_set.add(lookup)
        _recorded.append(lookup)


def is_first_party(root: Path, package: str) -> bool:
    """Tell whether isort and ruff count a top-level package as the project's own.

    By default both look for a folder or a `.py` file of that name in the
    project root and in its `src` folder (their `src_paths` and `src`).
    """
    found = any(
        is_folder(folder / package) or is_regular_file(folder / f"{package}.py")
        for folder in (root, root / "src")
    )
    _record(FIRST_PARTY, (str(root), package), str(found))
    return found


def is_file(path: Path) -> bool:
    """Tell whether `path` is a regular file, or a link to one."""
    found = path.is_file()
    _record(IS_FILE, (str(path),), str(found))
    return found


def read_file(path: Path, max_bytes: int) -> bytes | None:
    """Return the bytes of `path`, or None when it is larger than `max_bytes` or unreadable.

    Only a regular file is read, so that a FIFO in its place cannot stop the run.
    """
    try:
        data: bytes | None = read_regular_file(path, max_bytes)
    except OSError:
        data = None
    _record(FILE_BYTES, (str(path), str(max_bytes)), _bytes_result(data))
    return data


def service_folder(root: Path, start: Path, known: dict[Path, Path]) -> Path:
    """Return the folder of the service that the files in the folder `start` belong to.

    That is the nearest folder from `start` up to `root` that declares
    dependencies (a requirements file, pyproject.toml, a lock file), or
    `root` resolved. `known` keeps the result by `start` for the project,
    and the lookup is recorded on every call, because each check keeps
    its own lookups.
    """
    found = known.get(start)
    if found is None:
        found = _nearest_declaring_folder(root, start)
        known[start] = found
    _record(SERVICE, (str(root), str(start)), str(found))
    return found


def _nearest_declaring_folder(root: Path, start: Path) -> Path:
    for folder in folders_up_to(root, start):
        if any(next(folder.glob(pattern), None) for pattern in DECLARATION_PATTERNS):
            return folder
    return root.resolve()


def _bytes_result(data: bytes | None) -> str:
    return UNREADABLE if data is None else hashlib.sha256(data).hexdigest()


def unchanged(lookups: list[Lookup], repeated: dict[Lookup, bool]) -> bool:
    """Tell whether every lookup gives the result it gave when it was recorded.

    `repeated` stores whether each lookup made again in this run gave its
    recorded result, because the checks of many files record the same
    lookup. Each file with a hard-coded key records the service of every
    other such file, for one. The files are taken to stay as they are while
    a run lasts.
    """
    for lookup in lookups:
        same = repeated.get(lookup)
        if same is None:
            same = _repeat(lookup) == lookup.result
            repeated[lookup] = same
        if not same:
            return False
    return True


def _repeat(lookup: Lookup) -> str | None:
    """Make a recorded lookup again, without recording it; None for an unknown kind."""
    global _recorded
    previous = _recorded
    _recorded = None
    try:
        if lookup.kind == FIRST_PARTY:
            root, package = lookup.arguments
            return str(is_first_party(Path(root), package))
        if lookup.kind == IS_FILE:
            return str(is_file(Path(lookup.arguments[0])))
        if lookup.kind == FILE_BYTES:
            path, max_bytes = lookup.arguments
            return _bytes_result(read_file(Path(path), int(max_bytes)))
        if lookup.kind == SERVICE:
            root, start = lookup.arguments
            return str(_nearest_declaring_folder(Path(root), Path(start)))
        return None
    except (TypeError, ValueError):
        # An entry of another layout: its arguments do not fit the kind.
        return None
    finally:
        _recorded = previous
