"""Module-level imports that bind None when they fail: an optional SDK.

`try: from customerio import CustomerIO` with `except ImportError:
CustomerIO = None` makes the SDK optional. The name is the class where the
SDK is installed and None where it is not, from import on, and so is a
class alias of it (`Client = CustomerIO`).
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from cio_fix.customerio import FileIndex

# The exceptions of a failed import, and the classes above them that an
# `except` may name.
IMPORT_ERRORS = frozenset(
    {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
)


def import_fallback(
    index: FileIndex,
    name: str,
    parent_of: Callable[[cst.CSTNode], cst.CSTNode | None],
) -> cst.Assign | None:
    """Return `name = None` of an `except ImportError:` at module level, or None.

    The module must import the name and assign it nowhere else. `parent_of`
    returns the parent of a node of the index's module.
    """
    if name not in index.module_imports:
        return None
    assignment = index.module_assignment(name)
    if assignment is None or type(assignment.statement) is not cst.Assign:
        return None
    value = assignment.value
    if type(value) is not cst.Name or value.value != "None":
        return None
    ancestor = parent_of(assignment.statement)
    while ancestor is not None:
        if isinstance(ancestor, cst.ExceptHandler):
            if not _catches_import_error(ancestor):
                return None
            return assignment.statement
        if isinstance(ancestor, (cst.FunctionDef, cst.ClassDef)):
            return None
        ancestor = parent_of(ancestor)
    return None


def optional_imports(index: FileIndex) -> dict[str, str]:
    """Return the module's optional imports: each name with the qualified name it imports.

    A name imported by two statements (`from .v2 import X` and, on
    ImportError, `from .v1 import X`) is left out, because which one it
    is then is unknown.
    """
    found = {}
    for name, origins in index.module_import_origins.items():
        if len(origins) != 1:
            continue
        if import_fallback(index, name, index.parents.get) is not None:
            found[name] = origins[0]
    return found


def optional_aliases(index: FileIndex) -> dict[str, str]:
    """Return the module's class aliases of optional imports, each with the import's name.

    `Client = CustomerIO` after `except ImportError: CustomerIO = None`
    makes `Client` None too where the SDK is not installed.
    """
    found = {}
    for alias, imported in index.class_aliases.items():
        if import_fallback(index, imported, index.parents.get) is not None:
            found[alias] = imported
    return found


def _catches_import_error(handler: cst.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = [handler.type]
    if isinstance(handler.type, cst.Tuple):
        names = [element.value for element in handler.type.elements]
    return any(
        isinstance(name, cst.Name) and name.value in IMPORT_ERRORS for name in names
    )
