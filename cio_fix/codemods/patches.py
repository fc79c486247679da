"""Patches of Customer.io client classes in tests, which CIO601 must not outrun.

A test that patches a client class (`mock.patch("app.views.CustomerIO")`,
`monkeypatch.setattr(views, "CustomerIO", Fake)`) gets its mock from each
construction that runs under the patch. A client built once is not: one
built at import exists before the patch applies, and a cached factory
keeps the first client that it built, real or mock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from cio_fix.customerio import (
    CONSTRUCTORS,
    Construction,
    FileIndex,
    Scope,
    dotted_name,
    literal_value,
)
from cio_fix.events import parse_name
from cio_fix.name_constants import sent_texts, value_texts

if TYPE_CHECKING:
    from cio_fix.project import ProjectIndex
    from cio_fix.rules import FileContext

# mock's `patch`, of the standard library and of the `mock` backport.
PATCH_FUNCTIONS = frozenset({"unittest.mock.patch", "mock.patch"})
# The names of pytest-mock's fixture, whose `patch` is mock's, and of
# pytest's fixture that has `setattr`.
MOCKER = "mocker"
MONKEYPATCH = "monkeypatch"
# The packages of the SDK's client classes: `customerio`, `async_customerio`.
SDK_PACKAGES = frozenset(name.partition(".")[0] for name in CONSTRUCTORS)
_WORD = re.compile(r"\w+")


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


@dataclass(frozen=True)
class UnreadPatch:
    """A patch whose target cio-fix cannot read, such as `patch(target)` of a parameter.

    It may replace a client class of any module whose name the patching
    file mentions (an import of the module counts).
    """

    # The project's modules and the SDK's packages whose last name part is
    # a word of the patching file: `shop.tasks` for `from shop import tasks`.
    modules: frozenset[str]
    path: str
    line: int


# A patch that `patch_over` may find for a construction.
Patch = ClassPatch | UnreadPatch


def patched_classes(
    context: FileContext, call: cst.Call, scope: Scope
) -> list[tuple[str, str]] | None:
    """Return the owner and name of each client class that a call patches.

    None when the call is a patch whose target cio-fix cannot read: not a
    literal, nor text that constants give (`f"{MODULE}.CustomerIO"`,
    `MODULE + ".CustomerIO"`). An empty list when the call patches no class.
    The calls are `patch("app.views.CustomerIO")` of unittest.mock and mock
    (also pytest-mock's `mocker.patch`), `patch.object(views, "CustomerIO")`,
    `patch.multiple("app.views", CustomerIO=DEFAULT)` and pytest's
    `monkeypatch.setattr`, with a dotted string or with an object and an
    attribute name. An object counts when it names an imported module. Any
    capitalised name may be a client class, because a project module may
    pass the SDK's class on under a name of its own (`Tracker`).
    `patch_over` tells which patches replace a client class.
    """
    index = context.index
    func = call.func
    if type(func) is cst.Name:
        method = func.value
    elif type(func) is cst.Attribute:
        method = func.attr.value
    else:
        return []
    if method == "patch" or _is_patch(index, func):
        target = _argument(call, 0, "target")
        return _dotted_targets(context, scope, target, _is_mock_patch(index, func))
    if type(func) is not cst.Attribute:
        return []
    if method == "object" and _is_patch(index, func.value):
        return _found(_object_target(index, call, "attribute"))
    if method == "multiple" and _is_patch(index, func.value):
        return _multiple_targets(
            context, scope, call, _is_mock_patch(index, func.value)
        )
    if method == "setattr":
        if _argument(call, 2, "value") is None:
            # `monkeypatch.setattr("app.views.CustomerIO", Fake)`: two arguments
            # name the target with a dotted string.
            target = _argument(call, 0, "target")
            strict = dotted_name(func.value) == MONKEYPATCH
            return _dotted_targets(context, scope, target, strict)
        return _found(_object_target(index, call, "name"))
    return []


def unread_patch(context: FileContext, path: str, line: int) -> UnreadPatch:
    """Return the patch at `line` whose target cio-fix cannot read, with the modules it may mean."""
    modules = context.shared("CIO601:mentioned-modules", _mentioned_modules)
    return UnreadPatch(modules, path, line)


def _mentioned_modules(context: FileContext) -> frozenset[str]:
    """Return the project's modules and SDK packages whose last name part the file contains."""
    by_last_part = context.project.shared(
        "CIO601:modules-by-last-part", _modules_by_last_part
    )
    modules: set[str] = set()
    for word in set(_WORD.findall(context.source.text)):
        modules.update(by_last_part.get(word, ()))
    return frozenset(modules)


def _modules_by_last_part(project: ProjectIndex) -> dict[str, list[str]]:
    """Return the project's module names and the SDK's packages by their last name part."""
    found: dict[str, list[str]] = {package: [package] for package in SDK_PACKAGES}
    for summary in project.summaries:
        name = summary.module_name
        if name:
            found.setdefault(name.rpartition(".")[2], []).append(name)
    return found


def _found(target: tuple[str, str] | None) -> list[tuple[str, str]]:
    return [target] if target is not None else []


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


def _is_mock_patch(index: FileIndex, node: cst.BaseExpression) -> bool:
    """Tell whether `node` is mock's `patch` for certain, not only a method named `patch`.

    That is an import of mock's `patch` or pytest-mock's `mocker.patch`.
    Django's and DRF's test clients also have a `patch` method, which
    sends an HTTP PATCH request to the URL that it is given.
    """
    if type(node) is cst.Attribute and node.attr.value == "patch":
        if dotted_name(node.value) == MOCKER:
            return True
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


def _dotted_targets(
    context: FileContext,
    scope: Scope,
    node: cst.BaseExpression | None,
    strict: bool,
) -> list[tuple[str, str]] | None:
    """Return the owner and name of each class that `"app.views.CustomerIO"` may name.

    None when cio-fix cannot read the target and `strict` is True: the call
    is mock's `patch` for certain.
    """
    if node is None:
        return []
    texts = _texts(context, scope, node)
    if texts is None:
        return None if strict else []
    targets = []
    for text in sorted(texts):
        owner, _, name = text.rpartition(".")
        if owner and _may_name_class(name):
            targets.append((owner, name))
    return targets


def _multiple_targets(
    context: FileContext, scope: Scope, call: cst.Call, strict: bool
) -> list[tuple[str, str]] | None:
    """Return the owner and name of each class of `patch.multiple("app.views", CustomerIO=DEFAULT)`.

    The target is a dotted string or an imported module. None when the
    call may patch a class (a capitalised keyword, or `**names`) of a
    target that cio-fix cannot read, and `strict` is True: the call is
    mock's for certain.
    """
    names = []
    any_name = False
    for argument in call.args:
        if argument.star == "**":
            any_name = True
        elif argument.keyword is not None and _may_name_class(argument.keyword.value):
            names.append(argument.keyword.value)
    if not names and not any_name:
        return []
    target = _argument(call, 0, "target")
    if target is None:
        return []
    owners = _texts(context, scope, target)
    if owners is None:
        qualified = context.index.qualified_name(target)
        owners = frozenset({qualified}) if qualified is not None else None
    if owners is None or any_name:
        return None if strict else []
    return [(owner, name) for owner in sorted(owners) for name in names]


def _texts(
    context: FileContext, scope: Scope, node: cst.BaseExpression
) -> frozenset[str] | None:
    """Return the texts that a patch's target may have, or None when cio-fix cannot read it.

    An f-string or `+` reads module constants as `--list-events` does.
    A value that is no string gives no text.
    """
    literal = literal_value(node)
    if literal is not None:
        return frozenset({literal}) if isinstance(literal, str) else frozenset()
    built = parse_name(node)
    if built is not None:
        return sent_texts(context, scope, built)
    return value_texts(context, scope, node)


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
    index: FileIndex, construction: Construction, patches: Iterable[Patch]
) -> Patch | None:
    """Return a patch that replaces the class which a construction calls, or None.

    A patch of the SDK's class (`customerio.CustomerIO`) counts for every
    construction of it, because code that imports the class after the patch
    applies, or reads it from the module at each call, gets the mock. For
    the same reason, a patch of a project module's import of the class
    (`app.compat.CustomerIO`) counts for the constructions that import it
    from there, directly or through other modules. A patch of a module's
    name (`app.views.CustomerIO`) counts for the constructions of that
    module that call the name.
    When no other patch counts, a patch whose target cio-fix cannot read
    counts if its file mentions one of these modules or the SDK's package.
    """
    func = construction.node.func
    local = func.value if type(func) is cst.Name else None
    reexported = index.reexported_class(func)
    bindings = reexported.bindings if reexported is not None else ()
    unread = []
    for patch in patches:
        if type(patch) is UnreadPatch:
            unread.append(patch)
            continue
        if CONSTRUCTORS.get(patch.target) == construction.client:
            return patch
        if patch.name == local and _same_module(patch.owner, index.module_name):
            return patch
        if any(
            patch.name == name and _same_module(patch.owner, module)
            for module, name in bindings
        ):
            return patch
    if not unread:
        return None
    modules = {index.module_name, *(module for module, _ in bindings)}
    modules.update(
        name.partition(".")[0]
        for name, client in CONSTRUCTORS.items()
        if client == construction.client
    )
    for patch in unread:
        if not patch.modules.isdisjoint(modules):
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


def patch_reason(patch: Patch) -> str:
    """Return why a construction under `patch` must stay where it is."""
    if type(patch) is UnreadPatch:
        # An unsafe fix would still break the tests of a user who applies
        # unsafe fixes, so the fix is withheld, as for a patch that is read.
        return (
            f"{patch.path} patches a target on line {patch.line} that cio-fix"
            " cannot read, which may be this client's class, and a client built"
            " once would not be the patch's mock"
        )
    return (
        f"{patch.path} patches `{patch.target}` on line {patch.line}, and a client"
        " built once would not be the patch's mock: one built at import exists"
        " before the patch applies, and a cached one stays the first client"
        " built, mock or not"
    )
