"""Patches of Customer.io client classes in tests, which CIO601 must not outrun.

A test that patches a client class (`mock.patch("app.views.CustomerIO")`,
`monkeypatch.setattr(views, "CustomerIO", Fake)`) gets its mock from each
construction that runs under the patch. A client built once is not: one
built at import exists before the patch applies, and a cached factory
keeps the first client that it built, real or mock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import libcst as cst

from cio_fix.customerio import CONSTRUCTORS, Construction, FileIndex, literal_value

# mock's `patch`, of the standard library and of the `mock` backport.
PATCH_FUNCTIONS = frozenset({"unittest.mock.patch", "mock.patch"})


@dataclass(frozen=True)
class ClassPatch:
    """A call that patches a client class, and the attribute that it replaces."""

    # The module (or other object) whose attribute the patch replaces: `app.views`.
    owner: str
    # The replaced attribute: `CustomerIO`.
    name: str
    # The file and line of the patching call, as findings show them.
    path: str
    line: int

    @property
    def target(self) -> str:
        return f"{self.owner}.{self.name}"


def patched_class(index: FileIndex, call: cst.Call) -> tuple[str, str] | None:
    """Return the owner and name of the client class that a call patches, or None.

    The calls are `patch("app.views.CustomerIO")` of unittest.mock and mock
    (also pytest-mock's `mocker.patch`), `patch.object(views, "CustomerIO")`
    and pytest's `monkeypatch.setattr`, with a dotted string or with an
    object and an attribute name. An object counts when it names an
    imported module. Any capitalised name may be a client class, because a
    project module may pass the SDK's class on under a name of its own
    (`Tracker`). `patch_over` tells which patches replace a client class.
    """
    func = call.func
    if type(func) is cst.Name:
        method = func.value
    elif type(func) is cst.Attribute:
        method = func.attr.value
    else:
        return None
    if method == "patch" or _is_patch(index, func):
        return _dotted_target(_argument(call, 0, "target"))
    if (
        method == "object"
        and type(func) is cst.Attribute
        and _is_patch(index, func.value)
    ):
        return _object_target(index, call, "attribute")
    if method == "setattr" and type(func) is cst.Attribute:
        dotted = _dotted_target(_argument(call, 0, "target"))
        if dotted is not None:
            return dotted
        return _object_target(index, call, "name")
    return None


def _is_patch(index: FileIndex, node: cst.BaseExpression) -> bool:
    """Tell whether `node` names mock's `patch`, also imported under another name.

    `patch` and `mock.patch` count by their last name, as pytest-mock's
    `mocker.patch` does; `from unittest.mock import patch as mock_patch`
    counts through the import.
    """
    if type(node) is cst.Name:
        if node.value == "patch":
            return True
    elif type(node) is cst.Attribute:
        if node.attr.value == "patch":
            return True
    else:
        return False
    return index.qualified_name(node) in PATCH_FUNCTIONS


def _argument(call: cst.Call, position: int, keyword: str) -> cst.BaseExpression | None:
    """Return the argument at `position`, or the one passed as `keyword`."""
    for index, argument in enumerate(call.args):
        if argument.star:
            return None
        if argument.keyword is not None:
            if argument.keyword.value == keyword:
                return argument.value
        elif index == position:
            return argument.value
    return None


def _dotted_target(node: cst.BaseExpression | None) -> tuple[str, str] | None:
    """Return the owner and name of `"app.views.CustomerIO"` when it may name a class."""
    if node is None:
        return None
    target = literal_value(node)
    if not isinstance(target, str):
        return None
    owner, _, name = target.rpartition(".")
    if not owner or not _may_name_class(name):
        return None
    return owner, name


def _object_target(
    index: FileIndex, call: cst.Call, name_keyword: str
) -> tuple[str, str] | None:
    """Return the owner and name of `patch.object(views, "CustomerIO")`.

    `name_keyword` is the keyword of the attribute's name in the call.
    """
    owner = _argument(call, 0, "target")
    name = _argument(call, 1, name_keyword)
    if owner is None or name is None:
        return None
    attribute = literal_value(name)
    if not isinstance(attribute, str) or not _may_name_class(attribute):
        return None
    qualified = index.qualified_name(owner)
    if qualified is None:
        return None
    return qualified, attribute


def _may_name_class(name: str) -> bool:
    """Tell whether a patched attribute's name is spelled as a class's: `Tracker`."""
    return name.isidentifier() and name[:1].isupper()


def patch_over(
    index: FileIndex, construction: Construction, patches: Iterable[ClassPatch]
) -> ClassPatch | None:
    """Return a patch that replaces the class which a construction calls, or None.

    A patch of the SDK's class (`customerio.CustomerIO`) counts for every
    construction of it, because code that imports the class after the patch
    applies, or reads it from the module at each call, gets the mock. For
    the same reason, a patch of a project module's import of the class
    (`app.compat.CustomerIO`) counts for the constructions that import it
    from there, directly or through other modules. A patch of a module's
    name (`app.views.CustomerIO`) counts for the constructions of that
    module that call the name.
    """
    func = construction.node.func
    local = func.value if type(func) is cst.Name else None
    reexported = index.reexported_class(func)
    bindings = reexported.bindings if reexported is not None else ()
    for patch in patches:
        if CONSTRUCTORS.get(patch.target) == construction.client:
            return patch
        if patch.name == local and _same_module(patch.owner, index.module_name):
            return patch
        if any(
            patch.name == name and _same_module(patch.owner, module)
            for module, name in bindings
        ):
            return patch
    return None


def _same_module(owner: str, module_name: str) -> bool:
    """Tell whether a patch's owner names the module, also from another root.

    The project may import `src.app.views` where cio-fix names the module
    `app.views`, or the other way round.
    """
    if not module_name:
        return False
    if owner == module_name:
        return True
    return owner.endswith(f".{module_name}") or module_name.endswith(f".{owner}")


def patch_reason(patch: ClassPatch) -> str:
    """Return why a construction under `patch` must stay where it is."""
    return (
        f"{patch.path} patches `{patch.target}` on line {patch.line}, and a client"
        " built once would not be the patch's mock: one built at import exists"
        " before the patch applies, and a cached one stays the first client"
        " built, mock or not"
    )
