"""The fixed text of files that libcst does not print back byte for byte."""

from __future__ import annotations

import libcst as cst
import pytest

from cio_fix.round_trip import (
    ChangedLineRewritten,
    RoundTrip,
    has_mixed_line_endings,
    physical_lines,
    with_source_line_endings,
)

# Lines 2 and 4 start with a form feed, which libcst leaves out.
SOURCE = "a = 1\n\x0cb = 2\nc = 3\n\x0cd = 4\ne = 5\n"


def _round_trip(source: str) -> RoundTrip:
    return RoundTrip(source, cst.parse_module(source).code)


def test_physical_lines_python_line_ends() -> None:
    text = "a\n\x0cb\r\nc\u2028d\re"

    assert physical_lines(text) == ["a\n", "\x0cb\r\n", "c\u2028d\r", "e"]


def test_round_trip_changed_lines() -> None:
    round_trip = _round_trip(SOURCE)

    assert round_trip.lines_align
    assert round_trip.changed == {1, 3}
    assert round_trip.first_changed_line == 2


def test_round_trip_lone_carriage_return_not_aligned() -> None:
    round_trip = _round_trip("a = 1\nb = 2\n\r")

    assert not round_trip.lines_align
    assert round_trip.first_changed_line == 3


def test_round_trip_keeps_unchanged_lines() -> None:
    round_trip = _round_trip(SOURCE)
    fixed = "a = 1\nb = 2\nc = 30\nd = 4\ne = 5\nf = 6\n"

    assert round_trip.line_fixes_change(fixed) is None
    assert round_trip.with_source_lines(fixed) == (
        "a = 1\n\x0cb = 2\nc = 30\n\x0cd = 4\ne = 5\nf = 6\n"
    )


def test_round_trip_insert_beside_changed_line() -> None:
    round_trip = _round_trip(SOURCE)
    fixed = "a = 1\nimport os\nb = 2\nc = 3\nd = 4\nx = 0\ne = 5\n"

    assert round_trip.line_fixes_change(fixed) is None
    assert round_trip.with_source_lines(fixed) == (
        "a = 1\nimport os\n\x0cb = 2\nc = 3\n\x0cd = 4\nx = 0\ne = 5\n"
    )


def test_round_trip_fix_of_changed_line() -> None:
    round_trip = _round_trip(SOURCE)
    fixed = "a = 1\nb = 2\nc = 3\nd = 40\ne = 5\n"

    assert round_trip.line_fixes_change(fixed) == 4
    with pytest.raises(ChangedLineRewritten) as raised:
        round_trip.with_source_lines(fixed)
    assert raised.value.line == 4


def test_round_trip_frequent_line_between_fixes() -> None:
    # `pass` is every eleventh line, which makes difflib's autojunk leave it
    # out of the matches. Line 110, one of them, starts with a form feed.
    printed = []
    for number in range(300):
        printed.append(f"x{number} = {number}\n")
        if number % 10 == 9:
            printed.append("pass\n")
    source = printed.copy()
    source[109] = "\x0cpass\n"
    fixed = printed.copy()
    fixed[108] = "x99 = 0\n"
    fixed[110] = "x100 = 0\n"
    round_trip = RoundTrip("".join(source), "".join(printed))

    assert round_trip.changed == {109}
    assert round_trip.line_fixes_change("".join(fixed)) is None
    kept = physical_lines(round_trip.with_source_lines("".join(fixed)))
    assert kept[108:111] == ["x99 = 0\n", "\x0cpass\n", "x100 = 0\n"]


def test_round_trip_last_line_without_its_carriage_return() -> None:
    round_trip = _round_trip("a = 1\rb = 2\r")

    assert round_trip.changed == {1}
    assert round_trip.line_fixes_change("a = 10\rb = 2") is None
    assert round_trip.with_source_lines("a = 10\rb = 2") == "a = 10\rb = 2\r"
    # A statement added after the last line gives it its line end back.
    assert round_trip.line_fixes_change("a = 1\rb = 2\rc = 3") == 2


@pytest.mark.parametrize(
    ("text", "mixed"),
    [
        ("a\nb\n", False),
        ("a\r\nb\r\n", False),
        ("a\rb\r", False),
        ("a", False),
        ("a\r\nb\n", True),
        ("a\nb\r", True),
        ("a\r\nb\r", True),
    ],
    ids=["lf", "crlf", "cr", "one-line", "crlf-lf", "lf-cr", "crlf-cr"],
)
def test_round_trip_mixed_line_endings(text: str, mixed: bool) -> None:
    assert has_mixed_line_endings(text) is mixed


def test_round_trip_source_line_endings_kept() -> None:
    source = "a = 1\r\n\nb = 2\nc = 3\r\n"
    # libcst writes the lines it makes with the first ending, \r\n.
    fixed = "import os\r\na = 1\r\n\r\nb = (\r\n    2\r\n)\r\nd = 4\r\nc = 3\r\n"

    restored = with_source_line_endings(source, fixed)

    # The blank line keeps its \n, the lines that replace `b = 2` take its
    # \n, and `d = 4` takes that of the line before it.
    assert restored == "import os\r\na = 1\r\n\nb = (\n    2\n)\nd = 4\nc = 3\r\n"


def test_round_trip_source_line_endings_last_line() -> None:
    source = "a = 1\nb = 2\r\nc = 3"
    fixed = "a = 1\r\nb = 2\r\nc = 3\r\nd = 4"

    restored = with_source_line_endings(source, fixed)

    # `c = 3` had no ending, so it takes the one that libcst wrote.
    assert restored == "a = 1\nb = 2\r\nc = 3\r\nd = 4"
