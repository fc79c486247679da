"""Type annotations for the helper functions that fixes insert.

A fix writes annotated helpers only in a module whose own functions are
annotated, so that a code base checked with mypy's `disallow_untyped_defs`
or ruff's ANN rules still passes after the fix. Other modules get the
helpers without annotations, as before.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import libcst as cst

from cio_fix.edits import assigned_names
from cio_fix.model import AddImport
from cio_fix.rules import LINE_LENGTH, ImportedName

if TYPE_CHECKING:
    from cio_fix.rules import FileContext

# The names in an annotation that are not attributes, such as `Callable` and
# `object` in `Callable[..., object]`, or `concurrent` in
# `concurrent.futures.Future`.
_FIRST_NAMES = re.compile(r"(?<![\w.])[A-Za-z_]\w*")


def is_annotated_module(context: FileContext) -> bool:
    """Tell whether every function and method of the module has a return annotation.

    `__init__` may leave it out when one of its parameters is annotated, as
    mypy allows. Parameter annotations alone do not count, because FastAPI
    and similar frameworks need them in untyped code too. A module that
    defines no function does not count, because nothing shows its style.
    """
    return context.shared("annotated-module", _every_function_annotated)


def _every_function_annotated(context: FileContext) -> bool:
    functions = context.index.functions
    if not functions:
        return False
    return all(_is_annotated(function.node) for function in functions)


def _is_annotated(function: cst.FunctionDef) -> bool:
    if function.returns is not None:
        return True
    if function.name.value != "__init__":
        return False
    parameters = function.params
    all_parameters = [
        *parameters.posonly_params,
        *parameters.params,
        *parameters.kwonly_params,
    ]
    for star in (parameters.star_arg, parameters.star_kwarg):
        if isinstance(star, cst.Param):
            all_parameters.append(star)
    return any(parameter.annotation is not None for parameter in all_parameters)


def postpones_annotations(module: cst.Module) -> bool:
    """Tell whether the module starts with `from __future__ import annotations`.

    Python then keeps annotations as strings and never evaluates them.
    """
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            return False
        for small in statement.body:
            if isinstance(small, cst.Expr) and isinstance(
                small.value, (cst.SimpleString, cst.ConcatenatedString)
            ):
                continue
            if not isinstance(small, cst.ImportFrom) or not _is_future(small):
                return False
            if isinstance(small.names, cst.ImportStar):
                continue
            if any(alias.evaluated_name == "annotations" for alias in small.names):
                return True
    return False


def _is_future(statement: cst.ImportFrom) -> bool:
    module = statement.module
    return isinstance(module, cst.Name) and module.value == "__future__"


def named_in_time(module: cst.Module, expression: str) -> bool:
    """Tell whether Python can evaluate `expression` in a helper's signature on import.

    The helpers go after every simple module-level statement that binds a
    name they read. So the first name of `expression` is bound in time
    when such a statement binds it, or when the module postpones
    annotations. An import in an `if` or `try` block may bind it later.
    """
    if postpones_annotations(module):
        return True
    first = expression.split(".")[0]
    return any(first in assigned_names(statement) for statement in module.body)


class TypeNames:
    """The names that annotations of one helper use, and the imports they need.

    `on_import` is True when Python evaluates the annotations while the
    module is imported: it does so for the signature of a module-level
    function and for a module-level variable, unless the module postpones
    annotations.
    """

    def __init__(self, context: FileContext) -> None:
        self.context = context
        self.postponed = postpones_annotations(context.module)
        self.on_import = not self.postponed
        self.imports: list[AddImport] = []
        # The names used that only an import under `if TYPE_CHECKING:` binds.
        self.type_checking: set[str] = set()

    def name(self, module: str, name: str, called: bool = False) -> str | None:
        """Return how the helper names `module.name`, or None when the module binds it otherwise.

        An existing import of the name or of its module is used as it is,
        and so is an import of the name under `if TYPE_CHECKING:`, unless
        `called`. Otherwise the helper imports the name with
        `from module import name`. `called` marks a name that the helper
        calls when it runs, such as `typing.cast`, not one of its annotations.
        """
        on_import = self.on_import and not called
        direct = self.context.import_in_helper(module, name, on_import=on_import)
        if direct is not None and not direct.imports:
            return direct.local
        whole = self.context.import_in_helper(module, on_import=on_import)
        if whole is not None and not whole.imports and "." not in module:
            return f"{whole.local}.{name}"
        if not called:
            checked = self._type_checking(module, name)
            if checked is not None:
                return checked
        return self._added(direct)

    def generic_alias(self, name: str) -> str | None:
        """Return how the helper names `collections.abc.name`, subscripted in an annotation.

        The classes of `collections.abc` take a subscript from Python 3.9
        on. Before that the helper uses `typing`, unless the module imports
        the name from `collections.abc` and postpones annotations.
        """
        if self.context.older_python((3, 9)) is None:
            found = self._found(("collections.abc", "typing"), name)
            if found is not None:
                return found
            return self.name("collections.abc", name)
        if self.postponed:
            found = self._found(("collections.abc",), name)
            if found is not None:
                return found
        return self.name("typing", name)

    def evaluated(self, annotation: str, builtin_generic: bool = True) -> str:
        """Return `annotation` as the helper writes it, quoted where Python could not evaluate it.

        Python cannot evaluate a name that only an import under
        `if TYPE_CHECKING:` binds. With `builtin_generic`, the annotation
        subscripts a builtin or standard-library class such as `set` or
        `concurrent.futures.Future`, which takes a subscript only from
        Python 3.9 on, so it is quoted below that. Nothing is quoted when
        the module postpones annotations.
        """
        if self.postponed:
            return annotation
        too_old = builtin_generic and self.context.older_python((3, 9)) is not None
        if too_old or self._names_type_checking(annotation):
            return f'"{annotation}"'
        return annotation

    def _found(self, modules: tuple[str, ...], name: str) -> str | None:
        """Return an existing import of `name` from one of `modules`, if any.

        An import that Python runs comes first, then one under
        `if TYPE_CHECKING:`.
        """
        for module in modules:
            found = self._existing(module, name)
            if found is not None:
                return found
        for module in modules:
            found = self._type_checking(module, name)
            if found is not None:
                return found
        return None

    def _existing(self, module: str, name: str) -> str | None:
        direct = self.context.import_in_helper(module, name, on_import=self.on_import)
        if direct is not None and not direct.imports:
            return direct.local
        return None

    def _type_checking(self, module: str, name: str) -> str | None:
        local = self.context.type_checking_import(module, name)
        if local is not None:
            self.type_checking.add(local)
        return local

    def _names_type_checking(self, annotation: str) -> bool:
        names = _FIRST_NAMES.findall(annotation)
        return any(name in self.type_checking for name in names)

    def _added(self, imported: ImportedName | None) -> str | None:
        if imported is None:
            return None
        self.imports.extend(imported.imports)
        return imported.local


def format_def(
    name: str,
    parameters: list[str],
    returns: str,
    indent: str = "",
    line_length: int = LINE_LENGTH,
    prefix: str = "def ",
) -> str:
    """Lay out a function's signature line the way black does at `line_length` columns.

    `parameters` are the parameters as source text, with their annotations.
    """
    one_line = f"{indent}{prefix}{name}({', '.join(parameters)}) -> {returns}:"
    if len(one_line) <= line_length:
        return one_line
    inner = f"{indent}    {', '.join(parameters)}"
    closing = f"{indent}) -> {returns}:"
    if len(inner) <= line_length:
        return f"{indent}{prefix}{name}(\n{inner}\n{closing}"
    lines = [f"{indent}    {parameter}," for parameter in parameters]
    return f"{indent}{prefix}{name}(\n" + "\n".join(lines) + f"\n{closing}"
