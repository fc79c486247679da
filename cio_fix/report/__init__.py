"""Output formats: text for people, JSON for other tools."""

from __future__ import annotations

import codecs
import functools
import re
from collections.abc import Iterable

from cio_fix.model import RunResult, mask_secret


def redact(text: str, secrets: Iterable[str]) -> str:
    """Mask every secret in `text` the way the findings show it: `3f9a****`."""
    pattern = _secrets_pattern(frozenset(secrets))
    if pattern is None:
        return text
    return pattern.sub(lambda match: mask_secret(match.group(0)), text)


@functools.lru_cache(maxsize=4)
def _secrets_pattern(secrets: frozenset[str]) -> re.Pattern[str] | None:
    # Compiled once per run: a report redacts every line with the same secrets.
    ordered = sorted(secrets, key=len, reverse=True)
    if not ordered:
        return None
    return re.compile("|".join(re.escape(secret) for secret in ordered))


def unified_diffs(result: RunResult) -> list[tuple[str, list[str]]]:
    """Return (path, diff lines) for each changed file, sorted by path, secrets masked."""
    import difflib

    from cio_fix.engine import display_path

    diffs = []
    for file in result.changed_files:
        assert file.original is not None and file.fixed is not None
        path = display_path(file.path)
        encoding = patch_encoding(file.encoding)
        before = _patch_lines(file.original.decode(encoding))
        after = _patch_lines(file.fixed.decode(encoding))
        lines = []
        for line in difflib.unified_diff(before, after, f"a/{path}", f"b/{path}"):
            if line.endswith("\n"):
                lines.append(line[:-1])
            else:
                lines.append(line)
                lines.append("\\ No newline at end of file")
        # One substitution per file: the lines contain no line feed, so
        # joining and splitting them at line feeds gives the same lines.
        lines = redact("\n".join(lines), result.secrets).split("\n")
        diffs.append((path, lines))
    return diffs


def patch_encoding(encoding: str) -> str:
    """Return the encoding that gives a file's characters as a patch must show them.

    A UTF-8 file's BOM stays a character of its first line, as in `git diff`,
    so that the patch's context matches the file's bytes.
    """
    return "utf-8" if codecs.lookup(encoding).name == "utf-8-sig" else encoding


def diff_encodings(result: RunResult) -> dict[str, str]:
    """Return the encoding of each changed file's diff lines, by the path a diff shows."""
    from cio_fix.engine import display_path

    return {
        display_path(file.path): patch_encoding(file.encoding)
        for file in result.changed_files
    }


def _patch_lines(text: str) -> list[str]:
    """Split `text` into lines as git and patch do: after each line feed only.

    `str.splitlines` also splits at form feeds, carriage returns and other
    separators, and a diff of those lines does not apply. A CRLF line keeps
    its carriage return, so the diff of a CRLF file applies to it.
    """
    lines = [line + "\n" for line in text.split("\n")]
    last = lines.pop()[:-1]
    if last:
        lines.append(last)
    return lines
