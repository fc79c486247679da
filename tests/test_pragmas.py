"""Directive comments such as `# noqa` and `# type: ignore`, which apply to their line."""

from __future__ import annotations

import subprocess
import sys

import black
import libcst as cst
import pytest

from cio_fix.pragmas import (
    black_keeps_line,
    formatter_counts_comment,
    formatter_keeps_line,
    formatter_line_width,
    is_line_pragma,
    line_pragma,
    silences_secret_only,
)


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        ("# noqa", True),
        ("# noqa: DTZ005", True),
        ("# NOQA:E501", True),
        ("#noqa", True),
        ("# type: ignore", True),
        ("# type: ignore[no-untyped-call]", True),
        ("# pyright: ignore[reportCallIssue]", True),
        ("# pragma: no cover", True),
        ("# fmt: skip", True),
        ("# nosec B113", True),
        ("# pylint: disable=invalid-name", True),
        ("# sent first today  # noqa: E501", True),
        ("# noqa: CIO301, E501", True),
        ("# noqa: CIO301, CIO304", False),
        ("# noqa: cio304  # type: ignore", True),
        ("# the first visit", False),
        ("# a type of event", False),
        ("# see the pragma section", False),
        ("# knowqa", False),
    ],
)
def test_is_line_pragma_table(comment: str, expected: bool) -> None:
    assert is_line_pragma(comment) is expected


def _black_keeps(comment: str) -> bool:
    """Tell whether black leaves a too-long call that ends with `comment` on one line."""
    code = (
        f"result = call(first_argument, second_argument, third_argument)  {comment}\n"
    )
    formatted = black.format_str(code, mode=black.Mode(line_length=40))
    return len(formatted.splitlines()) == 1


@pytest.mark.parametrize(
    "comment",
    [
        "# type: ignore",
        "# type: ignore[no-untyped-call]",
        "#type:ignore",
        "# fmt: skip",
        "# fmt:skip",
        "# noqa: E501  # fmt: skip",
        "# noqa: DTZ005",
        "# pyright: ignore",
        "# pragma: no cover",
        "# noqa  # type: ignore",
        "# the first visit",
    ],
)
def test_black_keeps_line_matches_black(comment: str) -> None:
    assert black_keeps_line(comment) is _black_keeps(comment)


def _ruff_keeps(code: str) -> bool:
    """Tell whether `ruff format` at 40 columns leaves a one-line statement as it is."""
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--line-length", "40", "-"],
        input=code,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return len(formatted.splitlines()) == 1


RUFF_COMMENTS = [
    "# type: ignore",
    "# type: ignore[call-arg]",
    "# noqa: E501",
    "# NOQA",
    "# nosec",
    "# pyright: ignore",
    "# pylint: disable=x",
    "# ruff: noqa",
    "# ty: ignore",
    "# fmt: skip",
    "# noqa: E501  # fmt: skip",
    "# pragma: no cover",
    "# the first visit # noqa",
    "# type : ignore",
]


@pytest.mark.parametrize("comment", RUFF_COMMENTS)
def test_formatter_counts_comment_matches_ruff(comment: str) -> None:
    # The code fits in 40 columns, the comment makes the line longer.
    code = f"result = call(first, second)  {comment}\n"

    counted = formatter_counts_comment(comment, ruff_layout=True)
    keeps = formatter_keeps_line(comment, ruff_layout=True) or not counted

    assert keeps is _ruff_keeps(code)


@pytest.mark.parametrize("comment", RUFF_COMMENTS)
def test_formatter_keeps_line_matches_ruff(comment: str) -> None:
    code = f"result = call(first_argument, second_argument, third)  {comment}\n"

    assert formatter_keeps_line(comment, ruff_layout=True) is _ruff_keeps(code)


def test_formatter_counts_comment_black() -> None:
    assert formatter_counts_comment("# noqa: E501", ruff_layout=False)


@pytest.mark.parametrize(
    ("line", "ruff_width"),
    [
        ("x = call(a)  # noqa: S106", len("x = call(a)")),
        ("x = call(a)  # a note", len("x = call(a)  # a note")),
        ('x = call("#")  # noqa', len('x = call("#")  # noqa')),
    ],
)
def test_formatter_line_width(line: str, ruff_width: int) -> None:
    assert formatter_line_width(line, ruff_layout=True) == ruff_width
    assert formatter_line_width(line, ruff_layout=False) == len(line)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("cio.track(uid, 'visit')  # noqa: DTZ005\n", "# noqa: DTZ005"),
        ("# Start the series.\ncio.track(uid, 'visit')  # noqa\n", "# noqa"),
        ("cio.track(uid, 'visit')  # the first visit\n", None),
        ("cio.track(\n    uid, 'visit'\n)  # noqa: DTZ005\n", None),
        ("cio.track(uid, '''a\nb''')  # noqa: DTZ005\n", None),
    ],
    ids=["one-line", "comment-above", "plain-comment", "split-call", "long-string"],
)
def test_line_pragma_of_statement(code: str, expected: str | None) -> None:
    statement = cst.parse_module(code).body[0]

    comment = line_pragma(statement)

    assert (comment.value if comment is not None else None) == expected


@pytest.mark.parametrize(
    "comment",
    [
        "# noqa: S106",
        "# nosec",
        "# nosec B105",
        "# noqa: S105  # nosec",
        "# nosec B106 - rotated weekly",
        "# noqa: S106 -- test key",
        "# pragma: allowlist secret \u2014 test key",
    ],
)
def test_pragmas_secret_directive(comment: str) -> None:
    assert silences_secret_only(comment)


@pytest.mark.parametrize(
    "comment",
    [
        "# noqa",
        "# noqa: S106, E501",
        "# type: ignore",
        "# nosec  # the test key",
        "# nosec B106 rotated weekly",
        "# noqa: S106 E501 - line too long",
        "# nosec-test",
    ],
)
def test_pragmas_not_only_secret_directive(comment: str) -> None:
    assert not silences_secret_only(comment)
