"""Requirements files and the files their `-r` and `-c` lines include, without libcst."""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

from cio_fix.files import read_regular_text, resolve_or_none

logger = logging.getLogger(__name__)

# The requirements files read in each folder. Files that they include are
# read too, wherever they sit in the project.
REQUIREMENTS_PATTERNS = ("requirements*.txt", "requirements/*.txt", "requirements*.in")
# The files that install the project itself, read before side files such as
# requirements-dev.txt. requirements.txt comes first because pip-tools
# compiles requirements.in into its exact pins.
MAIN_REQUIREMENTS = ("requirements.txt", "requirements.in")

# pip's options that read another file: `-r base.txt`, `-rbase.txt`,
# `--requirement=base.txt`, and the same for constraints files, whose
# pins decide the installed version as well.
_INCLUDE = re.compile(r"\s*(?:-[rc]|--(?:requirement|constraint)(?=[\s=]))[\s=]*")
# A comment, as pip finds one: a `#` at the start or after whitespace.
_COMMENT = re.compile(r"(?:^|\s)#")


def requirements_files(folder: Path) -> list[Path]:
    """Return the requirements files of `folder`: the main files first, then the others.

    The others come in the order of REQUIREMENTS_PATTERNS, each pattern's
    files sorted by name.
    """
    found = []
    for pattern in REQUIREMENTS_PATTERNS:
        found += sorted(folder.glob(pattern))
    main = [path for name in MAIN_REQUIREMENTS if (path := folder / name) in found]
    return main + [path for path in found if path not in main]


def requirement_lines(
    path: Path, root: Path, seen: set[Path]
) -> Iterator[tuple[Path, str]]:
    """Yield the lines of a requirements file, each with its file, and includes in place.

    pip reads an included file relative to the file that names it. Only
    files inside `root` are read, each once: `seen` contains the resolved
    paths read so far, so that files including each other end. A missing
    or unreadable file gives no lines. pip would fail on it, but cio-fix
    only learns that the version is not declared there.
    """
    if not _first_visit(path, seen):
        return
    stack = [(path, iter(_lines(path)))]
    while stack:
        current, lines = stack[-1]
        line = next(lines, None)
        if line is None:
            stack.pop()
            continue
        included = _included_path(current, line)
        if included is None:
            yield current, line
            continue
        if _inside(included, root) and _first_visit(included, seen):
            stack.append((included, iter(_lines(included))))


def included_files(folder: Path, root: Path) -> list[Path]:
    """Return every file that the requirements files of `folder` include, missing ones too."""
    tops = requirements_files(folder)
    seen: set[Path] = set()
    for path in tops:
        for _ in requirement_lines(path, root, seen):
            pass
    resolved_tops = {resolve_or_none(path) for path in tops}
    return sorted(seen - resolved_tops)


def _included_path(including: Path, line: str) -> Path | None:
    """Return the file that a `-r` or `-c` line names, or None for another line or a URL."""
    match = _INCLUDE.match(line)
    if match is None:
        return None
    try:
        words = shlex.split(line[match.end() :], comments=True)
    except ValueError:
        return None
    if not words or "://" in words[0] or words[0].startswith("file:"):
        return None
    return including.parent / words[0]


def _inside(path: Path, root: Path) -> bool:
    resolved = resolve_or_none(path)
    top = resolve_or_none(root)
    if resolved is None or top is None:
        return False
    return resolved == top or top in resolved.parents


def _first_visit(path: Path, seen: set[Path]) -> bool:
    resolved = resolve_or_none(path)
    if resolved is None or resolved in seen:
        return False
    seen.add(resolved)
    return True


def _lines(path: Path) -> list[str]:
    try:
        text = read_regular_text(path)
    except OSError as error:
        logger.debug("%s: not read for the SDK version (%s)", path, error)
        return []
    return _joined(text.splitlines())


def _joined(lines: list[str]) -> list[str]:
    """Join each line that ends with a backslash to the next one, as pip does.

    pip leaves a line with a comment as it is, backslash included.
    """
    joined: list[str] = []
    pending: list[str] = []
    for line in lines:
        if line.endswith("\\") and _COMMENT.search(line) is None:
            pending.append(line[:-1])
            continue
        joined.append("".join(pending) + line)
        pending = []
    if pending:
        joined.append("".join(pending))
    return joined
