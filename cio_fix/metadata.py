"""Positions, parent links and name contexts, computed faster than libcst's providers.

`code_of` prints a node as `Module.code_for_node` does, `positions` gives
the same ranges as `libcst.metadata.PositionProvider`,
`parents` the same links as `ParentNodeProvider`, and `name_context` the
same context as `ExpressionContextProvider` for a name. Tests compare them
on real code. They cost less because they keep plain tuples until a range
is asked for, read children without rebuilding the tree, and look at a
name's ancestors only when asked about that name.
"""

from __future__ import annotations

import array
import bisect
import itertools
import re
from collections.abc import Iterator, Mapping
from typing import Any

import libcst as cst
from libcst._nodes.expression import _BaseParenthesizedNode
from libcst._nodes.internal import CodegenState
from libcst.metadata import CodePosition, CodeRange, ExpressionContext

from cio_fix.chains import CHAIN_FIELDS
from cio_fix.walk import TRIVIA_TYPES, child_nodes, comments_below


class _Ranges(Mapping[cst.CSTNode, CodeRange]):
    """Node -> CodeRange, built from the token indices where each node starts and ends.

    The spans leave out trivia, and the first lookup of a trivia node
    records every node's span. `code` is the module's code, printed on the way.
    """

    def __init__(
        self,
        module: cst.Module,
        spans: dict[cst.CSTNode, tuple[int, int]],
        tokens: list[str],
        code: str,
    ) -> None:
        self._module = module
        self._spans = _packed(spans)
        self.code = code
        # The offset in the printed code where each token starts, and where
        # the code ends, with the newline that libcst takes back counted. An
        # array, because every parsed file keeps it until it is checked.
        kind = "i" if len(code) < 2**31 - 1 else "q"
        self._token_offsets = array.array(
            kind, itertools.accumulate(map(len, tokens), initial=0)
        )
        self._line_starts = array.array(kind, _line_starts(tokens))
        self._complete = False
        self._ranges: dict[cst.CSTNode, CodeRange] = {}

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        found = self._ranges.get(node)
        if found is None:
            span = self._spans.get(node)
            if span is None and not self._complete:
                self._complete_spans()
                span = self._spans.get(node)
            if span is None:
                raise KeyError(node)
            found = CodeRange(
                self._position(span >> 32), self._position(span & 0xFFFFFFFF)
            )
            self._ranges[node] = found
        return found

    def __iter__(self) -> Iterator[cst.CSTNode]:
        if not self._complete:
            self._complete_spans()
        return iter(self._spans)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def _complete_spans(self) -> None:
        # The same module prints the same tokens, so the offsets still hold.
        self._spans = _packed(_spans(self._module, everything=True)[0])
        self._complete = True

    def _position(self, token_index: int) -> CodePosition:
        offset = self._token_offsets[token_index]
        line = bisect.bisect_right(self._line_starts, offset)
        return CodePosition(line, offset - self._line_starts[line - 1])


def _packed(spans: dict[cst.CSTNode, tuple[int, int]]) -> dict[cst.CSTNode, int]:
    """Pack each span's token indices into one int, about a third of a tuple's memory.

    Every parsed file keeps its spans until it is checked.
    """
    return {node: start << 32 | end for node, (start, end) in spans.items()}


# Line breaks as libcst's PositionProvider counts them.
_NEWLINE = re.compile(r"\r\n?|\n")


def _line_starts(tokens: list[str]) -> list[int]:
    """Return the offset in the joined tokens where each line starts.

    libcst counts the line breaks of each token on its own, so a "\\r" at
    the end of one token and a "\\n" at the start of the next are two.
    """
    code = "".join(tokens)
    if "\r" not in code:
        return [0, *(match.end() for match in _NEWLINE.finditer(code))]
    starts = [0]
    offset = 0
    for token in tokens:
        starts.extend(offset + match.end() for match in _NEWLINE.finditer(token))
        offset += len(token)
    return starts


class _NoPosition:
    """A `record_syntactic_position` context that records nothing."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: Any) -> None:
        return None


_NO_POSITION = _NoPosition()


class _PrintState(CodegenState):
    """Code generation without libcst's generator-based position context.

    libcst's `record_syntactic_position` is a `contextmanager`, entered for
    most nodes even when nothing reads the positions. With libcst 1.9 it
    took about a quarter of the time of printing a module of the benchmark
    corpus.
    """

    def record_syntactic_position(  # type: ignore[override]
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> _NoPosition:
        return _NO_POSITION


class _Parenthesized:
    """The parentheses libcst's `_parenthesize` prints around an expression, without a generator.

    libcst prints each expression and pattern inside
    `with self._parenthesize(state)`, a `contextmanager`. Making and
    running its generator cost about a fifth of printing a module of the
    benchmark corpus, in `code_of` and in `positions` alike.
    """

    __slots__ = ("node", "state", "inner")

    def __init__(self, node: Any, state: CodegenState) -> None:
        self.node = node
        self.state = state
        self.inner: Any = None

    def __enter__(self) -> None:
        for lpar in self.node.lpar:
            lpar._codegen(self.state)
        self.inner = self.state.record_syntactic_position(self.node)
        self.inner.__enter__()

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> bool:
        # As in the generator: after an error the right parentheses are
        # printed only if the position context swallowed it.
        swallowed = bool(self.inner.__exit__(kind, error, traceback))
        if kind is None or swallowed:
            for rpar in self.node.rpar:
                rpar._codegen(self.state)
        return swallowed


def _parenthesize(node: Any, state: CodegenState) -> _Parenthesized:
    return _Parenthesized(node, state)


# libcst's own version, kept for the tests that compare the two. It is
# replaced, for every libcst user in the process, only when its code is
# the one `_Parenthesized` copies.
LIBCST_PARENTHESIZE = _BaseParenthesizedNode._parenthesize
if getattr(LIBCST_PARENTHESIZE, "__wrapped__", None) is not None and (
    LIBCST_PARENTHESIZE.__wrapped__.__code__.co_names
    == ("lpar", "_codegen", "record_syntactic_position", "rpar")
):
    _BaseParenthesizedNode._parenthesize = _parenthesize  # type: ignore[assignment]


# The fields each chain type prints before and after the next link of its
# chain, inside its own parentheses.
_AROUND_LINK: dict[type[cst.CSTNode], tuple[tuple[str, ...], tuple[str, ...]]] = {
    cst.ConcatenatedString: (("left", "whitespace_between"), ()),
    cst.BinaryOperation: ((), ("operator", "right")),
    cst.BooleanOperation: ((), ("operator", "right")),
}
# libcst's printing of each chain type, kept for the links that end a chain.
LIBCST_CHAIN_CODEGEN = {kind: kind._codegen_impl for kind in _AROUND_LINK}
# The names each `_codegen_impl` uses in the libcst versions whose steps
# `_print_chain` copies.
_COPIED_NAMES: dict[type[cst.CSTNode], tuple[str, ...]] = {
    cst.ConcatenatedString: (
        "_parenthesize",
        "left",
        "_codegen",
        "whitespace_between",
        "right",
    ),
    cst.BinaryOperation: ("_parenthesize", "left", "_codegen", "operator", "right"),
    cst.BooleanOperation: ("_parenthesize", "left", "_codegen", "operator", "right"),
}


def _print_chain(node: Any, state: CodegenState) -> None:
    """Print a chain of implicitly joined strings, `+` or `and`/`or` with a loop.

    libcst prints each link by calling itself, two frames per link, so an
    inline email body of 500 adjacent literals would go past Python's
    recursion limit. This calls the same state methods in the same order.
    """
    kind = type(node)
    field = CHAIN_FIELDS[kind]
    if type(getattr(node, field)) is not kind:
        LIBCST_CHAIN_CODEGEN[kind](node, state)
        return
    before, after = _AROUND_LINK[kind]
    # Each link whose parentheses are open, outermost first.
    links: list[tuple[Any, Any]] = []
    try:
        link = node
        while True:
            parentheses = link._parenthesize(state)
            parentheses.__enter__()
            links.append((link, parentheses))
            for name in before:
                getattr(link, name)._codegen(state)
            following = getattr(link, field)
            if type(following) is not kind:
                following._codegen(state)
                break
            state.before_codegen(following)
            link = following
        while links:
            link, parentheses = links[-1]
            for name in after:
                getattr(link, name)._codegen(state)
            links.pop()
            parentheses.__exit__(None, None, None)
            if link is not node:
                state.after_codegen(link)
    except BaseException as error:
        # As nested `with` blocks do, close the open parentheses innermost first.
        while links:
            links.pop()[1].__exit__(type(error), error, error.__traceback__)
        raise


def _prints_as_copied() -> bool:
    """Tell whether libcst prints the chain types with the steps `_print_chain` copies."""
    steps = ("before_codegen", "_codegen_impl", "after_codegen")
    if cst.CSTNode._codegen.__code__.co_names != steps:
        return False
    return all(
        kind._codegen_impl.__code__.co_names == names  # type: ignore[attr-defined]
        for kind, names in _COPIED_NAMES.items()
    )


# Replaced, for every libcst user in the process, only when libcst's code
# is the one `_print_chain` copies.
if _prints_as_copied():
    for _kind in _AROUND_LINK:
        _kind._codegen_impl = _print_chain  # type: ignore[attr-defined]


_EMPTY_MODULE = cst.Module([])


def code_of(node: cst.CSTNode, module: cst.Module | None = None) -> str:
    """Return the code of `node` with the indentation and newline of `module`.

    Without `module`, a module is printed with its own and any other node
    with libcst's defaults.
    """
    if module is None:
        module = node if isinstance(node, cst.Module) else _EMPTY_MODULE
    state = _PrintState(module.default_indent, module.default_newline)
    node._codegen(state)
    return "".join(state.tokens)


def quoted_code(node: cst.CSTNode, module: cst.Module | None = None) -> str:
    """Return the code of `node` without its comments, for a message to quote.

    A message is one line, so the lines of the code it quotes are joined.
    A comment would then hide the code after it: `("plan_"  # prefix + plan)`.
    """
    if not comments_below(node):
        return code_of(node, module)
    without_comments = node.visit(_CommentRemover())
    assert isinstance(without_comments, cst.CSTNode)
    return code_of(without_comments, module)


class _CommentRemover(cst.CSTTransformer):
    """Remove every comment, with its line when it is alone there.

    A comment at the end of a line goes with the blanks before it.
    """

    def leave_TrailingWhitespace(
        self,
        original_node: cst.TrailingWhitespace,
        updated_node: cst.TrailingWhitespace,
    ) -> cst.TrailingWhitespace:
        if updated_node.comment is None:
            return updated_node
        return updated_node.with_changes(
            whitespace=cst.SimpleWhitespace(""), comment=None
        )

    def leave_EmptyLine(
        self, original_node: cst.EmptyLine, updated_node: cst.EmptyLine
    ) -> cst.EmptyLine | cst.RemovalSentinel:
        if updated_node.comment is None:
            return updated_node
        return cst.RemoveFromParent()


class _PositionState(CodegenState):
    """Code generation that records where each node starts and ends, as PositionProvider does.

    A span is a pair of token indices: the node's code starts at the first
    token and ends before the second. Lines and columns are counted later,
    from the printed code, and only for the nodes whose range is looked up.
    """

    def __init__(self, module: cst.Module, everything: bool) -> None:
        super().__init__(module.default_indent, module.default_newline)
        self.everything = everything
        self.spans: dict[cst.CSTNode, tuple[int, int]] = {}
        # The spans left out of `spans`, kept while the code is generated:
        # a node's syntactic range can end where a parenthesis ends.
        self.trivia: dict[cst.CSTNode, tuple[int, int]] = {}
        self._stack: list[int] = []
        # The node, start node, end node and first token of each open
        # `record_syntactic_position`.
        self._syntactic: list[tuple[Any, Any, Any, int]] = []
        # The module's last newline, which libcst prints and then takes back
        # when the code does not end with one. libcst's positions still
        # count it, so it stays in `tokens`.
        self.taken_back = False

    def pop_trailing_newline(self) -> None:
        self.taken_back = bool(self.tokens)

    def before_codegen(self, node: cst.CSTNode) -> None:
        self._stack.append(len(self.tokens))

    def after_codegen(self, node: cst.CSTNode) -> None:
        span = (self._stack.pop(), len(self.tokens))
        # A syntactic position recorded inside the node takes precedence, in
        # `spans` and in `span_of`.
        if self.everything or type(node) not in TRIVIA_TYPES:
            self.spans.setdefault(node, span)
        else:
            self.trivia[node] = span

    def span_of(self, node: cst.CSTNode) -> tuple[int, int]:
        found = self.spans.get(node)
        return found if found is not None else self.trivia[node]

    def record_syntactic_position(  # type: ignore[override]
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> _PositionState:
        # The state is its own context manager, so no object is made per call.
        # That works because libcst enters each context as soon as it gets it.
        self._syntactic.append((node, start_node, end_node, len(self.tokens)))
        return self

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: Any) -> None:
        node, start_node, end_node, start = self._syntactic.pop()
        if exc_info[0] is not None:
            # The printing stopped inside the node (past the recursion limit,
            # say), so its start or end node may have no span to look up.
            return
        if start_node is not None:
            start = self.span_of(start_node)[0]
        end = len(self.tokens)
        if end_node is not None:
            end = self.span_of(end_node)[1]
        self.spans[node] = (start, end)


def positions(module: cst.Module) -> _Ranges:
    """Return the syntactic range of every node of `module`, as PositionProvider does."""
    spans, tokens, code = _spans(module, everything=False)
    return _Ranges(module, spans, tokens, code)


def _spans(
    module: cst.Module, everything: bool
) -> tuple[dict[cst.CSTNode, tuple[int, int]], list[str], str]:
    """Print `module` and return the spans of its nodes, its tokens and its code."""
    state = _PositionState(module, everything)
    module._codegen(state)
    tokens = state.tokens
    code = "".join(tokens[:-1] if state.taken_back else tokens)
    return state.spans, tokens, code


def parents(module: cst.CSTNode) -> dict[cst.CSTNode, cst.CSTNode]:
    """Return the parent of every node below `module` (a module or any other node).

    The nodes come parents first, in source order, as in the index walk.
    """
    found: dict[cst.CSTNode, cst.CSTNode] = {}
    pending: list[tuple[cst.CSTNode, cst.CSTNode]] = [
        (child, module) for child in reversed(child_nodes(module))
    ]
    while pending:
        node, parent = pending.pop()
        found[node] = parent
        pending.extend((child, node) for child in reversed(child_nodes(node)))
    return found


# Statements and expressions whose `target` field a name is bound in.
_TARGET_STORES = (
    cst.AnnAssign,
    cst.AssignTarget,
    cst.AugAssign,
    cst.CompFor,
    cst.For,
    cst.NamedExpr,
)
# Definitions whose `name` field binds the name.
_NAME_STORES = (cst.AsName, cst.ClassDef, cst.FunctionDef, cst.Param)
# A marker: this ancestor leaves the context to the ancestors above it.
_INHERITED = object()


def is_target(node: cst.CSTNode, parent_of: Mapping[cst.CSTNode, cst.CSTNode]) -> bool:
    """Tell whether an assignment, `for`, `del` or `:=` binds `node`, also in a tuple.

    `node` may be a name, an attribute or a subscript (`rows[0] = ...`).
    """
    child = node
    parent = parent_of.get(child)
    while type(parent) in (cst.Element, cst.StarredElement, cst.Tuple, cst.List):
        child = parent
        parent = parent_of.get(child)
    if isinstance(parent, cst.AsName):
        return parent.name is child
    return isinstance(parent, (*_TARGET_STORES, cst.Del)) and parent.target is child


def is_deleted(node: cst.CSTNode, parent_of: Mapping[cst.CSTNode, cst.CSTNode]) -> bool:
    """Tell whether a `del` statement deletes `node`, also in a tuple or list."""
    parent = parent_of.get(node)
    while isinstance(parent, (cst.Element, cst.Tuple, cst.List)):
        parent = parent_of.get(parent)
    return isinstance(parent, cst.Del)


def name_context(
    name: cst.Name, parent_of: Mapping[cst.CSTNode, cst.CSTNode]
) -> ExpressionContext | None:
    """Return whether `name` is read, bound or deleted, as ExpressionContextProvider does.

    The nearest ancestor that decides the context gives it. The target of
    an assignment or a loop binds, `del` deletes, and the value of an
    attribute or a subscript is read. An attribute's own name, and the
    type parameters of a definition, have no context, as in libcst.
    """
    child: cst.CSTNode = name
    parent = parent_of.get(child)
    while parent is not None:
        found = _decided_by(parent, child)
        if found is not _INHERITED:
            return found  # type: ignore[return-value]
        child, parent = parent, parent_of.get(parent)
    return ExpressionContext.LOAD


def _decided_by(parent: cst.CSTNode, child: cst.CSTNode) -> object:
    if isinstance(parent, cst.Attribute):
        return None if child is parent.attr else ExpressionContext.LOAD
    if isinstance(parent, cst.Subscript):
        return ExpressionContext.LOAD
    if isinstance(parent, _TARGET_STORES):
        return ExpressionContext.STORE if child is parent.target else _INHERITED
    if isinstance(parent, cst.Del):
        return ExpressionContext.DEL
    if isinstance(parent, _NAME_STORES) and child is parent.name:
        return ExpressionContext.STORE
    if (
        isinstance(parent, (cst.ClassDef, cst.FunctionDef))
        and child is parent.type_parameters
    ):
        return None
    return _INHERITED
