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

from collections.abc import Iterator, Mapping
from typing import Any

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst.metadata import CodePosition, CodeRange, ExpressionContext

from cio_fix.walk import TRIVIA_TYPES, child_nodes


class _Ranges(Mapping[cst.CSTNode, CodeRange]):
    """Node -> CodeRange, built from (start line, start column, end line, end column).

    The spans leave out trivia, and the first lookup of a trivia node
    records every node's span. `code` is the module's code, printed on the way.
    """

    def __init__(
        self,
        module: cst.Module,
        spans: dict[cst.CSTNode, tuple[int, int, int, int]],
        code: str,
    ) -> None:
        self._module = module
        self._spans = spans
        self.code = code
        self._complete = False
        self._ranges: dict[cst.CSTNode, CodeRange] = {}

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        found = self._ranges.get(node)
        if found is None:
            span = self._spans.get(node)
            if span is None and not self._complete:
                self._spans = _spans(self._module, everything=True)[0]
                self._complete = True
                span = self._spans.get(node)
            if span is None:
                raise KeyError(node)
            line, column, end_line, end_column = span
            found = CodeRange(
                CodePosition(line, column), CodePosition(end_line, end_column)
            )
            self._ranges[node] = found
        return found

    def __iter__(self) -> Iterator[cst.CSTNode]:
        if not self._complete:
            self._spans = _spans(self._module, everything=True)[0]
            self._complete = True
        return iter(self._spans)

    def __len__(self) -> int:
        return sum(1 for _ in self)


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


class _SyntacticPosition:
    """The context manager of `record_syntactic_position`, without a generator."""

    __slots__ = ("state", "node", "start_node", "end_node", "line", "column")

    def __init__(
        self,
        state: _PositionState,
        node: cst.CSTNode,
        start_node: cst.CSTNode | None,
        end_node: cst.CSTNode | None,
    ) -> None:
        self.state = state
        self.node = node
        self.start_node = start_node
        self.end_node = end_node

    def __enter__(self) -> None:
        self.line = self.state.line
        self.column = self.state.column

    def __exit__(self, *exc_info: Any) -> None:
        state = self.state
        spans = state.spans
        start = (self.line, self.column)
        if self.start_node is not None:
            start = state.span_of(self.start_node)[:2]
        end = (state.line, state.column)
        if self.end_node is not None:
            end = state.span_of(self.end_node)[2:]
        spans[self.node] = (*start, *end)


class _PositionState(CodegenState):
    """Code generation that records where each node starts and ends, as PositionProvider does."""

    def __init__(self, module: cst.Module, everything: bool) -> None:
        super().__init__(module.default_indent, module.default_newline)
        self.everything = everything
        self.line = 1
        self.column = 0
        self.spans: dict[cst.CSTNode, tuple[int, int, int, int]] = {}
        # The spans left out of `spans`, kept while the code is generated:
        # a node's syntactic range can end where a parenthesis ends.
        self.trivia: dict[cst.CSTNode, tuple[int, int, int, int]] = {}
        self._stack: list[tuple[int, int]] = []

    def add_indent_tokens(self) -> None:
        self.tokens.extend(self.indent_tokens)
        for token in self.indent_tokens:
            self._advance(token)

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        self._advance(value)

    def _advance(self, value: str) -> None:
        # "\r\n", "\r" and "\n" each end a line, as in libcst's NEWLINE_RE.
        if "\r" in value:
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        newlines = value.count("\n")
        if newlines == 0:
            self.column += len(value)
        else:
            self.line += newlines
            self.column = len(value) - value.rfind("\n") - 1

    def before_codegen(self, node: cst.CSTNode) -> None:
        self._stack.append((self.line, self.column))

    def after_codegen(self, node: cst.CSTNode) -> None:
        start = self._stack.pop()
        # A syntactic position recorded inside the node takes precedence.
        if node in self.spans:
            return
        if self.everything or type(node) not in TRIVIA_TYPES:
            self.spans[node] = (*start, self.line, self.column)
        else:
            self.trivia[node] = (*start, self.line, self.column)

    def span_of(self, node: cst.CSTNode) -> tuple[int, int, int, int]:
        found = self.spans.get(node)
        return found if found is not None else self.trivia[node]

    def record_syntactic_position(  # type: ignore[override]
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> _SyntacticPosition:
        return _SyntacticPosition(self, node, start_node, end_node)


def positions(module: cst.Module) -> _Ranges:
    """Return the syntactic range of every node of `module`, as PositionProvider does."""
    return _Ranges(module, *_spans(module, everything=False))


def _spans(
    module: cst.Module, everything: bool
) -> tuple[dict[cst.CSTNode, tuple[int, int, int, int]], str]:
    state = _PositionState(module, everything)
    module._codegen(state)
    return state.spans, "".join(state.tokens)


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
