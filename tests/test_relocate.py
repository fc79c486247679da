"""Positions mapped from a file's original text to its fixed text."""

from __future__ import annotations

from cio_fix.relocate import PositionMap

ORIGINAL = """\
def login(form):
    cio = CustomerIO(
        SITE_ID,
        API_KEY,
    )
    cio.identify(id=form["email"], plan="1")
    cio.track(customer_id=form["email"], name="logged_in")
"""

FIXED = """\
import os

def login(form):
    cio = client()
    cio.identify(id=form["email"], plan="1")
    background(
        cio.track,
        customer_id=form["email"],
        name="logged_in",
    )
"""


def test_relocate_unchanged_line_moves_down() -> None:
    mapping = PositionMap(ORIGINAL, FIXED)

    assert mapping.start(6, 5) == (5, 5)
    assert mapping.end(6, 45) == (5, 45)


def test_relocate_bracket_line_anchors_nothing() -> None:
    # The `)` of the removed call must not match the `)` of the new one,
    # which would leave the identify line unmatched.
    mapping = PositionMap(ORIGINAL, FIXED)

    assert mapping.start(6, 18) == (5, 18)


def test_relocate_column_in_rewritten_line() -> None:
    mapping = PositionMap(ORIGINAL, FIXED)

    # `customer_id=form["email"]` starts at column 15 and moves to line 8.
    assert mapping.start(7, 15) == (8, 9)
    assert mapping.end(7, 40) == (8, 34)


def test_relocate_replaced_code_goes_to_replacement() -> None:
    mapping = PositionMap(ORIGINAL, FIXED)

    # `CustomerIO(` became `client()`: the start goes to the start of
    # `client`, and the end of the call to the end of its replacement.
    assert mapping.start(2, 11) == (4, 11)
    assert mapping.end(5, 6) == (4, 19)


MOVED_ORIGINAL = """\
def signup(user):
    cio.track(customer_id=user.id, name="signed_up")
    print("signed up")
    cio.identify(id=user.id, plan=3)
"""

MOVED_FIXED = """\
def signup(user):
    cio.identify(id=user.id, plan=3)
    cio.track(customer_id=user.id, name="signed_up")
    print("signed up")
"""


def test_relocate_moved_line_follows_it() -> None:
    mapping = PositionMap(MOVED_ORIGINAL, MOVED_FIXED)

    # `3` in `plan=3` is at column 35 of line 4, which the fix moved to line 2.
    assert mapping.start(4, 35) == (2, 35)
    assert mapping.end(4, 36) == (2, 36)


def test_relocate_moved_line_keeps_column_in_code() -> None:
    # The moved line is indented by 8 instead of 4 in the new text.
    fixed = MOVED_FIXED.replace(
        "    cio.identify", "    if user:\n        cio.identify"
    )
    mapping = PositionMap(MOVED_ORIGINAL, fixed)

    assert mapping.start(4, 35) == (3, 39)


def test_relocate_deleted_last_line_stays_in_file() -> None:
    original = "import os\n\nprint(os.sep)\ncio.identify(id=1)\n"
    fixed = "import os\n\nprint(os.sep)\n"
    mapping = PositionMap(original, fixed)

    assert mapping.start(4, 14) == (3, 1)
    assert mapping.end(4, 18) == (3, 14)


def test_relocate_deleted_line_goes_to_next() -> None:
    original = "a = 1\ncio.identify(id=1)\nb = 2\n"
    fixed = "a = 1\nb = 2\n"
    mapping = PositionMap(original, fixed)

    assert mapping.start(2, 1) == (2, 1)


def test_relocate_replaced_last_lines_stay_in_file() -> None:
    original = "a = 1\ncio.identify(id=1)\n"
    fixed = "a = 1\nclient().identify(id=1, plan='x')\n"
    mapping = PositionMap(original, fixed)

    line, _ = mapping.end(2, 19)
    assert line == 2


def test_relocate_text_without_final_line_break() -> None:
    original = "a = 1\ncio.identify(id=1)"
    fixed = "a = 1"
    mapping = PositionMap(original, fixed)

    # No line matches, since "a = 1" lost its line break.
    assert mapping.start(2, 5)[0] == 1
    assert mapping.end(2, 19) == (1, 6)
