"""Apply fixes to a module: node replacements first, then module edits."""

from __future__ import annotations

import dataclasses
import functools
import re
import sys
from collections import Counter
from collections.abc import Generator, Iterable, Mapping, Sequence
from typing import TypeVar

import libcst as cst

from cio_fix.customerio import bound_name, dotted_name
from cio_fix.formatting import format_statement, rewrites_ruff_pragma_line
from cio_fix.metadata import parents
from cio_fix.model import AddImport, Fix, InsertStatements
from cio_fix.pragmas import formatter_line_width, line_pragma, spans_one_line
from cio_fix.style import BlackSettings
from cio_fix.walk import child_nodes, comments_below, descendants, node_fields

_Root = TypeVar("_Root", bound=cst.CSTNode)


def choose_fixes(
    fixes: Sequence[Fix], parent_of: Mapping[cst.CSTNode, cst.CSTNode]
) -> list[Fix]:
    """Pick the fixes that can be applied together: no two touch the same code.

    Two fixes touch the same code when a node one replaces is, or is inside,
    a node the other replaces. The rest wait for the next pass, which
    starts from the fixed source.
    """
    chosen: list[Fix] = []
    # Ids of the nodes the chosen fixes replace, and of every node above them.
    replaced: set[int] = set()
    above: set[int] = set()
    for fix in fixes:
        if any(_touches(node, replaced, above, parent_of) for node in fix.replacements):
            continue
        chosen.append(fix)
        for node in fix.replacements:
            replaced.add(id(node))
            parent = parent_of.get(node)
            while parent is not None and id(parent) not in above:
                above.add(id(parent))
                parent = parent_of.get(parent)
    return chosen


def keeps_comments(fix: Fix) -> bool:
    """Tell whether a fix keeps every comment of the code it replaces.

    A comment may move: into another replacement, or into the statements
    the fix inserts (a client's arguments moved into a factory). The fix
    may also drop the comments of `Fix.dropped_comments`.
    """
    replaced: Counter[str] = Counter()
    for node in fix.replacements:
        replaced.update(_comments(node))
    if not replaced:
        return True
    preserved: Counter[str] = Counter()
    for replacement in fix.replacements.values():
        if isinstance(replacement, cst.FlattenSentinel):
            for item in replacement.nodes:
                preserved.update(_comments(item))
        elif isinstance(replacement, cst.CSTNode):
            preserved.update(_comments(replacement))
    for insert in fix.inserts:
        preserved.update(_comments(_parse_helper(insert.code, "utf-8", _SPACES, "\n")))
    preserved.update(fix.dropped_comments)
    return not replaced - preserved


def _comments(node: cst.CSTNode) -> list[str]:
    return [comment.value for comment in comments_below(node)]


def moved_pragma(
    fix: Fix,
    module: cst.Module,
    parent_of: Mapping[cst.CSTNode, cst.CSTNode],
    black: BlackSettings,
) -> cst.Comment | None:
    """Return a directive comment that `fix` would move off the line of its code, or None.

    The comment (`line_pragma`) ends a statement of one line that the fix
    changes. Laid out as `apply_fixes` lays it out, the fixed statement
    must be one line again, or the fix must have moved the comment to the
    line of the code itself, as CIO304 does. Otherwise the comment ends
    the last line of the statement, and the code it is about may be on
    the lines above.

    NOTE: each fix is laid out alone. Two fixes of one pass that change
    the same statement, and black's pass over a whole black-clean file
    (`format_fixed_file`), may still split a line that each fix alone
    keeps whole.
    """
    checked: set[int] = set()
    for node in fix.replacements:
        statement = _statement_line(node, parent_of)
        if statement is None or id(statement) in checked:
            continue
        checked.add(id(statement))
        comment = line_pragma(statement)
        if comment is None:
            continue
        fixed = replace_nodes(statement, fix.replacements)
        if not isinstance(fixed, cst.SimpleStatementLine):
            continue
        indent = _indentation(statement, parent_of, module.default_indent)
        laid_out = format_statement(
            fixed, statement, indent, module.default_indent, black
        )
        assert isinstance(laid_out, cst.SimpleStatementLine)
        trailing = laid_out.trailing_whitespace.comment
        if trailing is None or trailing.value != comment.value:
            continue
        if not spans_one_line(laid_out):
            return comment
    return None


def _statement_line(
    node: cst.CSTNode, parent_of: Mapping[cst.CSTNode, cst.CSTNode]
) -> cst.SimpleStatementLine | None:
    """Return the simple statement line that is or contains `node`, if there is one."""
    current: cst.CSTNode | None = node
    while current is not None:
        if isinstance(current, cst.SimpleStatementLine):
            return current
        if isinstance(current, (cst.BaseSuite, cst.BaseCompoundStatement)):
            return None
        current = parent_of.get(current)
    return None


def _indentation(
    statement: cst.CSTNode,
    parent_of: Mapping[cst.CSTNode, cst.CSTNode],
    default_indent: str,
) -> str:
    """Return the indentation of a statement, as `_Rebuilder` adds it up."""
    units = []
    parent = parent_of.get(statement)
    while parent is not None:
        if isinstance(parent, cst.IndentedBlock):
            units.append(default_indent if parent.indent is None else parent.indent)
        parent = parent_of.get(parent)
    return "".join(reversed(units))


def _touches(
    node: cst.CSTNode,
    replaced: set[int],
    above: set[int],
    parent_of: Mapping[cst.CSTNode, cst.CSTNode],
) -> bool:
    if id(node) in replaced or id(node) in above:
        return True
    parent = parent_of.get(node)
    while parent is not None:
        if id(parent) in replaced:
            return True
        parent = parent_of.get(parent)
    return False


class _Rebuilder:
    """A transform that replaces nodes by identity and reformats statements it made too long.

    Only the ancestors of a replaced node can change, so each of them is
    rebuilt once, with `with_changes` on the fields that contain a changed
    child. The result is the tree that libcst's `visit` builds with a
    transformer returning the replacements. That transformer is called back
    for every child of every ancestor, which on long module bodies took
    most of the time of applying the fixes.
    """

    def __init__(
        self,
        replacements: dict[int, object],
        ancestors: set[int],
        default_indent: str,
        black: BlackSettings | None,
    ) -> None:
        self.replacements = replacements
        # Ids of the nodes above a replaced node.
        self.ancestors = ancestors
        self.default_indent = default_indent
        # None leaves the statements as the replacements made them.
        self.black = black
        # The indentation of each indented block around the node being rebuilt.
        self.indents: list[str] = []

    def rebuild(self, node: cst.CSTNode) -> tuple[object, bool]:
        """Return the new version of `node`, and whether it changes the statement around it.

        A replacement changes the nearest simple statement line or function
        definition around it, unless an indented block is nearer, because
        the statements of a block are statements of their own.
        """
        # `_rebuild` yields each child to rebuild and gets back its result,
        # so that a stack of generators, not of calls, follows the nesting,
        # because a long chain of strings or `+` nests one level per link.
        stack: list[Generator[cst.CSTNode, tuple[object, bool], tuple[object, bool]]]
        stack = [self._rebuild(node)]
        result: tuple[object, bool] | None = None
        while True:
            try:
                child = stack[-1].send(result)  # type: ignore[arg-type]
            except StopIteration as finished:
                stack.pop()
                result = finished.value
                if not stack:
                    return result  # type: ignore[return-value]
            else:
                stack.append(self._rebuild(child))
                result = None

    def _rebuild(
        self, node: cst.CSTNode
    ) -> Generator[cst.CSTNode, tuple[object, bool], tuple[object, bool]]:
        kind = type(node)
        replacement = self.replacements.get(id(node))
        if replacement is None and id(node) not in self.ancestors:
            return node, False
        if replacement is not None:
            if kind is cst.SimpleStatementLine or kind is cst.FunctionDef:
                if type(replacement) is kind:
                    return self._format(replacement, node), False  # type: ignore[arg-type]
                return replacement, False
            return replacement, True

        if kind is cst.IndentedBlock:
            indent = node.indent  # type: ignore[attr-defined]
            self.indents.append(indent if indent is not None else self.default_indent)
        new, changed = yield from self._rebuild_children(node)
        if kind is cst.IndentedBlock:
            self.indents.pop()
            return new, False
        if kind is cst.SimpleStatementLine or kind is cst.FunctionDef:
            if changed:
                return self._format(new, node), False  # type: ignore[arg-type]
            return new, False
        return new, changed

    def _rebuild_children(
        self, node: cst.CSTNode
    ) -> Generator[cst.CSTNode, tuple[object, bool], tuple[cst.CSTNode, bool]]:
        results: dict[int, object] = {}
        changes: dict[str, object] = {}
        changed = False
        for name in node_fields(node):
            value = getattr(node, name)
            if type(value) is tuple or type(value) is list:
                before = len(results)
                for item in value:
                    if id(item) in self.ancestors or id(item) in self.replacements:
                        results[id(item)], item_changed = yield item
                        changed = changed or item_changed
                if len(results) > before:
                    changes[name] = _new_sequence(node, name, value, results)
            elif id(value) in self.ancestors or id(value) in self.replacements:
                result, changed_here = yield value
                changed = changed or changed_here
                results[id(value)] = result
                if not isinstance(result, cst.CSTNode):
                    # A sentinel in place of a single child means None, a
                    # MaybeSentinel or an error, depending on the field.
                    return _with_new_children(node, results), changed
                changes[name] = result
        return node.with_changes(**changes), changed

    def _format(
        self,
        statement: cst.SimpleStatementLine | cst.FunctionDef,
        original: cst.SimpleStatementLine | cst.FunctionDef,
    ) -> cst.SimpleStatementLine | cst.FunctionDef:
        if self.black is None:
            return statement
        indent = "".join(self.indents)
        return format_statement(
            statement, original, indent, self.default_indent, self.black
        )


def _new_sequence(
    parent: cst.CSTNode,
    name: str,
    items: Sequence[cst.CSTNode],
    results: dict[int, object],
) -> tuple[cst.CSTNode, ...]:
    """Return a sequence field with its changed items, as libcst's `visit` builds it.

    A removed item leaves the sequence and a `FlattenSentinel` is spliced
    in. In the body of a module or an indented block, a simple statement
    line that a change left without a statement is dropped as well.
    """
    body = name == "body" and type(parent) in (cst.Module, cst.IndentedBlock)
    new: list[cst.CSTNode] = []
    for item in items:
        result = results.get(id(item), item)
        if result is item:
            new.append(item)
            continue
        if isinstance(result, cst.RemovalSentinel):
            continue
        spliced = result if isinstance(result, cst.FlattenSentinel) else (result,)
        for node in spliced:
            if body and not item._is_removable() and node._is_removable():
                continue
            new.append(node)
    return tuple(new)


class _ChildSwapper(cst.CSTTransformer):
    """Swap the children of one node for their new versions, without descending."""

    def __init__(self, results: dict[int, object]) -> None:
        super().__init__()
        self.results = results

    def on_visit(self, node: cst.CSTNode) -> bool:
        return False

    def on_leave(self, original_node, updated_node):  # type: ignore[no-untyped-def]
        return self.results.get(id(original_node), updated_node)


def _with_new_children(node: cst.CSTNode, results: dict[int, object]) -> cst.CSTNode:
    """Rebuild `node` through libcst's own per-field rules, for a sentinel result."""
    return node._visit_and_replace_children(_ChildSwapper(results))


def _ancestor_ids(
    parent_of: Mapping[cst.CSTNode, cst.CSTNode], targets: list[cst.CSTNode]
) -> set[int]:
    found: set[int] = set()
    for target in targets:
        node = parent_of.get(target)
        while node is not None and id(node) not in found:
            found.add(id(node))
            node = parent_of.get(node)
    return found


def replace_nodes(
    root: _Root, replacements: Mapping[cst.CSTNode, cst.CSTNode]
) -> _Root:
    """Return `root` with the nodes of `replacements` replaced, found by identity.

    Only their ancestors are rebuilt, and no statement is laid out again.
    libcst's `visit` with a transformer would call itself once per level
    of the whole tree. A node that is in two places (fixes may build such
    trees) is replaced in both.
    """
    if not replacements:
        return root
    by_id: dict[int, object] = {id(node): new for node, new in replacements.items()}
    ancestors: set[int] = set()
    # Parents come before their children, so reversed, children come first.
    for node in reversed(list(descendants(root))):
        for child in child_nodes(node):
            if id(child) in by_id or id(child) in ancestors:
                ancestors.add(id(node))
                break
    indent = root.default_indent if isinstance(root, cst.Module) else "    "
    rebuilder = _Rebuilder(by_id, ancestors, indent, None)
    return rebuilder.rebuild(root)[0]  # type: ignore[return-value]


def apply_fixes(
    module: cst.Module,
    fixes: Iterable[Fix],
    black: BlackSettings | None = None,
    parent_of: Mapping[cst.CSTNode, cst.CSTNode] | None = None,
) -> cst.Module:
    """Apply node replacements in one transform, then helper definitions, then imports.

    `parent_of` is the module's parent map when the caller has it already.
    """
    replacements: dict[int, object] = {}
    targets: list[cst.CSTNode] = []
    imports: list[AddImport] = []
    inserts: dict[str, InsertStatements] = {}
    for fix in fixes:
        for node, replacement in fix.replacements.items():
            replacements[id(node)] = replacement
            targets.append(node)
        imports.extend(fix.imports)
        for insert in fix.inserts:
            inserts.setdefault(insert.key, insert)

    if replacements:
        black = black or BlackSettings()
        if parent_of is None:
            parent_of = parents(module)
        ancestors = _ancestor_ids(parent_of, targets)
        rebuilder = _Rebuilder(replacements, ancestors, module.default_indent, black)
        module = rebuilder.rebuild(module)[0]  # type: ignore[assignment]
    # Each insert goes before the earlier ones at the same place, so going
    # backwards keeps the helpers in the order the fixes asked for them.
    for insert in reversed(list(inserts.values())):
        if black is not None:
            insert = _fitted(insert, black)
        module = insert_statements(module, insert)
    for add in dict.fromkeys(imports):
        module = add_import(module, add)
    return module


# -- imports ------------------------------------------------------------------


def _is_docstring(statement: cst.BaseStatement) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    expression = statement.body[0]
    return isinstance(expression, cst.Expr) and isinstance(
        expression.value, (cst.SimpleString, cst.ConcatenatedString)
    )


def _imports_of(statement: cst.BaseStatement) -> list[cst.Import | cst.ImportFrom]:
    if not isinstance(statement, cst.SimpleStatementLine):
        return []
    return [
        small
        for small in statement.body
        if isinstance(small, (cst.Import, cst.ImportFrom))
    ]


def _is_future_import(statement: cst.BaseStatement) -> bool:
    for small in _imports_of(statement):
        if isinstance(small, cst.ImportFrom) and small.module is not None:
            if (
                isinstance(small.module, cst.Name)
                and small.module.value == "__future__"
            ):
                return True
    return False


def _module_of(small: cst.Import | cst.ImportFrom) -> str:
    if isinstance(small, cst.Import):
        return dotted_name(small.names[0].name) or ""
    module = (dotted_name(small.module) or "") if small.module is not None else ""
    return "." * len(small.relative) + module


def _is_stdlib(module: str) -> bool:
    return module.split(".")[0] in sys.stdlib_module_names


def header_end(module: cst.Module) -> int:
    """Return the index of the first statement after the docstring and `__future__` imports."""
    index = 0
    body = module.body
    if body and _is_docstring(body[0]):
        index = 1
    while index < len(body) and _is_future_import(body[index]):
        index += 1
    return index


def leading_imports_end(module: cst.Module) -> int:
    """Return the index of the first statement after the imports at the top of the module.

    Those imports run before any other statement of the module.
    """
    index = header_end(module)
    while index < len(module.body) and _imports_of(module.body[index]):
        index += 1
    return index


def import_block_end(module: cst.Module) -> int:
    """Return the index of the first statement after the import block at the top of the module.

    Unlike `leading_imports_end`, the block goes on over statements that
    only import, such as `try: import ujson as json` with its `except
    ImportError` fallback, and over `__all__`-style assignments between
    imports. Code placed above such a statement would make the imports
    after it not at the top of the file (E402 in ruff and flake8).
    """
    index = end = leading_imports_end(module)
    while index < len(module.body):
        statement = module.body[index]
        if _imports_of(statement) or _only_imports(statement):
            end = index = index + 1
        elif _assigns_dunders(statement):
            index += 1
        else:
            break
    return end


def _only_imports(statement: cst.CSTNode) -> bool:
    """Tell whether a compound statement (`try`, `if`, `with`) contains nothing but imports.

    An assignment to a name that an import of the statement binds counts
    as an import, because it is the fallback of an optional import, as in
    `try: from customerio import CustomerIO` with
    `except ImportError: CustomerIO = None`.
    """
    if not isinstance(statement, (cst.Try, cst.If, cst.With)):
        return False
    smalls = _small_statements(statement)
    if smalls is None:
        return False
    imported: set[str] = set()
    for small in smalls:
        if isinstance(small, (cst.Import, cst.ImportFrom)):
            imported |= _import_names(small)
    if not imported:
        return False
    for small in smalls:
        if isinstance(small, (cst.Import, cst.ImportFrom, cst.Pass)):
            continue
        if not _assigns_only(small, imported):
            return False
    return True


def _small_statements(
    statement: cst.Try | cst.If | cst.With,
) -> list[cst.BaseSmallStatement] | None:
    """Return the small statements in the blocks of a compound statement, nested ones too.

    None when a block contains a statement other than simple ones and
    `try`, `if` and `with` blocks, such as a function or a loop.
    """
    smalls: list[cst.BaseSmallStatement] = []
    for block in _blocks_of(statement):
        if isinstance(block, cst.SimpleStatementSuite):
            smalls.extend(block.body)
            continue
        for inner in block.body:
            if isinstance(inner, cst.SimpleStatementLine):
                smalls.extend(inner.body)
                continue
            if not isinstance(inner, (cst.Try, cst.If, cst.With)):
                return None
            nested = _small_statements(inner)
            if nested is None:
                return None
            smalls.extend(nested)
    return smalls


def _import_names(small: cst.Import | cst.ImportFrom) -> set[str]:
    if isinstance(small.names, cst.ImportStar):
        return set()
    return {bound_name(alias) for alias in small.names}


def _assigns_only(small: cst.BaseSmallStatement, names: set[str]) -> bool:
    """Tell whether a small statement only assigns to names in `names`."""
    if isinstance(small, cst.Assign):
        targets = [target.target for target in small.targets]
    elif isinstance(small, cst.AnnAssign) and small.value is not None:
        targets = [small.target]
    else:
        return False
    return all(
        isinstance(target, cst.Name) and target.value in names for target in targets
    )


def _blocks_of(statement: cst.Try | cst.If | cst.With) -> list[cst.BaseSuite]:
    """Return the blocks of a compound statement, its handlers' and branches' too."""
    blocks: list[cst.BaseSuite] = [statement.body]
    if isinstance(statement, cst.Try):
        blocks.extend(handler.body for handler in statement.handlers)
        if statement.orelse is not None:
            blocks.append(statement.orelse.body)
        if statement.finalbody is not None:
            blocks.append(statement.finalbody.body)
    elif isinstance(statement, cst.If):
        branch = statement.orelse
        while branch is not None:
            blocks.append(branch.body)
            branch = branch.orelse if isinstance(branch, cst.If) else None
    return blocks


def _assigns_dunders(statement: cst.BaseStatement) -> bool:
    """Tell whether a line only assigns names such as `__all__` or `__version__`."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    for small in statement.body:
        if not isinstance(small, (cst.Assign, cst.AnnAssign)):
            return False
        targets = (
            [target.target for target in small.targets]
            if isinstance(small, cst.Assign)
            else [small.target]
        )
        for target in targets:
            if not (
                isinstance(target, cst.Name)
                and target.value.startswith("__")
                and target.value.endswith("__")
            ):
                return False
    return True


def _already_imported(statements: Sequence[cst.BaseStatement], add: AddImport) -> bool:
    for statement in statements:
        for small in _imports_of(statement):
            if add.name is None and isinstance(small, cst.Import):
                for alias in small.names:
                    bound = alias.asname.name.value if alias.asname else None  # type: ignore[union-attr]
                    dotted = dotted_name(alias.name) or ""
                    # `import os.path` binds `os` as well as `import os` does.
                    same = dotted == add.module or dotted.startswith(add.module + ".")
                    if same and bound == add.asname:
                        return True
            if add.name is not None and isinstance(small, cst.ImportFrom):
                if _module_of(small) != add.module or isinstance(
                    small.names, cst.ImportStar
                ):
                    continue
                for alias in small.names:
                    bound = alias.asname.name.value if alias.asname else None  # type: ignore[union-attr]
                    if (
                        isinstance(alias.name, cst.Name)
                        and alias.name.value == add.name
                    ):
                        if bound == add.asname:
                            return True
    return False


def _new_import(add: AddImport) -> cst.SimpleStatementLine:
    asname = cst.AsName(name=cst.Name(add.asname)) if add.asname else None
    if add.name is None:
        statement: cst.Import | cst.ImportFrom = cst.Import(
            names=[cst.ImportAlias(name=cst.parse_expression(add.module), asname=asname)]  # type: ignore[arg-type]
        )
    else:
        statement = cst.ImportFrom(
            module=cst.parse_expression(add.module),  # type: ignore[arg-type]
            names=[cst.ImportAlias(name=cst.Name(add.name), asname=asname)],
        )
    return cst.SimpleStatementLine(body=[statement])


def _extend_from_import(
    module: cst.Module, add: AddImport, end: int
) -> cst.Module | None:
    """Add `name` to an existing one-line `from module import ...` above `end`, sorted."""
    if add.name is None or add.asname is not None:
        return None
    body = list(module.body)
    for position, statement in enumerate(body[:end]):
        if (
            not isinstance(statement, cst.SimpleStatementLine)
            or len(statement.body) != 1
        ):
            continue
        small = statement.body[0]
        if not isinstance(small, cst.ImportFrom) or _module_of(small) != add.module:
            continue
        if isinstance(small.names, cst.ImportStar) or small.lpar is not None:
            continue
        names = list(small.names)
        new_alias = cst.ImportAlias(name=cst.Name(add.name))
        where = len(names)
        for index, alias in enumerate(names):
            if isinstance(alias.name, cst.Name) and alias.name.value > add.name:
                where = index
                break
        names.insert(where, new_alias)
        separated = [
            alias.with_changes(
                comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            )
            for alias in names[:-1]
        ]
        separated.append(names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT))
        body[position] = statement.with_changes(
            body=[small.with_changes(names=separated)]
        )
        return module.with_changes(body=body)
    return None


def blank_prefix(
    lines: Sequence[cst.EmptyLine],
) -> tuple[list[cst.EmptyLine], list[cst.EmptyLine]]:
    """Split leading lines into the blank lines before the first comment, and the rest."""
    blanks = []
    for line in lines:
        if line.comment is not None:
            break
        blanks.append(line)
    return blanks, list(lines[len(blanks) :])


# isort's default sections, in their order in an import block.
SECTION_ORDER = ("future", "stdlib", "other", "first", "local")


def _section(
    statement: cst.BaseStatement, first_party: frozenset[str] = frozenset()
) -> str | None:
    """Return the isort section of an import statement, None for anything else.

    isort and ruff put `__future__` imports in a section of their own,
    although `__future__` is a standard-library module. Without
    `first_party` packages, first-party and relative imports count as
    "other", the third-party section.
    """
    smalls = _imports_of(statement)
    if not smalls:
        return None
    module = _module_of(smalls[0])
    if module == "__future__":
        return "future"
    if module.startswith("."):
        return "local" if first_party else "other"
    if _is_stdlib(module):
        return "stdlib"
    return "first" if module.split(".")[0] in first_party else "other"


def _insert_import(
    body: list[cst.BaseStatement],
    index: int,
    new: cst.BaseStatement,
    first_party: frozenset[str] = frozenset(),
) -> None:
    """Insert an import at `index` among the imports, keeping sections apart by a blank line."""
    section = _section(new, first_party)
    blank = cst.EmptyLine()
    if index < len(body) and _section(body[index], first_party) == section:
        following = body[index]
        blanks, rest = blank_prefix(following.leading_lines)
        new = new.with_changes(leading_lines=blanks)
        body[index] = following.with_changes(leading_lines=rest)
    elif index < len(body) and _section(body[index], first_party) is not None:
        following = body[index]
        blanks, rest = blank_prefix(following.leading_lines)
        # After an import of its own section, the new import joins it; the
        # blank lines above the next section stay there.
        joins_previous = index > 0 and _section(body[index - 1], first_party) == section
        new = new.with_changes(leading_lines=[] if joins_previous else blanks)
        body[index] = following.with_changes(leading_lines=[blank, *rest])
    if (
        index > 0
        and _section(body[index - 1], first_party) not in (None, section)
        and not new.leading_lines
    ):
        new = new.with_changes(leading_lines=[blank])
    body.insert(index, new)


def add_import(module: cst.Module, add: AddImport) -> cst.Module:
    """Add an import unless it exists, after the docstring and `__future__` imports.

    A standard-library import goes in alphabetical place among the
    standard-library imports at the top. An import with `add.first_party`
    packages goes in isort's order among the first-party imports, when the
    imports at the top are in that order. Any other import goes after the
    last import at the top. A `from x import y` joins an existing one-line
    `from x import ...` of the same module. With `add.on_import`, only the
    imports at the top count as existing or can be joined.
    """
    start = header_end(module)
    end = leading_imports_end(module)
    searched = end if add.on_import else len(module.body)
    if _already_imported(module.body[:searched], add):
        return module
    extended = _extend_from_import(module, add, searched)
    if extended is not None:
        return extended

    body = list(module.body)
    new = _new_import(add)

    if start == end:
        _insert_at_header(body, start, new)
        return module.with_changes(body=body)

    index = end
    first_party = add.first_party
    if first_party:
        found = _first_party_index(body, start, end, add)
        if found is None:
            # The order is unknown, so the import goes last, as any other.
            first_party = frozenset()
        else:
            index = found
    elif add.name is None and _is_stdlib(add.module):
        index = start
        for position in range(start, end):
            smalls = _imports_of(body[position])
            first = smalls[0]
            if isinstance(first, cst.Import) and _is_stdlib(_module_of(first)):
                if _module_of(first) < add.module:
                    index = position + 1
                    continue
            break
    elif add.name is not None and _is_stdlib(add.module):
        index = start
        for position in range(start, end):
            first = _imports_of(body[position])[0]
            if not _is_stdlib(_module_of(first)):
                break
            if isinstance(first, cst.Import) or _module_of(first) < add.module:
                index = position + 1
    _insert_import(body, index, new, first_party)
    return module.with_changes(body=body)


def _first_party_index(
    body: Sequence[cst.BaseStatement], start: int, end: int, add: AddImport
) -> int | None:
    """Return where isort puts a first-party import among the leading imports `start:end`.

    That is in order among the first-party imports, or where their section
    would start when the module has none. None when the imports are not in
    isort's order, or a line imports two modules.
    """
    ranks: list[int] = []
    keys: list[tuple[bool, str, str]] = []
    for statement in body[start:end]:
        smalls = _imports_of(statement)
        if len(smalls) != 1 or _imports_several(smalls[0]):
            return None
        section = _section(statement, add.first_party)
        ranks.append(SECTION_ORDER.index(section))  # type: ignore[arg-type]
        if section == "first":
            keys.append(_sort_key(smalls[0]))
    if ranks != sorted(ranks) or keys != sorted(keys):
        return None

    first = SECTION_ORDER.index("first")
    key = (add.name is not None, add.module.lower(), add.module)
    index = start
    for position, rank in enumerate(ranks, start):
        if rank < first or (
            rank == first and _sort_key(_imports_of(body[position])[0]) < key
        ):
            index = position + 1
    return index


def _imports_several(small: cst.Import | cst.ImportFrom) -> bool:
    """Tell whether `import a, b` names more than one module, which isort splits."""
    return isinstance(small, cst.Import) and len(small.names) > 1


def _sort_key(small: cst.Import | cst.ImportFrom) -> tuple[bool, str, str]:
    """Return isort's default order of a statement in its section.

    `import x` lines come before `from x import y` lines, and modules
    compare without regard to case.
    """
    module = _module_of(small)
    return isinstance(small, cst.ImportFrom), module.lower(), module


def _insert_at_header(
    body: list[cst.BaseStatement], index: int, new: cst.BaseStatement
) -> None:
    """Insert the first import of a module that has none, with blank lines around it."""
    blank = cst.EmptyLine()
    if index > 0:
        new = new.with_changes(leading_lines=[blank])
    if index < len(body):
        following = body[index]
        blanks, rest = blank_prefix(following.leading_lines)
        if index == 0:
            new = new.with_changes(leading_lines=blanks)
        # PEP 8 puts two blank lines above a top-level function or class.
        above = [blank, blank] if _is_definition(following) else [blank]
        body[index] = following.with_changes(leading_lines=[*above, *rest])
    body.insert(index, new)


# -- helper definitions ---------------------------------------------------------


def assigned_names(statement: cst.BaseStatement) -> set[str]:
    """Return the names that a module-level statement binds when it is simple or a definition."""
    names: set[str] = set()
    if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
        names.add(statement.name.value)
    elif isinstance(statement, cst.SimpleStatementLine):
        for small in statement.body:
            if isinstance(small, cst.Assign):
                for target in small.targets:
                    if isinstance(target.target, cst.Name):
                        names.add(target.target.value)
            elif isinstance(small, cst.AnnAssign) and isinstance(
                small.target, cst.Name
            ):
                names.add(small.target.value)
            elif isinstance(small, (cst.Import, cst.ImportFrom)):
                if isinstance(small, cst.ImportFrom) and isinstance(
                    small.names, cst.ImportStar
                ):
                    continue
                for alias in small.names:  # type: ignore[union-attr]
                    names.add(bound_name(alias))
    return names


# The names that the helpers of fixes bind at module level, in the order
# the helpers take where they meet below the imports: CIO304's thread and
# task helpers, CIO601's clients and factories, then CIO603's throttle.
# The order is fixed, so that one run with every rule and one run per rule,
# in any order, write the same file.
HELPER_ORDER = (
    "_customerio_executor",
    "_customerio_slots",
    "_customerio_in_background",
    "_customerio_tasks",
    "_customerio_in_background_task",
    "_customerio_client",
    "_customerio_client_for",
    "_customerio_app_client",
    "_customerio_app_client_for",
    "_customerio_pipelines_client",
    "_customerio_pipelines_client_for",
    "_CustomerioThrottle",
    "_customerio_throttle",
)
_RANK_OF_NAME = {name: rank for rank, name in enumerate(HELPER_ORDER)}
# The number that `unused_name` appends to a name the module already uses.
_NAME_NUMBER = re.compile(r"_\d+$")


def helper_rank(statement: cst.BaseStatement) -> int | None:
    """Return the place in `HELPER_ORDER` of the helper a statement defines, if it is one.

    A user's own statement with a helper's name counts as that helper.
    """
    for name in assigned_names(statement):
        rank = _RANK_OF_NAME.get(_NAME_NUMBER.sub("", name))
        if rank is not None:
            return rank
    return None


def _ranks_before(statement: cst.BaseStatement, rank: int) -> bool:
    found = helper_rank(statement)
    return found is not None and found < rank


# A line feed that does not end a CRLF newline.
_BARE_LINE_FEED = re.compile(r"(?<!\r)\n")
# The indentation of the helpers' code, and each line's leading groups of it.
_SPACES = "    "
_LEADING_SPACES = re.compile(r"^(?:    )+", re.MULTILINE)


def _fitted(insert: InsertStatements, black: BlackSettings) -> InsertStatements:
    """Return the insert with its code formatted by black when black would change it.

    The helpers are written for black's defaults: 88 columns and magic
    trailing commas, which keep a call exploded one argument a line.
    """
    lines = insert.code.splitlines()
    widths = [formatter_line_width(line, black.ruff_layout) for line in lines]
    if max(widths, default=0) <= black.line_length and black.magic_trailing_comma:
        return insert
    code = _formatted_helper(insert.code, black)
    if code is None:
        return insert
    if black.ruff_layout and rewrites_ruff_pragma_line(insert.code, code):
        # black would split a line that `ruff format` keeps whole.
        return insert
    return dataclasses.replace(insert, code=code)


@functools.lru_cache(maxsize=64)
def _formatted_helper(code: str, black: BlackSettings) -> str | None:
    return black.format(code)


@functools.lru_cache(maxsize=64)
def _parse_helper(code: str, encoding: str, indent: str, newline: str) -> cst.Module:
    """Parse a helper's code once per process and layout.

    Every file that gets the same helper shares its parsed nodes, which is
    safe because libcst nodes are immutable and each file's tree is its own.
    The code's indentation and line feeds become the module's own first,
    so that the lines inside a docstring or a call end and start like the
    file's other lines.
    """
    if indent != _SPACES:
        # The helpers are written with four spaces, continuation lines too.
        code = _LEADING_SPACES.sub(lambda match: indent * (len(match[0]) // 4), code)
    if newline != "\n":
        code = _BARE_LINE_FEED.sub(newline, code)
    config = cst.PartialParserConfig(
        encoding=encoding, default_indent=indent, default_newline=newline
    )
    return cst.parse_module(code, config=config)


def insert_statements(module: cst.Module, insert: InsertStatements) -> cst.Module:
    """Insert a helper after the imports and after every statement defining a name it reads.

    The helper also goes after the helpers of other fixes that come before
    it in `HELPER_ORDER` and sit at that place, whichever run added them.
    """
    parsed = _parse_helper(
        insert.code, module.encoding, module.default_indent, module.default_newline
    )
    body = list(module.body)
    index = import_block_end(module)
    for position, statement in enumerate(body):
        if assigned_names(statement) & insert.after_names:
            index = max(index, position + 1)
    rank = helper_rank(parsed.body[0])
    if rank is not None:
        while index < len(body) and _ranks_before(body[index], rank):
            index += 1

    new_statements = list(parsed.body)
    first = new_statements[0]
    before = _blank_lines(_line_count(body[index - 1], first) if index > 0 else 2)
    # A comment above the helper's first statement parses as the module
    # header; it stays with the statement, and only blank lines are replaced.
    _, comments = blank_prefix([*parsed.header, *first.leading_lines])
    new_statements[0] = first.with_changes(leading_lines=[*before, *comments])
    if index < len(body):
        following = body[index]
        _, rest = blank_prefix(following.leading_lines)
        after = _blank_lines(_line_count(new_statements[-1], following))
        body[index] = following.with_changes(leading_lines=[*after, *rest])
    body[index:index] = new_statements
    return module.with_changes(body=body)


def _is_definition(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, (cst.FunctionDef, cst.ClassDef))


def _line_count(above: cst.BaseStatement, below: cst.BaseStatement) -> int:
    """Return the blank lines PEP 8 puts between two module-level statements."""
    return 2 if _is_definition(above) or _is_definition(below) else 1


def _blank_lines(count: int) -> list[cst.EmptyLine]:
    return [cst.EmptyLine() for _ in range(count)]
