"""Trailing comments that tools read as directives about the code on their line.

`# noqa` (flake8, ruff), `# type: ignore` (mypy), `# pyright: ignore`,
`# pragma: no cover` (coverage.py) and `# fmt: skip` (black) are about the
line that they end: ruff and mypy silence only the errors that they report
on that line. A fix that splits such a line must keep the comment on the
line that contains the code it is about.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import libcst as cst

from cio_fix.metadata import code_of

# ruff's pragma comments (`is_pragma_comment` in its `ruff_python_trivia`
# crate), with coverage.py's `pragma:` and black's `fmt:`. One comment may
# contain several directives, each after a `#` of its own.
_DIRECTIVE = re.compile(
    r"#\s*(?:noqa(?:\s*:\s*(?P<codes>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*))?"
    r"|nosec"
    r"|(?:type|pyright|pyrefly|pylint|flake8|ruff|ty|isort|pragma|fmt)\s*:)",
    re.IGNORECASE,
)
# black's `# fmt: skip`, alone or among other comments on the line.
_FMT_SKIP = re.compile(r"^fmt:\s?skip$")
# The comments that `ruff format` leaves out of the width of the line they
# end: `is_pragma_comment` of ruff's `ruff_python_trivia` crate, checked
# against ruff 0.17.6. The directive must start the comment.
_RUFF_PRAGMA = re.compile(
    r"#\s*(?:(?i:noqa)|nosec|(?:isort|type|pyright|pylint|flake8|ruff|ty|pyrefly):)"
)


def is_line_pragma(comment: str) -> bool:
    """Tell whether a comment contains a directive about the code on its line.

    cio-fix reads its own `# noqa: CIO304` on every line of a statement, so
    a `noqa` that names only cio-fix codes is not bound to its line.
    """
    for directive in _DIRECTIVE.finditer(comment):
        codes = directive.group("codes")
        if codes is None or not _only_cio_codes(codes):
            return True
    return False


def _only_cio_codes(codes: str) -> bool:
    return all(code.upper().startswith("CIO") for code in re.split(r"[\s,]+", codes))


def black_keeps_line(comment: str) -> bool:
    """Tell whether black leaves a one-line statement that ends with `comment` whole.

    black 26.10 does not split a line that ends with `# type: ignore...`,
    because it cannot tell which part of the line the comment is about
    (`Line.contains_unsplittable_type_ignore`), and leaves a line that
    ends with `# fmt: skip` as it is. A line that ends with any other
    directive is split like any other line, with the comment after the
    closing bracket.
    """
    text = comment[1:].lstrip()
    if text.startswith("type:") and text[len("type:") :].lstrip().startswith("ignore"):
        return True
    return _skips_formatting(comment)


def formatter_keeps_line(comment: str, ruff_layout: bool) -> bool:
    """Tell whether the project's formatter keeps a statement that ends with `comment` on one line.

    `ruff format` (0.17.6) keeps only a line that ends with `# fmt: skip`.
    Unlike black, it splits a `# type: ignore` line that is too long, and
    puts the comment after the closing bracket.
    """
    if ruff_layout:
        return _skips_formatting(comment)
    return black_keeps_line(comment)


def _skips_formatting(comment: str) -> bool:
    parts = re.split(r"[#;]", comment)
    return any(_FMT_SKIP.match(part.strip()) for part in parts)


def formatter_counts_comment(comment: str, ruff_layout: bool) -> bool:
    """Tell whether the project's formatter counts `comment`, which ends a line, in its width.

    black counts every comment. `ruff format` counts none of its pragma
    comments (`# noqa`, `# type:` and others), so a line that fits
    without one stays whole.
    """
    return not (ruff_layout and _RUFF_PRAGMA.match(comment))


def may_end_with_ruff_pragma(line: str) -> bool:
    """Tell whether a line of code may end with a comment that `ruff format` does not count.

    The text is searched, not parsed, so a string that contains `# noqa`
    counts too.
    """
    return "#" in line and any(
        _RUFF_PRAGMA.match(line, index) for index in _hashes(line)
    )


def formatter_line_width(line: str, ruff_layout: bool) -> int:
    """Return the width that the project's formatter gives a line of code.

    Under `ruff format`, a pragma comment that starts at the line's first
    `#` does not count. The text is searched, not parsed, so a `#` inside
    a string before the comment leaves the whole line counted.
    """
    if not ruff_layout:
        return len(line)
    index = line.find("#")
    if index == -1 or not _RUFF_PRAGMA.match(line, index):
        return len(line)
    return len(line[:index].rstrip())


def _hashes(line: str) -> Iterator[int]:
    index = line.find("#")
    while index != -1:
        yield index
        index = line.find("#", index + 1)


def line_pragma(statement: cst.CSTNode) -> cst.Comment | None:
    """Return the directive that ends a simple statement written on one line, else None."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return None
    comment = statement.trailing_whitespace.comment
    if comment is None or not is_line_pragma(comment.value):
        return None
    return comment if spans_one_line(statement) else None


def spans_one_line(statement: cst.SimpleStatementLine) -> bool:
    """Tell whether a statement, without the comment lines above it, is one line."""
    return len(code_of(statement.with_changes(leading_lines=())).splitlines()) == 1


# Directives that silence a finding about a hard-coded secret: the S105,
# S106 and S107 of ruff and flake8-bandit, bandit's `nosec` (alone or with
# B105, B106 or B107) and detect-secrets' `pragma: allowlist secret`.
_SECRET_DIRECTIVE = re.compile(
    r"noqa\s*:\s*S10[5-7](?:[\s,]+S10[5-7])*"
    r"|nosec(?:\s+B10[5-7](?:[\s,]+B10[5-7])*)?"
    r"|pragma\s*:\s*allowlist\s+secret",
    re.IGNORECASE,
)
# One of those directives, optionally followed by the reason for it after a
# dash: `nosec B106 - rotated weekly`. Text without the dash could be more
# codes (`noqa: S106 E501`), or bandit test names, which bandit reads up to
# the next `#`.
_SECRET_DIRECTIVE_PART = re.compile(
    rf"(?:{_SECRET_DIRECTIVE.pattern})(?:\s+[-\u2013\u2014]+(?:\s.*)?)?",
    re.IGNORECASE,
)


def silences_secret_only(comment: str) -> bool:
    """Tell whether each part of a comment is a directive about a hard-coded secret.

    Such a comment is about the key on its line: it goes where the key
    goes, and it has nothing left to silence once the key is read from
    the environment. The reason after a directive's dash goes with it,
    but a part of its own after another `#` is a comment that stays.
    """
    parts = comment.split("#")[1:]
    return bool(parts) and all(
        _SECRET_DIRECTIVE_PART.fullmatch(part.strip()) for part in parts
    )


def mentions_secret_directive(text: str) -> bool:
    """Tell whether source text may contain a directive of `silences_secret_only`.

    A file without one needs no look at the comments of its keys.
    """
    return _SECRET_DIRECTIVE.search(text) is not None
