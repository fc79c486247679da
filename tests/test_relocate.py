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
