"""Checks that cio-fix's exact-type tests on libcst nodes agree with isinstance.

Hot code compares `type(node)` with a libcst class instead of calling
isinstance, which is slow on libcst's abstract base classes. The two
agree only for a class without subclasses, and a libcst upgrade could
add one.
"""

from __future__ import annotations

import re
from pathlib import Path

import libcst as cst
import pytest

from cio_fix import handlers

SOURCES = sorted((Path(__file__).parent.parent / "cio_fix").rglob("*.py"))

# `type(node) is cst.Call`, `kind is not cst.Name`.
_IDENTITY = re.compile(r"\bis (?:not )?cst\.(\w+)(?![.\w])")
# `type(node) in (cst.Integer, cst.Float)`.
_MEMBERSHIP = re.compile(r"\bin \(((?:cst\.\w+,\s*)+cst\.\w+)\)")


def _exactly_compared() -> set[str]:
    names = set()
    for path in SOURCES:
        text = path.read_text()
        names.update(_IDENTITY.findall(text))
        for group in _MEMBERSHIP.findall(text):
            names.update(re.findall(r"cst\.(\w+)", group))
    return names


def test_exact_type_scan_finds_comparisons() -> None:
    names = _exactly_compared()

    assert "Call" in names
    assert "Integer" in names


@pytest.mark.parametrize("name", sorted(_exactly_compared()))
def test_exactly_compared_class_has_no_subclass(name: str) -> None:
    kind = getattr(cst, name)

    assert kind.__subclasses__() == []


@pytest.mark.parametrize(
    "kind",
    sorted(handlers._FUNCTION_TYPES | set(handlers.COMPREHENSIONS), key=str),
    ids=str,
)
def test_type_set_member_has_no_subclass(kind: type) -> None:
    assert kind.__subclasses__() == []
