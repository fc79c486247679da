"""Positions, parent links and the tree walk agree with libcst's own providers."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from cio_fix.metadata import parents, positions
from cio_fix.walk import walk

ROOT = Path(__file__).parent.parent
SOURCES = sorted(
    [
        *ROOT.glob("tests/fixtures/**/*.py"),
        *ROOT.glob("examples/**/*.py"),
        *ROOT.glob("cio_fix/**/*.py"),
    ]
)

TRICKY = {
    "crlf": "x = 1\r\nif x:\r\n    y = f'{x!r:>{10}}'\r\n",
    "carriage_returns": "x = 1\ry = 2\r",
    "decorated": "@a.b(c)\n@d\nasync def f(x, /, *a, k=1, **kw) -> int:\n    return (yield x)\n",
    "strings": 'a = """one\ntwo""" + b"\\x00" + f"{a=}" f"{b:{c}}"\n',
    "comments": "# top\n\nclass C(  # why\n    B,\n):\n    '''Doc.'''\n",
}


def _cases() -> list[tuple[str, str]]:
    cases = [(path.relative_to(ROOT).as_posix(), path.read_text()) for path in SOURCES]
    return [*cases, *TRICKY.items()]


class _Recorder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.events.append(("visit", id(node)))
        return not isinstance(node, cst.Lambda)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.events.append(("leave", id(original_node)))


class _WalkRecorder:
    """A visitor with a handler for every `visit_<Node>` and `leave_<Node>` lookup of `walk`."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def __getattr__(self, name: str):
        if name.startswith("visit_"):
            return self._visit
        if name.startswith("leave_"):
            return lambda node: self.events.append(("leave", id(node)))
        raise AttributeError(name)

    def _visit(self, node: cst.CSTNode) -> bool:
        self.events.append(("visit", id(node)))
        return not isinstance(node, cst.Lambda)


@pytest.mark.parametrize(("name", "code"), _cases(), ids=[n for n, _ in _cases()])
def test_metadata_matches_libcst(name: str, code: str) -> None:
    module = cst.parse_module(code)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    expected_positions = wrapper.resolve(PositionProvider)
    expected_parents = wrapper.resolve(ParentNodeProvider)

    found_positions = positions(module)
    found_parents = parents(module)

    assert set(found_positions) == set(expected_positions)
    assert all(
        found_positions[node] == expected_positions[node] for node in found_positions
    )
    assert found_parents == dict(expected_parents)


@pytest.mark.parametrize(("name", "code"), _cases(), ids=[n for n, _ in _cases()])
def test_walk_visits_in_libcst_order(name: str, code: str) -> None:
    module = cst.parse_module(code)
    expected = _Recorder()
    module.visit(expected)

    found = _WalkRecorder()
    walk(module, found)

    assert found.events == expected.events
