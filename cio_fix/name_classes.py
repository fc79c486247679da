"""The strings that a class defines: the members of an enum and its string attributes.

A call may send an event name through a class of its own module or of
another module of the project (`from app.events import Event`). The
summary of the module that defines a class carries these facts, so both
are read the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from cio_fix.customerio import FileIndex, bound_name, dotted_name, literal_value

# Bases that make a class an enum whose members cannot be rebound.
ENUM_BASES = frozenset({"enum.Enum", "enum.StrEnum"})
STR_ENUM = "enum.StrEnum"

# Methods of `str` whose result depends only on the string and the
# arguments, so over constants they give the same text on every call.
STR_METHODS = frozenset(
    {
        "capitalize",
        "casefold",
        "lower",
        "lstrip",
        "removeprefix",
        "removesuffix",
        "replace",
        "rstrip",
        "strip",
        "swapcase",
        "title",
        "upper",
    }
)


@dataclass
class ClassStrings:
    """The string literals that a class statement assigns once, as plain data that can be cached."""

    # The class's own name, which `str()` of an enum member writes.
    name: str
    # STR_ENUM, "str" for `class Event(str, Enum)`, "enum.Enum", or "" for a
    # class that is not an enum.
    enum_base: str = ""
    # Enum members assigned a string literal. Empty for a class that is not
    # an enum, and for an enum that defines a private or special method
    # (`__new__`, `__str__`, `_missing_`) or one of STR_METHODS, which may
    # change what a member is or what it gives as text.
    members: dict[str, str] = field(default_factory=dict)
    # Class attributes assigned a string literal, with or without an
    # annotation. They are read only as names that a call sends, never kept
    # in a fixed name.
    # NOTE: code may rebind an attribute (`Events.PAYMENT = ...`), here or in
    # another module; the text read is the one the class statement gives.
    attributes: dict[str, str] = field(default_factory=dict)


def class_strings(index: FileIndex, class_def: cst.ClassDef) -> ClassStrings:
    """Read the string members and attributes that a class body assigns once."""
    strings = ClassStrings(class_def.name.value, _enum_base(index, class_def) or "")
    member_values: dict[str, list[object]] = {}
    attribute_values: dict[str, list[object]] = {}
    members_readable = bool(strings.enum_base)
    for statement in class_def.body.body:
        if isinstance(statement, cst.FunctionDef) and (
            statement.name.value.startswith("_") or statement.name.value in STR_METHODS
        ):
            members_readable = False
        if not isinstance(statement, cst.SimpleStatementLine):
            if not isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                # A binding inside `if` or `try` may or may not run.
                for name in _names_bound_in(statement):
                    attribute_values.setdefault(name, []).append(None)
                    member_values.setdefault(name, []).append(None)
            continue
        for small in statement.body:
            if isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Name):
                # `PAID += "_x"` changes the value that the plain assignment gave.
                attribute_values.setdefault(small.target.value, []).append(None)
                member_values.setdefault(small.target.value, []).append(None)
                continue
            if isinstance(small, cst.Assign):
                targets = [target.target for target in small.targets]
            elif isinstance(small, cst.AnnAssign) and small.value is not None:
                targets = [small.target]
            else:
                continue
            value = literal_value(small.value)
            for target in targets:
                if not isinstance(target, cst.Name):
                    continue
                attribute_values.setdefault(target.value, []).append(value)
                if isinstance(small, cst.Assign):
                    # An annotated assignment is not read as a member.
                    member_values.setdefault(target.value, []).append(value)

    strings.attributes = _assigned_once(attribute_values)
    if members_readable:
        strings.members = {
            name: value
            for name, value in _assigned_once(member_values).items()
            if not name.startswith("_")
        }
    return strings


def _assigned_once(values: dict[str, list[object]]) -> dict[str, str]:
    """Keep the names that the class body binds once, to a string literal."""
    return {
        name: assigned[0]
        for name, assigned in values.items()
        if len(assigned) == 1 and isinstance(assigned[0], str)
    }


def _enum_base(index: FileIndex, class_def: cst.ClassDef) -> str | None:
    """Return what kind of enum a class is: STR_ENUM, "str", "enum.Enum", or None."""
    if class_def.keywords:
        return None
    enum_bases = []
    mixed_with_str = False
    for argument in class_def.bases:
        qualified = index.qualified_name(argument.value)
        if qualified in ENUM_BASES:
            enum_bases.append(qualified)
        elif dotted_name(argument.value) == "str" and not index.binds_anywhere("str"):
            mixed_with_str = True
        else:
            return None
    if len(enum_bases) != 1:
        return None
    if enum_bases[0] == STR_ENUM:
        return STR_ENUM
    return "str" if mixed_with_str else enum_bases[0]


def module_classes(index: FileIndex) -> dict[str, ClassStrings]:
    """Return the strings of each module-level class that only its class statement binds.

    Only classes that hold a string are listed, so that the summary of a
    module without such classes stays as small as before.
    """
    found: dict[str, ClassStrings] = {}
    scope = index.module_scope
    for class_info in index.classes:
        if class_info.scope is None or class_info.scope.parent is not scope:
            continue
        class_def = class_info.node
        name = class_def.name.value
        if class_def.decorators or name in index.rebound_names:
            continue
        assignments = scope.assignments.get(name, [])
        if len(assignments) != 1 or assignments[0].statement is not class_def:
            continue
        strings = class_strings(index, class_def)
        if strings.members or strings.attributes:
            found[name] = strings
    return found


class _BoundNames(cst.CSTVisitor):
    """Collects the names that a statement of a class body binds, outside nested scopes."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def _add(self, target: cst.CSTNode) -> None:
        if isinstance(target, cst.Name):
            self.names.add(target.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._add(element.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._add(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._add(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._add(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._add(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._add(node.name)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        self.names.add(bound_name(node))

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._add(node.target)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.names.add(node.name.value)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.names.add(node.name.value)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


def _names_bound_in(statement: cst.BaseStatement) -> set[str]:
    """Return the names that a compound statement of a class body binds."""
    visitor = _BoundNames()
    statement.visit(visitor)
    return visitor.names
