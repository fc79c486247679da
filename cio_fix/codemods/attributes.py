"""Attribute types that differ across the project (CIO402)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from cio_fix.customerio import (
    METHODS_BY_API,
    PIPELINES,
    TRACK,
    Api,
    Assignment,
    ClientCall,
    Construction,
    FileIndex,
    Scope,
    construction_workspace,
    dotted_name,
    literal_value,
    normalise_arguments,
    subscript_key,
)
from cio_fix.model import Finding
from cio_fix.places import Place, list_places, place_of, project_finding, sort_places
from cio_fix.project import ProjectIndex
from cio_fix.rules import FileContext, Rule

# Calls whose result has a known JSON type. The customerio SDK (1.x to 3.x)
# sends a `datetime` as integer Unix seconds, so it is a number on the wire.
NUMBER_CALLS = frozenset(
    {
        "int",
        "float",
        "round",
        "len",
        "abs",
        "time.time",
        "math.floor",
        "math.ceil",
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.datetime.fromtimestamp",
        "datetime.datetime.fromisoformat",
        "datetime.datetime",
        "django.utils.timezone.now",
    }
)
DATETIME_CALLS = frozenset(
    name for name in NUMBER_CALLS if name.startswith(("datetime", "django"))
)
STRING_CALLS = frozenset({"str", "repr"})
STRING_METHODS = frozenset(
    {"isoformat", "strftime", "format", "lower", "upper", "strip", "title"}
)
BOOLEAN_CALLS = frozenset({"bool", "isinstance"})
# Calls that send profile or event attributes.
ATTRIBUTE_METHODS = frozenset({"identify", "track", "track_anonymous"})
DATE_STRING = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$"
)


@dataclass(frozen=True)
class AttributeUse:
    """One attribute value sent to Customer.io, with its JSON type."""

    # "profile" for identify, or "event NAME" for the data of one event.
    owner: str
    attribute: str
    # The JSON type on the wire: number, string, boolean, object or array.
    kind: str
    # The value's form in the source, for the message: "an integer", "a datetime".
    description: str
    place: Place
    # For a call on a name imported from another module: that name, and the
    # API the call was read as. The use counts only if the name is a client
    # of that API, which is known once every file is indexed.
    receiver: str | None = None
    api: Api | None = None
    # The workspace the value is sent to, as far as the client shows it
    # (see `workspace_of`), or None when unknown.
    workspace: str | None = None

    def is_client_call(self, project: ProjectIndex) -> bool:
        if self.receiver is None:
            return True
        client = project.client_type(self.receiver)
        return client is not None and client.api is self.api


@dataclass(frozen=True)
class ValueType:
    kind: str
    description: str


def value_type(
    index: FileIndex, node: cst.BaseExpression, scope: Scope, depth: int = 0
) -> ValueType | None:
    """Return the JSON type an attribute value is sent as, when the source shows it."""
    literal = _literal_type(node)
    if literal is not None:
        return literal
    if isinstance(node, (cst.Dict, cst.DictComp)):
        return ValueType("object", "an object")
    if isinstance(node, (cst.List, cst.Tuple, cst.ListComp)):
        return ValueType("array", "a list")
    if isinstance(node, cst.Comparison) or (
        isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not)
    ):
        return ValueType("boolean", "a boolean")
    if isinstance(node, cst.Call):
        return _call_type(index, node)
    if isinstance(node, cst.Name) and depth < 2:
        assignments = index.assignments_of(node.value, scope)
        if len(assignments) == 1 and assignments[0].value is not None:
            return value_type(
                index, assignments[0].value, assignments[0].scope, depth + 1
            )
    return None


def _literal_type(node: cst.BaseExpression) -> ValueType | None:
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return ValueType("boolean", "a boolean")
    if isinstance(node, cst.FormattedString):
        return ValueType("string", "a string")
    value = literal_value(node)
    if isinstance(value, str):
        if DATE_STRING.match(value):
            return ValueType("string", "a date string")
        return ValueType("string", "a string")
    if isinstance(value, int):
        return ValueType("number", "an integer")
    if isinstance(value, float):
        return ValueType("number", "a float")
    return None


def _call_type(index: FileIndex, node: cst.Call) -> ValueType | None:
    func = node.func
    qualified = index.qualified_name(func)
    name = qualified or (func.value if isinstance(func, cst.Name) else None)
    if name in DATETIME_CALLS:
        return ValueType("number", "a datetime")
    if name in NUMBER_CALLS:
        return ValueType("number", "a number")
    if name in STRING_CALLS:
        return ValueType("string", "a string")
    if name in BOOLEAN_CALLS:
        return ValueType("boolean", "a boolean")
    if (
        qualified is None
        and isinstance(func, cst.Attribute)
        and func.attr.value in STRING_METHODS
    ):
        if func.attr.value in ("isoformat", "strftime"):
            return ValueType("string", "a date string")
        return ValueType("string", "a string")
    return None


def _event_name(call: ClientCall) -> str | None:
    parameter = "event" if call.api is Api.PIPELINES else "name"
    name = literal_value(call.value(parameter))
    return name if isinstance(name, str) else None


def _attribute_values(
    call: ClientCall,
) -> tuple[str, dict[str, cst.BaseExpression]] | None:
    """Return the owner of a call's attributes and the attributes it sends by name."""
    values: dict[str, cst.BaseExpression] = {}
    if call.method == "identify":
        owner = "profile"
        dictionary = call.value("traits") if call.api is Api.PIPELINES else None
    elif call.method in ("track", "track_anonymous"):
        event = _event_name(call)
        if event is None:
            return None
        owner = f"event {event}"
        dictionary = call.value("properties" if call.api is Api.PIPELINES else "data")
    else:
        return None

    if call.api is not Api.PIPELINES:
        for keyword, argument in call.extra_keywords.items():
            values[keyword] = argument.value
    if isinstance(dictionary, cst.Dict):
        for element in dictionary.elements:
            if not isinstance(element, cst.DictElement):
                continue
            key = literal_value(element.key)
            if isinstance(key, str):
                values[key] = element.value
    return owner, values


def _calls_with_attributes(index: FileIndex) -> Iterator[tuple[ClientCall, str | None]]:
    """Yield the client calls of a file, and the calls on imported names read as client calls.

    `collect` runs before other files are indexed, so a client imported from
    another module is not resolved yet. Its calls are read both as Track API
    and as Data Pipelines calls, with the imported name, and `check_project`
    keeps the reading that matches the client the name turns out to be.
    """
    resolved = set()
    for call in index.client_calls:
        resolved.add(id(call.node))
        yield call, None

    for site in index.call_sites:
        func = site.node.func
        if id(site.node) in resolved or not isinstance(func, cst.Attribute):
            continue
        method = func.attr.value
        if method not in ATTRIBUTE_METHODS:
            continue
        receiver = index.qualified_name(func.value)
        if receiver is None:
            continue
        for client in (TRACK, PIPELINES):
            parameters = METHODS_BY_API[client.api].get(method)
            if parameters is None:
                continue
            named, extra, starred = normalise_arguments(site.node, parameters)
            call = ClientCall(
                site.node, method, client, func.value, site, named, extra, starred
            )
            yield call, receiver


def workspace_of(
    index: FileIndex, call: ClientCall, constructions: dict[int, Construction]
) -> str | None:
    """Return a key for the workspace that a call's client sends to, or None when unknown.

    A client built in this file is keyed by its site id (or write key) as
    written, so `CustomerIO(BRAND_B_SITE_ID, ...)` and
    `CustomerIO(CIO_SITE_ID, ...)` differ. Any other item of a dict of
    clients is keyed by the dict and the item, because such a dict usually
    contains one client per workspace. The key starts with how the
    workspace is known (`literal:`, `read:` or `item:`), see `_by_workspace`.
    """
    receiver = call.receiver
    scope = call.site.scope
    constructor = _client_constructor(index, receiver, scope)
    construction = constructions.get(id(constructor)) if constructor else None
    if construction is not None:
        key = construction_workspace(construction)
        if key is not None:
            return key

    if type(receiver) is not cst.Subscript:
        return None
    key = subscript_key(receiver)
    container = dotted_name(receiver.value)
    if key is None or container is None:
        return None
    qualified = index.qualified_name(receiver.value, scope)
    return f"item:{qualified or f'{index.module_name}.{container}'}[{key!r}]"


def _client_constructor(
    index: FileIndex, receiver: cst.BaseExpression, scope: Scope
) -> cst.BaseExpression | None:
    """Return the expression that built a client: `cio`, `self.cio` or `CLIENTS["a"]`, bound once.

    A dict item that is a name (`{"web": fast}`) is followed to that name's value.
    """
    if type(receiver) is cst.Name:
        return _only_value(index, receiver.value, scope)
    if type(receiver) is cst.Attribute:
        assignment = self_attribute_assignment(index, receiver, scope)
        return assignment.value if assignment is not None else None
    if type(receiver) is not cst.Subscript or type(receiver.value) is not cst.Name:
        return None
    key = subscript_key(receiver)
    clients = _only_value(index, receiver.value.value, scope)
    if key is None or not isinstance(clients, cst.Dict):
        return None
    for element in clients.elements:
        if isinstance(element, cst.DictElement) and literal_value(element.key) == key:
            if type(element.value) is cst.Name:
                return _only_value(index, element.value.value, scope)
            return element.value
    return None


def self_attribute_assignment(
    index: FileIndex, receiver: cst.Attribute, scope: Scope
) -> Assignment | None:
    """Return the one assignment of `self.cio` or `cls.cio` that a method's class makes."""
    owner = receiver.value
    if type(owner) is not cst.Name or owner.value not in ("self", "cls"):
        return None
    assignments = index.self_attribute_assignments(receiver.attr.value, scope)
    if len(assignments) != 1:
        return None
    return assignments[0]


def _only_value(index: FileIndex, name: str, scope: Scope) -> cst.BaseExpression | None:
    assignments = index.assignments_of(name, scope)
    if len(assignments) != 1:
        return None
    return assignments[0].value


def _by_workspace(uses: list[AttributeUse]) -> list[list[AttributeUse]]:
    """Split the uses of one attribute by workspace, when every use's workspace is known.

    The workspaces must also be known in the same way: two literal site
    ids, two reads, or two items of dicts. A literal site id and a read of
    the settings are often the same workspace, the literal being the
    CIO101 pitfall, so their values are compared.
    """
    if any(use.workspace is None for use in uses):
        return [uses]
    kinds = {(use.workspace or "").partition(":")[0] for use in uses}
    if len(kinds) > 1:
        return [uses]
    groups: dict[str, list[AttributeUse]] = {}
    for use in uses:
        assert use.workspace is not None
        groups.setdefault(use.workspace, []).append(use)
    return list(groups.values())


class InconsistentAttributeType(Rule):
    """What it does:
    Reports, once per attribute, a profile attribute (set by `identify`) or
    an event attribute (of one event name) that the project sends with
    different JSON types: `plan=1` in one place and `plan="1"` in another,
    a `datetime` (sent as Unix seconds) here and a date string there. The
    finding points at the first value whose type differs from the most
    common one and lists the other places. Values sent by test code
    (`test_*.py`, `*_test.py`, `conftest.py`, modules named `tests` or
    `test`, and the files below folders of those names, unless application
    code imports from them, as `--explain CIO101` describes) are not compared,
    because they go to a local server.
    Values sent to different workspaces are not compared either: through
    clients built in one module with different site ids (or write keys), or
    through different items of a dict of clients (`CLIENTS["us"]`,
    `CLIENTS["eu"]`). When the workspace of any value of an attribute is
    unknown, such as a client imported from another module or built from
    `**settings`, all its values are compared.

    Why is this bad?
    Customer.io stores what it receives. A segment condition or a Liquid
    comparison written for one type (`plan equals 1`, `created_at is before`)
    silently misses the people whose value has the other type, so messages
    go to part of the audience only.

    Example:
        cio.identify(id=user.id, plan=1)         # signup
        cio.identify(id=user.id, plan="1")       # login

    Use instead:
        cio.identify(id=user.id, plan=1)
        cio.identify(id=user.id, plan=1)

    Fix safety:
    No fix: which type is right depends on the segments and campaigns that
    read the attribute. Only values whose type the source shows (literals,
    `str()`, `int()`, `datetime.now()`, `.isoformat()` and variables bound
    once to one of them) are compared; integers and floats are both numbers.
    """

    code = "CIO402"
    name = "inconsistent-attribute-type"
    summary = "the same attribute sent with different types in different places"
    fix_safety = None

    def collect(self, context: FileContext) -> list[AttributeUse]:
        uses: list[AttributeUse] = []
        if context.in_test_code:
            # Test values go to a local server, so they clash with no segment.
            return uses
        constructions = {
            id(construction.node): construction
            for construction in context.index.constructions
        }
        for call, receiver in _calls_with_attributes(context.index):
            found = _attribute_values(call)
            if found is None:
                continue
            owner, values = found
            # NOTE: a client imported from another module has an unknown
            # workspace, so its values are compared with every workspace's.
            workspace = (
                workspace_of(context.index, call, constructions)
                if receiver is None
                else None
            )
            for attribute, value in values.items():
                found_type = value_type(context.index, value, call.site.scope)
                if found_type is None:
                    continue
                uses.append(
                    AttributeUse(
                        owner=owner,
                        attribute=attribute,
                        kind=found_type.kind,
                        description=found_type.description,
                        place=place_of(context, value),
                        receiver=receiver,
                        api=call.api if receiver is not None else None,
                        workspace=workspace,
                    )
                )
        return uses

    def check_project(self, project: ProjectIndex) -> Iterator[Finding]:
        groups: dict[tuple[str, str], list[AttributeUse]] = {}
        for _, uses in project.rule_facts(self.code):
            for use in uses:
                if not use.is_client_call(project):
                    continue
                groups.setdefault((use.owner, use.attribute), []).append(use)

        for (owner, attribute), uses in sorted(groups.items()):
            for workspace_uses in _by_workspace(uses):
                kinds = {use.kind for use in workspace_uses}
                if len(kinds) < 2:
                    continue
                yield self._finding(owner, attribute, workspace_uses)

    def _finding(self, owner: str, attribute: str, uses: list[AttributeUse]) -> Finding:
        by_place = {use.place: use for use in uses}
        ordered = [by_place[place] for place in sort_places(by_place)]
        counts = Counter(use.kind for use in ordered)
        # The most common type wins; on a tie, the type of the first use.
        usual = max(
            counts, key=lambda kind: (counts[kind], -_first_index(ordered, kind))
        )
        odd = next(use for use in ordered if use.kind != usual)

        # Places that send the same JSON type as this one are no conflict.
        others = [use for use in ordered if use.kind != odd.kind]
        descriptions = []
        for kind in sorted({use.kind for use in others}):
            places = [use.place for use in others if use.kind == kind]
            descriptions.append(f"as {_with_article(kind)} at {list_places(places)}")
        if owner == "profile":
            subject = f"the profile attribute `{attribute}`"
        else:
            event = owner.removeprefix("event ")
            subject = f"the attribute `{attribute}` of the event {event!r}"
        sent_as = odd.description
        if odd.description != _with_article(odd.kind):
            sent_as += f" ({_with_article(odd.kind)} on the wire)"
        message = (
            f"{subject} is sent as {sent_as} here"
            f" but {' and '.join(descriptions)}; send one type everywhere, because"
            " segments and Liquid comparisons written for one type miss the people"
            " whose value has the other"
        )
        return project_finding(self, odd.place, message)


def _with_article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _first_index(uses: list[AttributeUse], kind: str) -> int:
    for position, use in enumerate(uses):
        if use.kind == kind:
            return position
    return len(uses)
