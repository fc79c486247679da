"""Positions, parent links, name contexts and the tree walks agree with libcst's own.

The tree-order helpers of FileContext agree with positions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import libcst as cst
import pytest
from libcst._nodes.expression import _BaseParenthesizedNode
from libcst.metadata import (
    ExpressionContextProvider,
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
)

from cio_fix import pipeline
from cio_fix.config import Config
from cio_fix.customerio import build_index
from cio_fix.metadata import (
    LIBCST_CHAIN_CODEGEN,
    LIBCST_PARENTHESIZE,
    code_of,
    name_context,
    parents,
    positions,
    quoted_code,
)
from cio_fix.project import ProjectIndex
from cio_fix.rules import FileContext
from cio_fix.walk import TRIVIA, comments_below, descendants, find_all, walk
from cio_fix.writer import Source

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
    "bindings": (
        "a, (b, *c) = d[e] = f.g = h\n"
        "i: j = k\n"
        "l += m\n"
        "del n, o.p, q[r]\n"
        "for s.t[u] in [v for w in x if (y := w)]:\n"
        "    pass\n"
        "with z as (aa, bb):\n"
        "    import cc.dd as ee\n"
        "try:\n"
        "    pass\n"
        "except ff as gg:\n"
        "    global hh\n"
        "lambda ii=jj, *kk: ll\n"
        "match mm:\n"
        "    case [nn, *oo] if pp:\n"
        "        call(keyword=qq)\n"
    ),
    "tabs": "def f(x):\n\tif x:\n\t\treturn [\n\t\t\tx,\n\t\t]\n",
    "no_final_newline": "if x:\n    y = (1,\n         2)  # end",
    "carriage_return_at_end": "x = [\r    1,\r]\r\n\r",
    "chains": (
        'x = ("a"  # first\n     "b" f"{c}"\n     "d")\n'
        "y = (a + b) + (c - d) + e * f - g + (h)\n"
        "z = a and b and (c or d or e) or not f and g\n"
        'w = a ** b ** c, (("p" "q")), b"r" b"s" + t\n'
        "if (u or\n    v) and w:\n    pass\n"
    ),
    "type_parameters": (
        "class C[T: int](Base[T]):\n    def f[U](self, x: U) -> T: ...\ntype Alias[V] = list[V]\n"
    ),
}


def _cases() -> list[tuple[str, str]]:
    cases = [(path.relative_to(ROOT).as_posix(), path.read_text()) for path in SOURCES]
    return [*cases, *TRICKY.items()]


@contextlib.contextmanager
def _libcst_printing() -> Iterator[None]:
    """Print with libcst's own `_parenthesize` and chain printing, which cio_fix.metadata replaces."""
    ours = _BaseParenthesizedNode._parenthesize
    our_chains = {kind: kind._codegen_impl for kind in LIBCST_CHAIN_CODEGEN}
    _BaseParenthesizedNode._parenthesize = LIBCST_PARENTHESIZE
    for kind, codegen in LIBCST_CHAIN_CODEGEN.items():
        kind._codegen_impl = codegen
    try:
        yield
    finally:
        _BaseParenthesizedNode._parenthesize = ours
        for kind, codegen in our_chains.items():
            kind._codegen_impl = codegen


def test_parentheses_printed_without_generator() -> None:
    assert _BaseParenthesizedNode._parenthesize is not LIBCST_PARENTHESIZE


@pytest.mark.parametrize(
    ("code", "quoted"),
    [
        ("f(\n    a,  # why\n)", "f(\n    a,\n)"),
        ("[\n    a,  # first\n    # between\n    b,\n]", "[\n    a,\n    b,\n]"),
        ('f"a_{b  # the b\n}"', 'f"a_{b\n}"'),
        ('"# not a comment"', '"# not a comment"'),
    ],
    ids=["trailing", "own line", "f-string field", "in a string"],
)
def test_quoted_code_leaves_out_comments(code: str, quoted: str) -> None:
    expression = cst.parse_expression(code)

    assert quoted_code(expression) == quoted
    assert "#" in code_of(expression)


def test_chains_printed_with_loop() -> None:
    for kind, codegen in LIBCST_CHAIN_CODEGEN.items():
        assert kind._codegen_impl is not codegen, kind.__name__


@pytest.mark.parametrize(("name", "code"), _cases(), ids=[n for n, _ in _cases()])
def test_code_of_matches_libcst(name: str, code: str) -> None:
    module = cst.parse_module(code)
    blocks = find_all(module, cst.IndentedBlock)
    calls = find_all(module, cst.Call)
    with _libcst_printing():
        expected = module.code
        expected_blocks = [module.code_for_node(node) for node in blocks]
        expected_calls = [cst.Module([]).code_for_node(node) for node in calls]

    assert code_of(module) == expected
    assert [code_of(node, module) for node in blocks] == expected_blocks
    assert [code_of(node) for node in calls] == expected_calls
    assert module.code == expected


class _Recorder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.events.append(("visit", id(node)))
        return not isinstance(node, cst.Lambda)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.events.append(("leave", id(original_node)))


class _WalkRecorder:
    """A visitor with a `visit_<Node>` and a `leave_<Node>` method for every libcst node."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def _visit(self, node: cst.CSTNode) -> bool:
        self.events.append(("visit", id(node)))
        return not isinstance(node, cst.Lambda)

    def _leave(self, node: cst.CSTNode) -> None:
        self.events.append(("leave", id(node)))


for _name, _kind in vars(cst).items():
    if isinstance(_kind, type) and issubclass(_kind, cst.CSTNode):
        setattr(_WalkRecorder, f"visit_{_name}", _WalkRecorder._visit)
        setattr(_WalkRecorder, f"leave_{_name}", _WalkRecorder._leave)


@pytest.mark.parametrize(("name", "code"), _cases(), ids=[n for n, _ in _cases()])
def test_metadata_matches_libcst(name: str, code: str) -> None:
    module = cst.parse_module(code)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    with _libcst_printing():
        expected_positions = wrapper.resolve(PositionProvider)
    expected_parents = wrapper.resolve(ParentNodeProvider)
    expected_contexts = wrapper.resolve(ExpressionContextProvider)

    found_positions = positions(module)
    found_parents = parents(module)

    # Asked one by one, first every node but the trivia, then every node.
    # Whitespace that a node never prints (a `match` mapping's space before
    # a `**rest` it does not have) has no position in either.
    nodes = list(descendants(module))
    for node in sorted(nodes, key=lambda node: isinstance(node, TRIVIA)):
        if node in expected_positions:
            assert found_positions[node] == expected_positions[node]
        else:
            with pytest.raises(KeyError):
                found_positions[node]
    assert set(found_positions) == set(expected_positions)
    assert all(
        found_positions[node] == expected_positions[node] for node in found_positions
    )
    assert found_parents == dict(expected_parents)
    for node in find_all(module, cst.Name):
        assert name_context(node, found_parents) == expected_contexts.get(
            node
        ), node.value


@pytest.mark.parametrize(("name", "code"), _cases(), ids=[n for n, _ in _cases()])
def test_walks_follow_libcst_order(name: str, code: str) -> None:
    module = cst.parse_module(code)
    expected = _Recorder()
    module.visit(expected)

    found = _WalkRecorder()
    walk(module, found)  # type: ignore[arg-type]
    links: dict[cst.CSTNode, cst.CSTNode] = {}
    walk(module, cst.CSTVisitor(), links, trivia=True)

    assert found.events == expected.events
    assert links == parents(module)
    # The recorder does not enter lambdas; `descendants` does.
    visited = [node for event, node in expected.events if event == "visit"]
    seen = set(visited)
    assert [id(node) for node in descendants(module) if id(node) in seen] == visited


class _OnVisitRecorder(cst.CSTVisitor):
    """Overrides on_visit and returns None at calls, which libcst reads as "skip"."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.Name):
            self.names.append(node.value)
        return None if isinstance(node, cst.Call) else True  # type: ignore[return-value]


def test_walk_overridden_on_visit() -> None:
    module = cst.parse_module("a = b(c, d)\ne = f\n")
    expected = _OnVisitRecorder()
    module.visit(expected)

    found = _OnVisitRecorder()
    walk(module, found)

    assert found.names == expected.names == ["a", "e", "f"]


class _ChainRecorder(cst.CSTVisitor):
    """Records the chain links and names it passes, and enters no link next to `stop`."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def _visit_link(self, node: cst.CSTNode) -> bool:
        self.events.append(("visit", id(node)))
        return "stop" not in code_of(node.right).split()  # type: ignore[attr-defined]

    def _leave_link(self, node: cst.CSTNode) -> None:
        self.events.append(("leave", id(node)))

    visit_BinaryOperation = visit_BooleanOperation = _visit_link
    leave_BinaryOperation = leave_BooleanOperation = _leave_link

    def visit_ConcatenatedString(self, node: cst.ConcatenatedString) -> bool:
        self.events.append(("visit", id(node)))
        return node.left.value != '"stop"'  # type: ignore[union-attr]

    def leave_ConcatenatedString(self, node: cst.ConcatenatedString) -> None:
        self.events.append(("leave", id(node)))

    def visit_Name(self, node: cst.Name) -> None:
        self.events.append(("name", node.value))

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        self.events.append(("string", node.value))


@pytest.mark.parametrize(
    "code",
    [
        "x = a + b - stop + c * d + e\n",
        "x = a and b and stop and c or d or e\n",
        'x = "a" "b" "stop" "c" "d"\n',
        'x = "a" "b" "c" "stop"\n',
    ],
)
def test_walk_chain_link_not_entered(code: str) -> None:
    module = cst.parse_module(code)
    expected = _ChainRecorder()
    module.visit(expected)

    found = _ChainRecorder()
    walk(module, found)

    assert found.events == expected.events


# More links than Python's default recursion limit of 1,000 frames.
LONG_CHAINS = {
    "implicit": "x = (\n" + "".join(f'    "<p>{n}</p>"\n' for n in range(1200)) + ")\n",
    "plus": "x = (\n    a\n" + "".join(f"    + {n}\n" for n in range(1200)) + ")\n",
    "and": "x = (\n    a\n" + "".join(f"    and b{n}\n" for n in range(1200)) + ")\n",
    "or": "x = (\n    a\n" + "".join(f"    or b{n}\n" for n in range(1200)) + ")\n",
}


@pytest.mark.parametrize("kind", sorted(LONG_CHAINS))
def test_long_chain_printed_and_walked(kind: str) -> None:
    code = LONG_CHAINS[kind]
    module = cst.parse_module(code)
    last = find_all(module, cst.SimpleString, cst.Integer, cst.Name)[-1]

    with pipeline._stack_budget():
        printed = code_of(module)
        ranges = positions(module)
        links: dict[cst.CSTNode, cst.CSTNode] = {}
        walk(module, cst.CSTVisitor(), links, trivia=True)
        names = _OnVisitRecorder()
        walk(module, names)

    # The last operand is on the line before the closing parenthesis.
    lines = code.count("\n")
    assert printed == code
    assert module.code == code
    assert ranges[last].start.line == lines - 1
    assert ranges[module.body[0]].end.line == lines
    assert links == parents(module)
    assert len(names.names) == len(find_all(module, cst.Name))


def _context(code: str) -> FileContext:
    path = Path("example.py")
    module = cst.parse_module(code)
    index = build_index(module, "example", False)
    source = Source(path, code.encode(), code, "utf-8")
    project = ProjectIndex([])
    return FileContext(path, "example.py", source, module, index, project, Config())


@pytest.mark.parametrize(("name", "code"), _cases(), ids=[n for n, _ in _cases()])
def test_tree_order_agrees_with_positions(name: str, code: str) -> None:
    context = _context(code)
    nodes = [
        node
        for node in descendants(context.module)
        if isinstance(node, (cst.Call, cst.BaseSmallStatement))
    ][:60]
    statements = find_all(context.module, cst.SimpleStatementLine)
    where = context.position

    for first in nodes:
        for second in nodes:
            starts_first = (
                where(first).start.line,
                where(first).start.column,
            ) < (where(second).start.line, where(second).start.column)
            contains = first is not second and first in context.ancestors(second)
            assert context.comes_before(first, second) == (starts_first or contains)
    for statement in statements[:30]:
        end = where(statement).end
        for node in nodes:
            start = where(node).start
            after = (start.line, start.column) >= (end.line, end.column)
            assert context.follows(node, statement) == after
        start = where(statement).start
        line = context.source.text.splitlines()[start.line - 1]
        # A tab counts as four columns.
        width = len(line[: start.column].replace("\t", "    "))
        assert context.indent_column(statement) == width


def test_parent_links_in_walk_order() -> None:
    module = cst.parse_module(TRICKY["bindings"])

    assert list(parents(module)) == list(descendants(module))[1:]


def test_index_detects_shared_nodes() -> None:
    module = cst.parse_module("a = b\nc = d\n")
    shared = cst.Name("shared")
    first, second = module.body
    module = module.with_changes(
        body=[
            first.with_changes(body=[first.body[0].with_changes(value=shared)]),
            second.with_changes(body=[second.body[0].with_changes(value=shared)]),
        ]
    )
    space = cst.SimpleWhitespace(" ")
    spaced = cst.parse_module("a = b\n").visit(_SameSpace(space))

    assert build_index(module, "example", False).shared_nodes
    assert not build_index(spaced, "example", False).shared_nodes


class _SameSpace(cst.CSTTransformer):
    """Put one whitespace node everywhere a single space is."""

    def __init__(self, space: cst.SimpleWhitespace) -> None:
        super().__init__()
        self.space = space

    def leave_SimpleWhitespace(
        self, original_node: cst.SimpleWhitespace, updated_node: cst.SimpleWhitespace
    ) -> cst.SimpleWhitespace:
        return self.space if updated_node.value == " " else updated_node


@pytest.mark.parametrize(("name", "code"), _cases(), ids=[n for n, _ in _cases()])
def test_walks_skip_only_trivia(name: str, code: str) -> None:
    # The walks without trivia skip fields by their type annotations.
    module = cst.parse_module(code)
    everything = list(descendants(module))
    significant = [node for node in everything if not isinstance(node, TRIVIA)]
    index = build_index(module, "example", False)

    assert list(descendants(module, trivia=False)) == significant
    assert list(index.parents) == significant[1:]
    assert find_all(module, cst.Comment) == [
        node for node in everything if isinstance(node, cst.Comment)
    ]
    assert find_all(module, cst.CSTNode) == everything


@pytest.mark.parametrize(("name", "code"), _cases(), ids=[n for n, _ in _cases()])
def test_comments_below_finds_every_comment(name: str, code: str) -> None:
    module = cst.parse_module(code)
    expected = find_all(module, cst.Comment)

    found = comments_below(module)

    assert sorted(map(id, found)) == sorted(map(id, expected))
    for statement in module.body:
        assert len(comments_below(statement)) == len(find_all(statement, cst.Comment))


def test_walk_unresolvable_annotations(monkeypatch) -> None:
    # Without the annotations every field is read, and trivia is still skipped.
    import cio_fix.walk

    def unresolvable(kind: type) -> dict:
        raise NameError(kind.__name__)

    monkeypatch.setattr(cio_fix.walk, "_SIGNIFICANT_ORDER", {})
    monkeypatch.setattr(cio_fix.walk.typing, "get_type_hints", unresolvable)
    module = cst.parse_module(TRICKY["bindings"])
    everything = list(descendants(module))

    assert list(descendants(module, trivia=False)) == [
        node for node in everything if not isinstance(node, TRIVIA)
    ]
    assert (
        cio_fix.walk._SIGNIFICANT_ORDER[cst.Call] == cio_fix.walk._FIELD_ORDER[cst.Call]
    )


class _CallsAndComments(cst.CSTVisitor):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def visit_Call(self, node: cst.Call) -> None:
        self.seen.append("call")

    def visit_Comment(self, node: cst.Comment) -> None:
        self.seen.append(node.value)


def test_walk_trivia_only_for_trivia_visitor() -> None:
    module = cst.parse_module("f(  # why\n    x,\n)\n")
    comments = _CallsAndComments()
    walk(module, comments)
    parent_of: dict[cst.CSTNode, cst.CSTNode] = {}
    walk(module, cst.CSTVisitor(), parent_of)
    everything = list(descendants(module))

    assert comments.seen == ["call", "# why"]
    assert list(parent_of) == [
        node for node in everything[1:] if not isinstance(node, TRIVIA)
    ]
