"""Output formats: text for people, JSON for other tools."""

from __future__ import annotations

import codecs
import functools
import re
from collections.abc import Iterable
from pathlib import Path

from cio_fix.model import RunResult, mask_secret


def plural(count: int, word: str, plural_word: str | None = None) -> str:
    """Return `count` and `word`, or its plural (`word` + "s" by default) unless it is 1."""
    return f"{count} {word if count == 1 else plural_word or word + 's'}"


def redact(text: str, secrets: Iterable[str]) -> str:
    """Mask every secret in `text` the way the findings show it: `3f9a****`."""
    pattern = _secrets_pattern(frozenset(secrets))
    if pattern is None:
        return text
    return pattern.sub(lambda match: mask_secret(match.group(0)), text)


# A run of ASCII letters and digits that is not part of a longer one.
_TOKEN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{16,}(?![A-Za-z0-9])")
_HEX = re.compile(r"[0-9a-f]+|[0-9A-F]+")
# Lengths of git object ids (SHA-1, SHA-256), which links and messages show.
_OBJECT_ID_LENGTHS = (40, 64)
# Minimum length of a token of letters and digits, not hexadecimal, that is
# masked as a key. Shorter ones are too often names.
MIN_ALPHANUMERIC_KEY = 24


def mask_credential_shapes(text: str) -> str:
    """Mask every token that has the shape of a Customer.io credential: `5e6f****`.

    This catches keys that no finding reported, such as a key in a comment
    or a docstring that a diff excerpt shows. Track API site IDs and keys
    are 20 hexadecimal characters, and App API keys are 32 characters long
    (GitGuardian's Customer.io detectors). A hexadecimal token of 16 or more
    characters with at least two digits and two letters is masked, unless
    it has the length of a git object id. A token of other letters and
    digits (a write key) is masked from MIN_ALPHANUMERIC_KEY characters
    with at least four of each. Identifiers with `_`, numbers, UUIDs and
    `0x` literals do not have these shapes.
    """
    return _TOKEN.sub(_mask_token, text)


def _mask_token(match: re.Match[str]) -> str:
    token = match.group(0)
    digits = sum(character.isdigit() for character in token)
    letters = len(token) - digits
    if _HEX.fullmatch(token):
        is_key = len(token) not in _OBJECT_ID_LENGTHS and digits >= 2 and letters >= 2
    else:
        is_key = len(token) >= MIN_ALPHANUMERIC_KEY and digits >= 4 and letters >= 4
    return mask_secret(token) if is_key else token


@functools.lru_cache(maxsize=4)
def _secrets_pattern(secrets: frozenset[str]) -> re.Pattern[str] | None:
    # Compiled once per run: a report redacts every line with the same secrets.
    ordered = sorted(secrets, key=len, reverse=True)
    if not ordered:
        return None
    return re.compile("|".join(re.escape(secret) for secret in ordered))


# The characters that make a file name quoted. They are the control
# characters (Unicode category Cc), the line and paragraph separators, `"`
# and `\`. Marks and overrides that change the direction of text are quoted
# too, because a log would show another name. So are the lone surrogates
# that stand for bytes that are not UTF-8 (surrogateescape).
_NEEDS_QUOTING = re.compile(
    r'[\x00-\x1f\x7f-\x9f"\\\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\udc80-\udcff]'
)
# git's C-style escapes for file names. Other characters are written as the
# octal values of their bytes.
_PATH_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    '"': '\\"',
    "\\": "\\\\",
}


def quoted_path(path: str) -> str:
    """Quote a file name as git does when it contains a character of `_NEEDS_QUOTING`.

    A line feed in a name would otherwise split a report line or a diff
    header in two, and the second half would read as a line of its own.
    Other names are returned as they are, non-ASCII letters included.
    """
    if _NEEDS_QUOTING.search(path) is None:
        return path
    return '"' + _NEEDS_QUOTING.sub(_escaped, path) + '"'


def _escaped(match: re.Match[str]) -> str:
    character = match.group(0)
    if character in _PATH_ESCAPES:
        return _PATH_ESCAPES[character]
    data = character.encode("utf-8", "surrogateescape")
    return "".join(f"\\{byte:03o}" for byte in data)


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
        # A file outside the working directory has an absolute path, which
        # takes no `a/` and `b/` prefixes, as in `diff -u`.
        absolute = Path(path).is_absolute()
        old, new = (path, path) if absolute else (f"a/{path}", f"b/{path}")
        old, new = quoted_path(old), quoted_path(new)
        lines = []
        for line in difflib.unified_diff(before, after, old, new):
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
