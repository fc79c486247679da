"""Rules about the person a call is for (CIO201, CIO202, CIO203, CIO401).

They cover the order of track and identify, email addresses as customer
ids, anonymous events never merged, and profiles created without email.
"""

from __future__ import annotations

import ast
import enum
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import libcst as cst

from cio_fix.chains import joined_strings, operands
from cio_fix.codemods.attributes import workspace_of
from cio_fix.codemods.bindings import PART, STORED, Bindings, connected_names
from cio_fix.codemods.client_aliases import alias_target, client_construction
from cio_fix.codemods.time_zones import UTC_PYTHON, TimeZones
from cio_fix.customerio import (
    Api,
    ClientCall,
    Construction,
    FileIndex,
    FunctionInfo,
    NameReader,
    all_parameters,
    construction_workspace,
    dotted_name,
    literal_value,
    read_names,
    subscript_key,
)
from cio_fix.edits import blank_prefix
from cio_fix.metadata import code_of, quoted_code
from cio_fix.model import Finding, Fix, FixSafety
from cio_fix.places import Place, list_places, place_of, project_finding
from cio_fix.project import ProjectIndex
from cio_fix.rules import FileContext, Rule
from cio_fix.walk import child_nodes, find_all, walk

EMAIL_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Words of names that end in "email" but contain a digest or a disguise of
# the address, not the address: `email_hash`, `hashedEmail`, `sha256_email`,
# `hmac_email`, `pseudonymized_email`. `_words` splits `sha256` into "sha"
# and "256", and `md5` into "md" and "5", which `_names_digest` joins again.
DIGEST_WORDS = frozenset(
    {
        "hash",
        "hashed",
        "digest",
        "hmac",
        "md5",
        "sha",
        "encrypted",
        "masked",
        "obfuscated",
        "anonymized",
        "anonymised",
        "pseudonymized",
        "pseudonymised",
        "tokenized",
        "tokenised",
    }
)
# Words that, right before a final "email", make the name a value looked up
# by or kept per address: `customer_id_by_email`, `id_for_email`, `domain_of_email`.
LOOKUP_WORDS = frozenset({"by", "for", "of", "per"})
# "from" counts as a lookup word only after one of these words, because
# `from_email` and `DEFAULT_FROM_EMAIL` name the sender's address.
ID_WORDS = frozenset({"id", "ids", "pk", "uuid"})
NAME_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# String methods that keep an email address an email address.
EMAIL_KEEPING_METHODS = frozenset({"lower", "upper", "strip", "casefold"})


def same_expression(first: cst.BaseExpression, second: cst.BaseExpression) -> bool:
    """Tell whether two expressions are the same code, ignoring layout and quote style."""
    return normalised_code(first) == normalised_code(second)


def normalised_code(node: cst.BaseExpression) -> str:
    """Return a form of an expression's code that ignores layout and quote style."""
    text = code_of(node.with_changes(lpar=(), rpar=()))
    try:
        tree = ast.parse(f"({text})", mode="eval")
    except SyntaxError:
        return text
    return _dumped(tree)


def _dumped(tree: ast.AST) -> str:
    """Return a text that two syntax trees have alike only when they are equal.

    It replaces `ast.dump`, which calls itself once per level of the tree,
    and a long `+` chain nests one level per term. Each node gives its type
    and then its fields, and each list its length and then its items, so
    the text reads back one way. `repr` keeps line breaks out of the values.
    """
    parts: list[str] = []
    pending: list[object] = [tree]
    while pending:
        item = pending.pop()
        if isinstance(item, ast.AST):
            parts.append(type(item).__name__)
            fields = [getattr(item, name, None) for name in item._fields]
            pending.extend(reversed(fields))
        elif isinstance(item, list):
            parts.append(f"[{len(item)}")
            pending.extend(reversed(item))
        else:
            parts.append(repr(item))
    return "\n".join(parts)


# -- what an email address looks like in code ------------------------------------


def _words(name: str) -> list[str]:
    """Split a name such as `sha256_email` or `hashedEmail` into lowercase words."""
    return [word.lower() for word in NAME_WORD.findall(name)]


def _names_email(name: str) -> bool:
    if not name.lower().endswith("email"):
        return False
    words = _words(name)
    if _names_digest(words):
        return False
    return not _names_lookup_by_email(words)


def _names_digest(words: list[str]) -> bool:
    """Tell whether the words of a name contain a digest word, also one split at its digits."""
    for position, word in enumerate(words):
        if word in DIGEST_WORDS:
            return True
        following = words[position + 1] if position + 1 < len(words) else ""
        if following.isdigit() and word + following in DIGEST_WORDS:
            return True
    return False


def _names_lookup_by_email(words: list[str]) -> bool:
    """Tell whether the words of a name ending in "email" name a value found by the address.

    `customer_id_by_email` and `userIdFromEmail` contain an id, not an address.
    """
    if len(words) < 2:
        return False
    before = words[-2]
    if before in LOOKUP_WORDS:
        return True
    return before == "from" and bool(ID_WORDS & set(words[:-2]))


def is_email_expression(node: cst.BaseExpression) -> bool:
    """Tell whether `node` is an email address: `user.email`, `form["email"]`, "a@b.io"."""
    value = literal_value(node)
    if isinstance(value, str):
        return bool(EMAIL_ADDRESS.match(value))
    if isinstance(node, cst.Name):
        return _names_email(node.value)
    if isinstance(node, cst.Attribute):
        return _names_email(node.attr.value)
    if isinstance(node, cst.Subscript):
        key = subscript_key(node)
        return key is not None and _names_email(key)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        method = node.func.attr.value
        if method in EMAIL_KEEPING_METHODS and not node.args:
            return is_email_expression(node.func.value)
        if method == "get" and node.args and node.args[0].keyword is None:
            key = literal_value(node.args[0].value)
            return isinstance(key, str) and _names_email(key)
    return False


def sets_email(call: ClientCall) -> bool:
    """Tell whether an identify may set the email attribute.

    `**attributes` may contain it, and an identify by email address sets it.
    """
    if "email" in call.extra_keywords:
        return True
    if any(argument.star == "**" for argument in call.star_arguments):
        return True
    customer = call.value("id")
    return customer is not None and is_email_expression(customer)


def track_calls(index: FileIndex, method: str) -> list[ClientCall]:
    return [
        call
        for call in index.client_calls
        if call.api is Api.TRACK and call.method == method
    ]


def _with_keyword(
    argument: cst.Arg, keyword: str, value: cst.BaseExpression
) -> list[cst.Arg]:
    """Return `argument` followed by `keyword=value`, in the layout of the call.

    The new argument takes the `=` spacing and the comma of `argument` (with
    its line break, in a call written one argument a line), and the space
    before the closing parenthesis when `argument` was the last one.
    """
    equal = argument.equal
    if not isinstance(equal, cst.AssignEqual):
        equal = cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""),
            whitespace_after=cst.SimpleWhitespace(""),
        )
    added = cst.Arg(
        value=value,
        keyword=cst.Name(keyword),
        equal=equal,
        comma=argument.comma,
        whitespace_after_arg=argument.whitespace_after_arg,
    )
    if isinstance(argument.comma, cst.Comma):
        return [argument, added]
    first = argument.with_changes(
        comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
        whitespace_after_arg=cst.SimpleWhitespace(""),
    )
    return [first, added]


# -- CIO201: what the code between two calls may change ------------------------------

# Calls that only compute a value from their arguments (or read the clock),
# so an identify that makes them can run a few statements earlier.
PURE_FUNCTIONS = frozenset(
    {
        "time.time",
        "time.time_ns",
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.date.today",
        "math.floor",
        "math.ceil",
        "math.trunc",
    }
)
PURE_BUILTINS = frozenset(
    {"int", "float", "str", "bool", "round", "len", "abs", "min", "max"}
)
PURE_METHODS = frozenset(
    {"lower", "upper", "strip", "casefold", "title", "isoformat", "timestamp", "get"}
)
# Clock readings, which cannot raise when called without arguments.
# Django's `timezone.now()` reads `settings.USE_TZ`, which Django configures
# before any handler runs.
CLOCK_NUMBERS = frozenset(
    {
        "time.time",
        "time.time_ns",
        "time.monotonic",
        "time.monotonic_ns",
        "time.perf_counter",
        "time.perf_counter_ns",
    }
)
CLOCK_DATETIMES = frozenset(
    {
        "datetime.datetime.now",
        "datetime.datetime.today",
        "datetime.datetime.utcnow",
        "django.utils.timezone.now",
    }
)
CLOCK_DATES = frozenset({"datetime.date.today"})
# `datetime.now` also takes a time zone, positionally or as `tz=`.
CLOCK_WITH_TIME_ZONE = "datetime.datetime.now"
# Methods without arguments that cannot raise on a clock reading, and the
# one of them that returns a number.
DATE_METHODS = frozenset({"isoformat", "isoweekday", "weekday"})
DATETIME_METHODS = DATE_METHODS | {"date", "time", "timestamp"}
TIMESTAMP_METHOD = "timestamp"
# Functions that turn a finite number into a number without raising.
NUMBER_BUILTINS = frozenset({"int", "float", "round"})
NUMBER_FUNCTIONS = frozenset({"math.floor", "math.ceil", "math.trunc"})
# Track API calls that only add an event. An identify may move past them,
# but not past a delete, merge or suppress of the same person.
EVENT_METHODS = frozenset({"track", "track_anonymous", "pageview"})
# Statements and expressions after which the next statement may not run.
JUMPS = (
    cst.Assert,
    cst.Return,
    cst.Raise,
    cst.Break,
    cst.Continue,
    cst.Global,
    cst.Nonlocal,
    cst.Yield,
)


def root_name(node: cst.BaseExpression) -> str | None:
    """Return `user` for `user`, `user.profile.id` and `form["id"]`."""
    while isinstance(node, (cst.Attribute, cst.Subscript)):
        node = node.value
    return node.value if isinstance(node, cst.Name) else None


class _Reads(NameReader):
    """Collect what an identify's arguments read, and whether evaluating them changes anything."""

    def __init__(self, index: FileIndex) -> None:
        super().__init__()
        self.index = index
        self.pure = True

    def visit_Call(self, node: cst.Call) -> bool:
        func = node.func
        if self._is_pure_function(func):
            # `int` and `time.time` are not data the identify sends.
            for argument in node.args:
                walk(argument, self)
            return False
        if isinstance(func, cst.Attribute) and func.attr.value in PURE_METHODS:
            return True
        self.pure = False
        return False

    def _is_pure_function(self, func: cst.BaseExpression) -> bool:
        if isinstance(func, cst.Name) and func.value in PURE_BUILTINS:
            return _is_builtin(self.index, func)
        return self.index.qualified_name(func) in PURE_FUNCTIONS

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(
            node, (cst.NamedExpr, cst.Await, cst.Yield, cst.Lambda, cst.BaseComp)
        ):
            self.pure = False
            return False
        return super().on_visit(node)


def _is_builtin(index: FileIndex, name: cst.Name) -> bool:
    """Tell whether `name` is the builtin, not imported or assigned over at module level."""
    shadowed = name.value in index.imports
    return not shadowed and name.value not in index.module_scope.assignments


class _Changes(cst.CSTVisitor):
    """Collect what statements may change: the names they bind and the objects their calls reach."""

    def __init__(self) -> None:
        # Names bound, or whose objects get an attribute or item set or deleted.
        self.bound: set[str] = set()
        # Names bound as a whole (`user = ...`), and attribute or item targets.
        self.rebound: set[str] = set()
        self.targets: list[cst.BaseExpression] = []
        # Names whose objects get an attribute or item set or deleted, or an
        # augmented assignment.
        self.changed_in_place: set[str] = set()
        # Names that a call's receiver or arguments start from.
        self.reached: set[str] = set()
        self.has_calls = False
        self.jumps = False

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind(target.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target)
        if isinstance(node.target, cst.Name):
            # `tags += [tag]` extends a list in place.
            self.changed_in_place.add(node.target.value)

    def visit_Del(self, node: cst.Del) -> None:
        self._bind(node.target)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._bind(node.asname.name)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._bind(node.name.name)

    def visit_ExceptStarHandler(self, node: cst.ExceptStarHandler) -> None:
        if node.name is not None:
            self._bind(node.name.name)

    def visit_MatchAs(self, node: cst.MatchAs) -> None:
        if node.name is not None:
            self._bind(node.name)

    def visit_MatchStar(self, node: cst.MatchStar) -> None:
        if node.name is not None:
            self._bind(node.name)

    def visit_MatchMapping(self, node: cst.MatchMapping) -> None:
        if node.rest is not None:
            self._bind(node.rest)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        # A nested `def` binds its name; its body runs later.
        self._bind(node.name)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._bind(node.name)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        name: cst.BaseExpression = node.name
        if node.asname is not None and isinstance(node.asname.name, cst.Name):
            name = node.asname.name
        root = root_name(name)
        if root is not None:
            self.bound.add(root)
            self.rebound.add(root)

    def visit_Call(self, node: cst.Call) -> None:
        self.has_calls = True
        self.reached |= read_names(node.func)
        for argument in node.args:
            self.reached |= read_names(argument.value)

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, JUMPS):
            self.jumps = True
        return super().on_visit(node)

    def _bind(self, target: cst.BaseExpression) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._bind(element.value)
            return
        if isinstance(target, cst.StarredElement):
            self._bind(target.value)
            return
        name = root_name(target)
        if name is None:
            return
        self.bound.add(name)
        if isinstance(target, cst.Name):
            self.rebound.add(name)
        else:
            self.targets.append(target)
            self.changed_in_place.add(name)

    def changes_value_of(self, node: cst.BaseExpression) -> bool:
        """Tell whether these statements assign `node` (`user.id`) or a part of its path."""
        if read_names(node) & self.rebound:
            return True
        current: cst.BaseExpression = node
        while True:
            if any(same_expression(target, current) for target in self.targets):
                return True
            if not isinstance(current, (cst.Attribute, cst.Subscript)):
                return False
            current = current.value


def only_reads(index: FileIndex, node: cst.CSTNode) -> bool:
    """Tell whether evaluating `node` only reads values, as `_Reads` defines it."""
    reads = _Reads(index)
    walk(node, reads)
    return reads.pure


class _EvaluatedByIdentify:
    """The expressions an identify evaluates before it sends.

    When code between the track and the identify raises on one of these,
    the moved identify raises on it first and sends nothing either. The
    receiver counts only when it calls no code, because a call may raise
    once and not the next time. Comparing two expressions prints and parses
    both, so only the identify's expressions of the asked one's node type
    are compared, each printed once.
    """

    def __init__(self, index: FileIndex, identify: ClientCall) -> None:
        self._by_type: dict[type, list[cst.BaseExpression]] = {}
        if only_reads(index, identify.receiver):
            self._add(identify.receiver)
        for argument in identify.node.args:
            self._add(argument.value)
        self._codes: dict[int, str] = {}

    def evaluates(self, node: cst.BaseExpression) -> bool:
        """Tell whether the identify evaluates the same expression as `node`."""
        candidates = self._by_type.get(type(node), [])
        if not candidates:
            return False
        code = normalised_code(node)
        for candidate in candidates:
            key = id(candidate)
            if key not in self._codes:
                self._codes[key] = normalised_code(candidate)
            if self._codes[key] == code:
                return True
        return False

    def _add(self, node: cst.CSTNode) -> None:
        """Add `node` and the parts of it that always run, leaving out branches that may not."""
        pending = [node]
        while pending:
            current = pending.pop()
            if isinstance(current, (cst.Lambda, cst.BaseComp)):
                continue
            if isinstance(current, cst.BaseExpression):
                self._by_type.setdefault(type(current), []).append(current)
            if isinstance(current, cst.IfExp):
                pending.append(current.test)
            elif isinstance(current, cst.BooleanOperation):
                pending.append(current.left)
            else:
                pending.extend(child_nodes(current))


def _cannot_stop(
    index: FileIndex,
    statement: cst.BaseStatement | cst.BaseSmallStatement,
    events: dict[int, ClientCall],
    evaluated: _EvaluatedByIdentify,
    time_zones: TimeZones,
) -> bool:
    """Tell whether running `statement` can neither raise nor stop the handler.

    Only a Track API event and a line of assignments to plain names, `pass`,
    `...` and bare strings qualify, when every value they evaluate cannot
    raise (see `_cannot_raise`). A
    call to other code may raise, an `await` may be cancelled, and setting
    an attribute or item may run a setter. The event's own request may
    still fail, which the rule's docstring states.
    """
    event = events.get(id(statement))
    if event is not None:
        # The method is the first argument of a background helper.
        arguments = event.node.args[1:] if event.in_background else event.node.args
        return _cannot_raise(index, event.receiver, evaluated, time_zones) and all(
            not argument.star
            and _cannot_raise(index, argument.value, evaluated, time_zones)
            for argument in arguments
        )
    if isinstance(statement, cst.BaseSmallStatement):
        return _assigns_what_cannot_raise(index, statement, evaluated, time_zones)
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    return all(
        _assigns_what_cannot_raise(index, small, evaluated, time_zones)
        for small in statement.body
    )


def _raising_parts(
    index: FileIndex,
    event: ClientCall,
    evaluated: _EvaluatedByIdentify,
    time_zones: TimeZones,
) -> str:
    """Name the parts of an event call that may raise: its receiver, its arguments or both."""
    parts = []
    if not _cannot_raise(index, event.receiver, evaluated, time_zones):
        parts.append(f"receiver `{quoted_code(event.receiver)}`")
    # The method is the first argument of a background helper.
    arguments = event.node.args[1:] if event.in_background else event.node.args
    if not all(
        not argument.star
        and _cannot_raise(index, argument.value, evaluated, time_zones)
        for argument in arguments
    ):
        parts.append("own arguments")
    return " and ".join(parts)


def _unknown_workspace_reason(context: FileContext, pair: _Pair) -> str:
    """Return why an identify through another client of unknown workspace stays below the track.

    A local alias is named by the client it is bound to at the call, so
    that `cio = us` and `cio = eu` read as `us` and `eu`.
    """
    track = quoted_code(_client_expression(context, pair.track))
    identify = quoted_code(_client_expression(context, pair.identify))
    return (
        f"cio-fix does not move it, because it cannot tell whether `{identify}`"
        f" sends to the same workspace as `{track}`, and an identify sent to"
        " another workspace does not create this person"
    )


def _client_expression(context: FileContext, call: ClientCall) -> cst.BaseExpression:
    target = alias_target(context, call)
    return target if target is not None else call.receiver


def _assigns_what_cannot_raise(
    index: FileIndex,
    small: cst.BaseSmallStatement,
    evaluated: _EvaluatedByIdentify,
    time_zones: TimeZones,
) -> bool:
    if isinstance(small, cst.Pass):
        return True
    if isinstance(small, cst.Expr):
        # `...` and a bare string literal are constants that do nothing.
        return isinstance(small.value, cst.Ellipsis) or _is_string_literal(small.value)
    # `count += 1` raises when `count` is None, so augmented assignments do not qualify.
    if isinstance(small, cst.Assign):
        targets = [target.target for target in small.targets]
    elif isinstance(small, cst.AnnAssign):
        targets = [small.target]
        if not _cannot_raise(index, small.annotation.annotation, evaluated, time_zones):
            return False
    else:
        return False
    if not all(isinstance(target, cst.Name) for target in targets):
        return False
    return small.value is None or _cannot_raise(
        index, small.value, evaluated, time_zones
    )


def _cannot_raise(
    index: FileIndex,
    node: cst.BaseExpression,
    evaluated: _EvaluatedByIdentify,
    time_zones: TimeZones,
) -> bool:
    """Tell whether evaluating `node` cannot raise, or raises only where the identify would.

    Names, literals, f-strings of names, clock readings such as
    `int(time.time() * 1000)`, `datetime.now(timezone.utc).isoformat()` or
    Django's `timezone.now()`, number arithmetic with `+`, `-` and `*`,
    and lists, tuples, dicts and sets of these qualify. A dict key
    or set element must be a literal, because hashing a name's value may
    raise. An attribute read may run a property (Flask's `request.json`
    raises on a body that is not JSON), and a subscript raises `KeyError` or
    `IndexError`. An operator on names may raise `TypeError` or
    `ZeroDivisionError`. These qualify only when the identify evaluates the
    same expression (`evaluated`).
    """
    if _is_plain_literal(node) or _is_number(index, node, time_zones):
        return True
    if isinstance(node, cst.Call) and (
        _clock_reading_methods(index, node, time_zones) is not None
        or _clock_method(index, node, time_zones) is not None
    ):
        return True
    if isinstance(node, (cst.Tuple, cst.List)):
        return all(
            isinstance(element, cst.Element)
            and _cannot_raise(index, element.value, evaluated, time_zones)
            for element in node.elements
        )
    if isinstance(node, cst.Dict):
        return all(
            isinstance(element, cst.DictElement)
            and _is_hashable_literal(index, element.key, time_zones)
            and _cannot_raise(index, element.value, evaluated, time_zones)
            for element in node.elements
        )
    if isinstance(node, cst.Set):
        return all(
            isinstance(element, cst.Element)
            and _is_hashable_literal(index, element.value, time_zones)
            for element in node.elements
        )
    return evaluated.evaluates(node)


def _clock_reading_methods(
    index: FileIndex, call: cst.Call, time_zones: TimeZones
) -> frozenset[str] | None:
    """Return the methods that cannot raise on what `call` returns, if it reads the clock.

    Examples are `datetime.now()`, `date.today()`, Django's `timezone.now()`
    and `datetime.now(tz=timezone.utc)`.
    """
    name = index.qualified_name(call.func)
    if name in CLOCK_DATES and not call.args:
        return DATE_METHODS
    if name not in CLOCK_DATETIMES:
        return None
    if not call.args:
        return DATETIME_METHODS
    [argument, *others] = call.args
    if (
        name != CLOCK_WITH_TIME_ZONE
        or others
        or argument.star
        or argument.keyword is not None
        and argument.keyword.value != "tz"
    ):
        return None
    return DATETIME_METHODS if time_zones.contains(argument.value) else None


def _clock_method(
    index: FileIndex, call: cst.Call, time_zones: TimeZones
) -> str | None:
    """Return the method's name if `call` is a method of a clock reading that cannot raise.

    Such methods take no arguments, as in `datetime.now().isoformat()`.
    """
    func = call.func
    if call.args or not isinstance(func, cst.Attribute):
        return None
    if not isinstance(func.value, cst.Call):
        return None
    methods = _clock_reading_methods(index, func.value, time_zones)
    if methods is None or func.attr.value not in methods:
        return None
    return func.attr.value


def _is_plain_literal(node: cst.BaseExpression) -> bool:
    """Tell whether `node` is a name, a string, or an f-string that formats only names."""
    if isinstance(node, (cst.Name, cst.SimpleString)):
        return True
    if isinstance(node, cst.ConcatenatedString):
        return all(_is_plain_literal(string) for string in joined_strings(node))
    if isinstance(node, cst.FormattedString):
        # A format spec such as `:d` raises `ValueError` on a value of another type.
        return all(
            not isinstance(part, cst.FormattedStringExpression)
            or isinstance(part.expression, cst.Name)
            and part.format_spec is None
            for part in node.parts
        )
    return False


def _is_string_literal(node: cst.BaseExpression) -> bool:
    """Tell whether `node` is a string or bytes literal, without f-strings."""
    if isinstance(node, cst.ConcatenatedString):
        return all(_is_string_literal(string) for string in joined_strings(node))
    return isinstance(node, cst.SimpleString)


def _is_hashable_literal(
    index: FileIndex, node: cst.BaseExpression, time_zones: TimeZones
) -> bool:
    if isinstance(node, cst.BaseString):
        return _is_plain_literal(node)
    return _is_number(index, node, time_zones)


def _is_number(
    index: FileIndex, node: cst.BaseExpression, time_zones: TimeZones
) -> bool:
    """Tell whether `node` is a number that cannot raise, from literals and the clock.

    That is a number literal, `time.time()`, `time.monotonic()`,
    `datetime.now().timestamp()`, `+`, `-` or `*` of numbers, and `int`,
    `round` or `math.floor` of one number.
    """
    if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary)):
        return True
    if isinstance(node, cst.Call):
        return _is_number_call(index, node, time_zones)
    if isinstance(node, cst.UnaryOperation):
        return isinstance(node.operator, (cst.Minus, cst.Plus)) and _is_number(
            index, node.expression, time_zones
        )
    if isinstance(node, cst.BinaryOperation):
        arithmetic = (cst.Add, cst.Subtract, cst.Multiply)
        return isinstance(node.operator, arithmetic) and all(
            _is_number(index, operand, time_zones)
            for operand in operands(node, arithmetic)
        )
    return False


def _is_number_call(index: FileIndex, call: cst.Call, time_zones: TimeZones) -> bool:
    if not call.args:
        return (
            index.qualified_name(call.func) in CLOCK_NUMBERS
            or _clock_method(index, call, time_zones) == TIMESTAMP_METHOD
        )
    [argument, *others] = call.args
    if others or argument.star or argument.keyword is not None:
        return False
    func = call.func
    if isinstance(func, cst.Name) and func.value in NUMBER_BUILTINS:
        function_known = _is_builtin(index, func)
    else:
        function_known = index.qualified_name(func) in NUMBER_FUNCTIONS
    return function_known and _is_number(index, argument.value, time_zones)


def _names_for_read_objects(
    context: FileContext, identify: ClientCall, reads: set[str]
) -> set[str]:
    """Return `reads` and the names that the function binds to their objects or parts.

    The owners of a part read count too: with `profile = user.profile` and
    `plan=profile.plan` read, `user.profile.plan = ...` changes the plan.
    """
    # NOTE: names bound outside the function, such as two parameters given
    # one object by the caller, are not seen.
    function = identify.site.function
    bindings = Bindings()
    walk(function.node.body if function is not None else context.module, bindings)
    # `user.profile = profile` makes `profile` a part of `user`, as
    # `profile = user.profile` does.
    as_parts = [
        (name, target, PART) if kind == STORED else (target, name, kind)
        for target, name, kind in bindings.bindings
    ]
    return connected_names(reads, as_parts, set(), owners=True)


@dataclass(frozen=True)
class _SentByIdentify:
    """The names that an identify reads, to tell which code may change what it sends."""

    # The names that the identify's receiver and arguments read.
    reads: set[str]
    # Those names and the other names bound to their objects or to parts of them.
    reachable: set[str]
    # Whether the identify reads a global name, which any call may change.
    reads_global: bool

    def may_change(self, changes: _Changes) -> bool:
        """Tell whether code that makes `changes` may change what the identify sends."""
        if changes.bound & self.reads:
            return True
        if changes.changed_in_place & self.reachable:
            return True
        if changes.reached & self.reachable:
            return True
        return changes.has_calls and self.reads_global

    def changing_call(self, arguments: Sequence[cst.Arg]) -> cst.Call | None:
        """Return the first call in `arguments` that may change what the identify sends."""
        for argument in arguments:
            for call in find_all(argument.value, cst.Call):
                reached = read_names(call.func)
                for passed in call.args:
                    reached |= read_names(passed.value)
                if self.reads_global or reached & self.reachable:
                    return call
        return None


def _is_item(receiver: cst.BaseExpression) -> bool:
    return type(receiver) is cst.Subscript


class _Workspace(enum.Enum):
    """The relation of the workspaces that two calls send to, as far as the file shows."""

    SAME = "same"
    OTHER = "other"
    UNKNOWN = "unknown"


class _Workspaces:
    """Tell whether the clients of two calls send to the same workspace.

    The items of a dict of clients (`CLIENTS["us"]`, `CLIENTS["eu"]`) are
    usually one client per region or workspace, so a call through an item
    shares its workspace only with calls through the same item expression.
    Calls through one receiver expression go through one client, unless
    it is a local name bound more than once whose binding at each call
    names a known client (`client_aliases.client_construction`), or two
    different names or attributes (`client_aliases.alias_target`). Calls
    through two clients built in this file go to one workspace when their
    site ids are the same code, and to two when they differ, as CIO402
    keys them (`attributes.workspace_of`), and a wrapper function of this
    module by the client it calls. For other clients, such as one imported
    from another module or a wrapper function imported from one, the
    workspace is unknown.
    """

    def __init__(self, context: FileContext) -> None:
        self._context = context
        self._index = context.index
        # Built on first use, because calls through one receiver never need it.
        self._constructions: dict[int, Construction] | None = None
        # The client construction of each call, by the id of its node.
        self._clients: dict[int, Construction | None] = {}

    def compare(self, first: ClientCall, second: ClientCall) -> _Workspace:
        same_receiver = _same_receiver(first.receiver, second.receiver)
        if same_receiver and not self._bound_again(first):
            return _Workspace.SAME
        if not same_receiver and (
            _is_item(first.receiver) or _is_item(second.receiver)
        ):
            return _Workspace.OTHER
        workspace = self._compare_clients(first, second)
        # A local name that a branch may bind again, or that names one client
        # of unknown workspace at both calls, counts as one client, so that
        # the pair is reported and the reorder checks the code between.
        if (
            same_receiver
            and workspace is _Workspace.UNKNOWN
            and not self._aliases_differ(first, second)
        ):
            return _Workspace.SAME
        return workspace

    def _aliases_differ(self, first: ClientCall, second: ClientCall) -> bool:
        """Tell whether the local receiver of both calls is bound to two different names.

        That is `cio = us` before one call and `cio = eu` before the other,
        where `us` and `eu` may be imported clients of unknown workspace.
        Attributes (`client = self.eu`) count as names here.
        """
        first_target = alias_target(self._context, first)
        if first_target is None:
            return False
        second_target = alias_target(self._context, second)
        if second_target is None:
            return False
        return not _same_receiver(first_target, second_target)

    def _bound_again(self, call: ClientCall) -> bool:
        """Tell whether the call's receiver is a name that its scope binds more than once."""
        receiver = call.receiver
        if type(receiver) is not cst.Name:
            return False
        return len(call.site.scope.assignments.get(receiver.value, ())) > 1

    def _compare_clients(self, first: ClientCall, second: ClientCall) -> _Workspace:
        first_client = self._client(first)
        second_client = self._client(second)
        if first_client is not None and first_client is second_client:
            return _Workspace.SAME
        first_key = self._key(first, first_client)
        second_key = self._key(second, second_client)
        if first_key is None or second_key is None:
            return _Workspace.UNKNOWN
        # A literal site id and a read of the settings may be the same
        # workspace, so only two keys known in the same way are compared.
        if first_key.partition(":")[0] != second_key.partition(":")[0]:
            return _Workspace.UNKNOWN
        # NOTE: equal keys are the same code only, so two clients built from
        # the same name in different scopes count as one workspace.
        return _Workspace.SAME if first_key == second_key else _Workspace.OTHER

    def _client(self, call: ClientCall) -> Construction | None:
        """Return the construction of the client that `call` goes through at the call, if known."""
        key = id(call.node)
        if key in self._clients:
            return self._clients[key]
        client = None
        if call.wrapper is not None:
            # The receiver is the wrapper function, not the client it calls.
            wrapped = self._wrapped_call(call)
            if wrapped is not None:
                client = self._client(wrapped)
        else:
            client = client_construction(self._context, call, self._by_node())
        self._clients[key] = client
        return client

    def _key(self, call: ClientCall, client: Construction | None) -> str | None:
        if client is not None:
            return construction_workspace(client)
        if call.wrapper is not None:
            wrapped = self._wrapped_call(call)
            if wrapped is None:
                return None
            call = wrapped
        key = workspace_of(self._index, call, self._by_node())
        if key is not None:
            return key
        return self._imported_workspace(call)

    def _imported_workspace(self, call: ClientCall) -> str | None:
        """Return the workspace key of a client that the call's receiver imports, if known.

        The receiver may be a local alias of it (`cio = us`), as
        `client_aliases.alias_target` reads one.
        """
        receiver = alias_target(self._context, call) or call.receiver
        if type(receiver) is not cst.Name:
            return None
        qualified = self._index.qualified_name(receiver, call.site.scope)
        if qualified is None:
            return None
        return self._context.project.client_workspace(qualified)

    def _by_node(self) -> dict[int, Construction]:
        """Return the file's client constructions by the id of their node."""
        if self._constructions is None:
            self._constructions = {
                id(construction.node): construction
                for construction in self._index.constructions
            }
        return self._constructions

    def _wrapped_call(self, call: ClientCall) -> ClientCall | None:
        """Return the client call in the body of the wrapper that `call` calls, if defined here.

        A wrapper called by a plain name is the module's own function bound
        once (`FileIndex._calls_own_function`), and its body is one client
        call. The workspace of an imported wrapper's client is unknown here.
        """
        if type(call.receiver) is not cst.Name:
            return None
        assignments = self._index.module_scope.assignments.get(call.receiver.value, ())
        if len(assignments) != 1:
            return None
        definition = assignments[0].statement
        for wrapped in self._index.client_calls:
            function = wrapped.site.function
            if function is not None and function.node is definition:
                return wrapped if wrapped.wrapper is None else None
        return None


def _same_receiver(first: cst.BaseExpression, second: cst.BaseExpression) -> bool:
    """Tell whether two receivers are the same expression.

    Names and dotted names, the most common receivers, are compared without
    printing them.
    """
    first_name = dotted_name(first)
    second_name = dotted_name(second)
    if first_name is not None and second_name is not None:
        return first_name == second_name
    return same_expression(first, second)


def _local_names(function: FunctionInfo | None) -> set[str]:
    """Return the parameters and local variables of a function, or no names for module code."""
    if function is None or function.scope is None:
        return set()
    names = set(function.scope.assignments)
    for parameter in all_parameters(function.node.params):
        names.add(parameter.name.value)
    return names


# Lines of small statements: `a; b` as a statement of its own, and after a
# colon (`if ready: a; b`).
LINES = (cst.SimpleStatementLine, cst.SimpleStatementSuite)


@dataclass
class _Block:
    """A statement's place in the body of its block, or a small statement's place in its line."""

    # A module or an indented block, or a line: a SimpleStatementLine or a
    # SimpleStatementSuite, whose body contains small statements.
    node: cst.Module | cst.BaseSuite | cst.SimpleStatementLine
    position: int

    @property
    def body(self) -> Sequence[cst.BaseStatement | cst.BaseSmallStatement]:
        return self.node.body

    @property
    def is_line(self) -> bool:
        return type(self.node) in LINES


def _block_of(context: FileContext, call: ClientCall) -> _Block | None:
    statement = call.site.statement
    if statement is None:
        return None
    parent = context.parent(statement)
    if not isinstance(parent, (cst.Module, cst.IndentedBlock)):
        return None
    for position, candidate in enumerate(parent.body):
        if candidate is statement:
            return _Block(parent, position)
    return None


def _line_of(context: FileContext, call: ClientCall) -> _Block | None:
    """Return the place of the small statement that contains `call`, in a line of several."""
    statement = call.site.statement
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        return None
    # A call in a suite after a colon has no statement, and neither has one
    # in the header of a compound statement (`if cio.track(...):`).
    child: cst.CSTNode = call.node
    parent = context.parent(child)
    while parent is not None and type(parent) not in LINES:
        if isinstance(parent, (cst.BaseCompoundStatement, cst.Module)):
            return None
        child, parent = parent, context.parent(parent)
    if parent is None or len(parent.body) < 2:
        return None
    for position, candidate in enumerate(parent.body):
        if candidate is child:
            return _Block(parent, position)
    return None


@dataclass
class _Pair:
    """A track and the identify of the same customer later in its block or its line."""

    track: ClientCall
    identify: ClientCall
    block: _Block
    identify_position: int
    # SAME, or UNKNOWN when the two clients may send to different workspaces.
    workspace: _Workspace


class TrackBeforeIdentify(Rule):
    """What it does:
    Finds a Track API `track` call for a customer that comes before the
    `identify` of the same customer id in the same block, or later in the
    same line (`cio.track(...); cio.identify(...)`), and no identify of
    that customer runs earlier in the function. A call through an item
    of a dict of clients (`CLIENTS["us"]`, often one client per region)
    pairs only with a call through the same item, because other items
    send to other workspaces. Calls through two clients built in one
    module with different site ids (`us = CustomerIO(US_SITE_ID, ...)`
    and `eu = CustomerIO(EU_SITE_ID, ...)`, or attributes `self.us` and
    `self.eu` that the class binds once to such clients) do not pair
    either, also when a wrapper function of that module makes one of the
    calls, and also when another module imports both clients. A local name
    bound to such a client (`cio = us`, `client = self.eu`, or `(cio := us)`
    as a statement of its own), to a constructor call (`cio =
    CustomerIO(US_SITE_ID, ...)`), or to a call of a module-level factory
    without parameters whose one `return` is a constructor call (`cio =
    _customerio_client()`) is that client at a call when the name's last
    binding before the call is in straight-line code, so `cio = us`,
    `cio.track(...)`, `(cio := eu)`, `cio.identify(...)` does not pair. When
    the binding at a call depends on a branch or a loop, the calls through
    that name pair as calls through one client.

    Why is this bad?
    Each SDK call sends its request when it runs, so the event reaches the
    workspace before the profile exists or has the identify's attributes.
    A campaign that the event triggers can miss the person, or render an
    email without the attributes the identify was about to set.

    Example:
        cio.track(customer_id=user.id, name="signed_up")
        cio.identify(id=user.id, email=user.email)

    Use instead:
        cio.identify(id=user.id, email=user.email)
        cio.track(customer_id=user.id, name="signed_up")

    Fix safety:
    Safe when reorderable. Both calls must go through the same client, or
    through clients built in one module with the same site id (imported from
    it, or not). Two other clients, such as one built here and one imported
    from another module, may send to different workspaces, so the finding is
    report-only. Both calls must be expression statements of one block, or
    small statements of one line, and the identify's arguments
    must only read values (names, attributes, literals, `int`, `time.time`
    and the like). They then run
    before the track, so when one raises the track is lost too, but only
    on a request that fails anyway. From the track to the identify there
    may be only Track API events, assignments to plain names, `pass`, `...`
    and bare strings, and every value that they evaluate, the track's
    receiver and own arguments included, must be unable to raise: names,
    literals, f-strings of names, number arithmetic (`60 * 60`, `-1`), clock
    readings, and lists, tuples and dicts of these with literal keys
    (`{"plan": plan}`). Clock readings are `time.time()`,
    `time.monotonic()` and `time.perf_counter()` (also inside `int(...)`),
    `datetime.now()`, `datetime.today()`, `datetime.utcnow()`,
    `date.today()`, Django's `timezone.now()`, and `datetime.now()` with a
    time zone: `timezone.utc`, `datetime.UTC`, `pytz.utc`,
    `dateutil.tz.UTC`, or a module-level name that only these or
    `ZoneInfo(...)`, `pytz.timezone(...)`, `dateutil.tz.gettz(...)` or
    `timezone(offset)` give a value. Such a name must be bound outside any
    `if` or loop, and no `global` statement or `del` may name it. Reading
    `datetime.UTC` as an attribute (`dt.UTC`) raises before Python 3.11,
    so it passes only when the project declares 3.11 or newer. Each may
    end in `.isoformat()`, `.weekday()` or `.isoweekday()`, and a datetime
    also in `.date()`, `.time()` or `.timestamp()`. A time zone from a
    parameter or a local variable may not be a time zone, so it withholds
    the fix. A subscript, an attribute or an operator on names passes
    only when the identify evaluates the same expression in its receiver
    or arguments (`self.cio`, `form["id"]`), because the
    moved identify then raises on it first. Any other statement or value
    may raise or stop the handler, and then the original code sends no
    identify: `plan = form["plan"]` raises `KeyError` (HTTP 400 in Flask),
    a property such as Flask's `request.json` may raise, `count += 1`
    raises when `count` is None, a call to other code such as
    `db.commit()` may raise, and an `await` may be cancelled. No statement
    between them may bind anything the identify reads, change it in place
    through another name that the function binds to it or to a part of it
    (`tags = user.tags`, then `tags += [tag]`), or call any code when the
    identify reads a global. Two parameters that the caller passes one
    object to are not known to be one object. The identify then moves up
    to just before the track, with its comments. Blank lines above the
    identify go between it and the track, so that each keeps its
    paragraph. In one line it moves to just before the track in that
    line, and the rest of the line stays as it is. When the identify request
    fails and raises, the track is no longer sent, and when a track
    request fails, the identify has already been sent. Otherwise the
    finding is report-only.
    """

    code = "CIO201"
    name = "track-before-identify"
    summary = "an event tracked for a customer before that customer's identify"
    fix_safety = FixSafety.SAFE

    def check(self, context: FileContext) -> Iterator[Finding]:
        fixes: dict[int, tuple[Fix | None, str]] = {}
        for pair in track_identify_pairs(context):
            # Tracks before one identify share its fix: the identify moves above the first.
            key = id(pair.identify.node)
            if key not in fixes:
                fixes[key] = self._reorder(context, pair)
            fix, reason = fixes[key]
            yield self._finding(context, pair, fix, reason)

    def pairs(self, context: FileContext) -> list[_Pair]:
        """Return each track with the identify of its customer later in its block."""
        identifies = [
            call for call in track_calls(context.index, "identify") if call.value("id")
        ]
        pairs = []
        workspaces = _Workspaces(context)
        for track in track_calls(context.index, "track"):
            customer = track.value("customer_id")
            if customer is None or self._identified_before(
                context, track, customer, identifies, workspaces
            ):
                continue
            pair = self._later_identify(
                context, track, customer, identifies, workspaces
            )
            if pair is not None:
                pairs.append(pair)
        return pairs

    def _identified_before(
        self,
        context: FileContext,
        track: ClientCall,
        customer: cst.BaseExpression,
        identifies: list[ClientCall],
        workspaces: _Workspaces,
    ) -> bool:
        for identify in identifies:
            if identify.site.function is not track.site.function:
                continue
            # An identify through a client that may send to the track's
            # workspace counts, because in doubt the rule reports nothing.
            # Comparing the customers prints and parses both, so it comes last.
            if (
                context.comes_before(identify.node, track.node)
                and workspaces.compare(identify, track) is not _Workspace.OTHER
                and same_expression(identify.value("id"), customer)  # type: ignore[arg-type]
            ):
                return True
        return False

    def _later_identify(
        self,
        context: FileContext,
        track: ClientCall,
        customer: cst.BaseExpression,
        identifies: list[ClientCall],
        workspaces: _Workspaces,
    ) -> _Pair | None:
        # An identify later in the track's own line (`cio.track(...);
        # cio.identify(...)`) runs before any on the following lines.
        line = _line_of(context, track)
        if line is not None:
            pair = self._first_identify_in(
                context, line, _line_of, track, customer, identifies, workspaces
            )
            if pair is not None:
                between = line.body[line.position + 1 : pair.identify_position]
                return pair if self._same_customer(context, pair, between) else None
        block = _block_of(context, track)
        if block is None:
            return None
        pair = self._first_identify_in(
            context, block, _block_of, track, customer, identifies, workspaces
        )
        if pair is None:
            return None
        # The rest of the track's line runs before the identify too.
        between = [
            *(line.body[line.position + 1 :] if line is not None else []),
            *block.body[block.position + 1 : pair.identify_position],
        ]
        return pair if self._same_customer(context, pair, between) else None

    def _first_identify_in(
        self,
        context: FileContext,
        block: _Block,
        place_of: Callable[[FileContext, ClientCall], _Block | None],
        track: ClientCall,
        customer: cst.BaseExpression,
        identifies: list[ClientCall],
        workspaces: _Workspaces,
    ) -> _Pair | None:
        """Return the first identify of `customer` after the track in `block`.

        `place_of` finds where a call is: `_block_of` for a block of
        statements, `_line_of` for the small statements of a line.
        """
        best: _Pair | None = None
        for identify in identifies:
            other = place_of(context, identify)
            if (
                other is None
                or other.node is not block.node
                or other.position <= block.position
            ):
                continue
            if best is not None and other.position >= best.identify_position:
                continue
            workspace = workspaces.compare(track, identify)
            if workspace is _Workspace.OTHER:
                continue
            if not same_expression(identify.value("id"), customer):  # type: ignore[arg-type]
                continue
            best = _Pair(track, identify, block, other.position, workspace)
        return best

    def _same_customer(
        self,
        context: FileContext,
        pair: _Pair,
        between: Sequence[cst.BaseStatement | cst.BaseSmallStatement],
    ) -> bool:
        """Tell whether the identify is still for the track's customer after `between` runs."""
        track = pair.track
        changes = self._changes(context, between)
        # A customer id rebound in between names someone else at the identify.
        if changes.changes_value_of(track.value("customer_id")):  # type: ignore[arg-type]
            return False
        # `CLIENTS[region]` with `region` rebound in between is another client.
        return not (
            _is_item(track.receiver) and changes.changes_value_of(track.receiver)
        )

    # -- the reorder -----------------------------------------------------------------

    def _reorder(self, context: FileContext, pair: _Pair) -> tuple[Fix | None, str]:
        """Return the fix that moves the identify up, or None and the reason it cannot."""
        if pair.workspace is _Workspace.UNKNOWN:
            return None, _unknown_workspace_reason(context, pair)
        calls = (pair.track, pair.identify)
        if pair.block.is_line:
            # A call in a line of small statements is a statement of its own
            # (`cio.track(...); cio.identify(...)`) unless its result is used.
            if not all(context.result_discarded(call.node) for call in calls):
                return None, "cio-fix does not move calls whose results are used"
        elif not all(call.site.is_statement for call in calls):
            if all(
                call.site.is_statement or context.result_discarded(call.node)
                for call in calls
            ):
                return None, (
                    "cio-fix does not move calls that share their line with other"
                    " statements"
                )
            return None, "cio-fix does not move calls whose results are used"
        reads = _Reads(context.index)
        for argument in pair.identify.node.args:
            walk(argument, reads)
        if not reads.pure:
            return (
                None,
                "cio-fix does not move an identify whose arguments call other code",
            )
        identify_reads = reads.names | read_names(pair.identify.receiver)

        body = pair.block.body
        changes = self._changes(
            context, body[pair.block.position : pair.identify_position]
        )
        if changes.jumps:
            return None, "cio-fix does not move it past code that may skip the identify"
        # A change through another name for an object the identify reads,
        # or for a part of it (`tags = user.tags`), changes what it sends too.
        reachable = _names_for_read_objects(context, pair.identify, identify_reads)
        # A call between may change a global that the identify's arguments
        # read. The client itself is left out: rebinding it takes a `global`.
        global_reads = reads.names - _local_names(pair.identify.site.function)
        sent = _SentByIdentify(identify_reads, reachable, bool(global_reads))
        if sent.may_change(changes):
            return None, self._change_reason(context, pair, sent)
        # Code from the track to the identify that raises or stops the
        # handler skips the identify, so the identify must not move above it.
        events = self._event_statements(context)
        evaluated = _EvaluatedByIdentify(context.index, pair.identify)
        passed = body[pair.block.position : pair.identify_position]
        python = context.declared_python()
        utc_attribute = python is not None and python.minimum >= UTC_PYTHON
        time_zones = TimeZones(context.index, utc_attribute)
        if not all(
            _cannot_stop(context.index, line, events, evaluated, time_zones)
            for line in passed
        ):
            return None, self._skip_reason(context, passed, events, evaluated)
        if pair.block.is_line:
            return _move_in_line(passed, body[pair.identify_position]), ""
        return _move_before(body[pair.block.position], body[pair.identify_position]), ""

    def _change_reason(
        self, context: FileContext, pair: _Pair, sent: _SentByIdentify
    ) -> str:
        """Return why the identify stays below code that may change what it sends.

        When only the track's own arguments may change it, the reason names
        the call in them, so that the user does not look for code between
        the two calls.
        """
        body = pair.block.body
        between = body[pair.block.position + 1 : pair.identify_position]
        if sent.may_change(self._changes(context, between)):
            return "cio-fix does not move it past code that may change what it sends"
        call = sent.changing_call(pair.track.node.args)
        if call is None:
            return (
                "cio-fix does not move it above the track, whose own arguments may"
                " change what the identify sends"
            )
        return (
            "cio-fix does not move it above the track, whose own arguments call"
            f" `{quoted_code(call.func)}`, which may change what the identify sends"
        )

    def _skip_reason(
        self,
        context: FileContext,
        passed: Sequence[cst.BaseStatement],
        events: dict[int, ClientCall],
        evaluated: _EvaluatedByIdentify,
    ) -> str:
        """Return why the identify stays below `passed`, which may raise or stop the handler.

        When only `datetime.UTC` read as an attribute keeps it there, the
        reason names the Python version, because declaring 3.11 or newer
        lets the identify move.
        """
        python = context.declared_python()
        utc_attribute = python is not None and python.minimum >= UTC_PYTHON
        time_zones = TimeZones(context.index, utc_attribute)
        may_skip = "cio-fix does not move it past code that may skip the identify"
        if all(
            _cannot_stop(context.index, line, events, evaluated, time_zones)
            for line in passed[1:]
        ):
            # The code between cannot raise, so the track itself may.
            raising = _raising_parts(
                context.index, events[id(passed[0])], evaluated, time_zones
            )
            may_skip = (
                f"cio-fix does not move it above the track, whose {raising} may"
                " raise, and then the original code sends no identify"
            )
        if utc_attribute:
            return may_skip
        with_utc_attribute = TimeZones(context.index, utc_attribute=True)
        if not all(
            _cannot_stop(context.index, line, events, evaluated, with_utc_attribute)
            for line in passed
        ):
            return may_skip
        if python is None:
            declared = "the project declares no Python version that cio-fix reads"
        else:
            declared = f"{python.source} declares {python.label}"
        return (
            "cio-fix does not move it past `datetime.UTC`, which raises"
            f" AttributeError before Python 3.11, and {declared}"
        )

    def _changes(
        self,
        context: FileContext,
        statements: Sequence[cst.BaseStatement | cst.BaseSmallStatement],
    ) -> _Changes:
        """Collect what `statements` may change, reading only the arguments of Track API events."""
        sdk_statements = self._event_statements(context)
        changes = _Changes()
        for statement in statements:
            call = sdk_statements.get(id(statement))
            if call is None:
                walk(statement, changes)
                continue
            for argument in call.node.args:
                walk(argument.value, changes)
        return changes

    def _event_statements(self, context: FileContext) -> dict[int, ClientCall]:
        """Map the id of each statement that is one Track API event call to that call.

        A small statement of a line of several (`cio.track(...); ...`)
        counts as a statement here.
        """
        events = {}
        for call in context.index.client_calls:
            if call.api is not Api.TRACK or call.method not in EVENT_METHODS:
                continue
            if call.site.is_statement:
                events[id(call.site.statement)] = call
                continue
            small = _expression_statement(context, call.node)
            if small is not None:
                events[id(small)] = call
        return events

    def _finding(
        self, context: FileContext, pair: _Pair, fix: Fix | None, reason: str
    ) -> Finding:
        customer = quoted_code(pair.track.value("customer_id"))  # type: ignore[arg-type]
        line = context.message_line(pair.identify.node)
        message = (
            f"This event for customer `{customer}` is tracked before the identify on"
            f" line {line} creates or updates that person, so a campaign it triggers"
            " can miss the profile or its attributes. Send the identify first"
        )
        if fix is not None:
            return context.finding(self, pair.track.node, message + ".", fix=fix)
        return context.finding(
            self,
            pair.track.node,
            f"{message} ({reason}).",
            fixed_message=message + ".",
        )


def track_identify_pairs(context: FileContext) -> list[_Pair]:
    """Return the track-before-identify pairs that CIO201 reports, once per file.

    CIO304 reads them too. It keeps such an identify on the request's
    thread, because CIO201 moves it above the track.
    """
    return context.shared(
        "CIO201:pairs", lambda shared: TrackBeforeIdentify().pairs(shared)
    )


def _expression_statement(context: FileContext, call: cst.Call) -> cst.Expr | None:
    """Return the expression statement that is `call`, awaited or not, if there is one."""
    parent = context.parent(call)
    if type(parent) is cst.Await:
        parent = context.parent(parent)
    return parent if type(parent) is cst.Expr else None


def _move_in_line(
    passed: Sequence[cst.BaseSmallStatement], identify: cst.BaseSmallStatement
) -> Fix:
    """Move `identify` to just before `passed`, the small statements from the track on.

    Each place in the line keeps its semicolon and the blanks around it, so
    only the small statements change places: `cio.track(...);
    cio.identify(...)` becomes `cio.identify(...); cio.track(...)`.
    """
    places = [*passed, identify]
    moved = [identify, *passed]
    return Fix(
        safety=FixSafety.SAFE,
        replacements={
            place: statement.with_changes(semicolon=place.semicolon)
            for place, statement in zip(places, moved, strict=True)
        },
        description="send the identify before the track",
    )


def _move_before(track: cst.BaseStatement, identify: cst.BaseStatement) -> Fix:
    """Move `identify` to just before `track`, each with its comments, keeping the blank lines.

    The blank lines above the track stay above the two. Those above the
    identify go between the two, so that an identify that started a
    paragraph of its own still does.
    """
    track_blanks, track_comments = blank_prefix(track.leading_lines)
    identify_blanks, identify_comments = blank_prefix(identify.leading_lines)
    moved = identify.with_changes(leading_lines=[*track_blanks, *identify_comments])
    stayed = track.with_changes(leading_lines=[*identify_blanks, *track_comments])
    return Fix(
        safety=FixSafety.SAFE,
        replacements={
            track: cst.FlattenSentinel([moved, stayed]),
            identify: cst.RemovalSentinel.REMOVE,
        },
        description="send the identify before the track",
    )


# -- CIO202 ---------------------------------------------------------------------------

CUSTOMER_ID_PARAMETERS = {"identify": "id", "track": "customer_id"}


class EmailAsCustomerId(Rule):
    """What it does:
    Finds Track API `identify(id=...)` and `track(customer_id=...)` calls
    whose customer id is an email address: a literal address, or a name,
    attribute, key or `.get()` key ending in `email` (`user.email`,
    `form["email"]`, `contact_email`). Names of digests and disguises of
    the address are not addresses: `email_hash`, `hashed_email`,
    `sha256_email`, `md5_email`, `hmac_email`, `encrypted_email`,
    `masked_email`, `obfuscated_email`, `anonymized_email`,
    `pseudonymized_email` and `tokenized_email`. Neither are names of a
    value found by the address, where "email" follows "by", "for", "of" or "per"
    (`customer_id_by_email`, `id_for_email`) or follows "from" after an id
    word such as "id" or "pk" (`user_id_from_email`; `from_email` alone is
    a sender address and is reported). A method handed with its arguments
    to a function that runs it later counts as the call it makes:
    `tasks.add_task(cio.identify, ...)` of FastAPI and Starlette,
    `executor.submit(...)`, `asyncio.to_thread(...)` and
    `loop.run_in_executor(executor, cio.identify, ...)`.

    Why is this bad?
    The customer id is the key of the profile. People change their email
    address, and the next identify under the new address creates a second
    profile. That splits the person's history, segments and campaign
    progress across the two.

    Example:
        cio.identify(id=user.email, plan=user.plan)

    Use instead:
        cio.identify(id=user.id, email=user.email, plan=user.plan)

    Fix safety:
    Unsafe. For `X.email` the fix sends `X.id` as the customer id (the
    attribute is `customer-id-attribute` in `[tool.cio-fix]`) and keeps the
    address as the `email` attribute of identify. The people who already
    have a profile under their address get a new one under the id, so
    those profiles must be merged with `merge_customers`. Other forms of
    email are report-only, and so is an identify handed to
    `loop.run_in_executor`, which passes it no `email=` keyword.
    """

    code = "CIO202"
    name = "email-as-customer-id"
    summary = "an email address used as the customer id of identify or track"
    fix_safety = FixSafety.UNSAFE

    def check(self, context: FileContext) -> Iterator[Finding]:
        index = context.index
        for call in [*index.client_calls, *index.handed_off_calls]:
            parameter = CUSTOMER_ID_PARAMETERS.get(call.method)
            if call.api is not Api.TRACK or parameter is None:
                continue
            argument = call.arguments.get(parameter)
            if argument is None or not is_email_expression(argument.value):
                continue
            fix = self._fix(context, call, argument)
            message = self._message(context, argument, fix)
            if fix is None and _needs_email_keyword(call, argument):
                message += (
                    " cio-fix does not fix it, because `run_in_executor` passes"
                    " identify no keyword arguments, so the address cannot stay"
                    " as the `email` attribute."
                )
            yield context.finding(self, argument.value, message, fix=fix)

    def _message(self, context: FileContext, argument: cst.Arg, fix: Fix | None) -> str:
        customer_id = quoted_code(argument.value)
        if fix is not None:
            stable = quoted_code(
                argument.value.with_changes(
                    attr=cst.Name(context.config.customer_id_attribute)
                )
            )
            advice = (
                f"Use `{stable}` as the customer id and send the address"
                " as the `email` attribute."
            )
        else:
            advice = (
                "Use a value that never changes (the database id) as the customer id and"
                " send the address as the `email` attribute."
            )
        return (
            f"The customer id `{customer_id}` is an email address, so a person who changes"
            f" their address gets a second profile. {advice} Profiles that already"
            " exist under an address must then be merged into the new ones with"
            " `merge_customers`."
        )

    def _fix(
        self, context: FileContext, call: ClientCall, argument: cst.Arg
    ) -> Fix | None:
        value = argument.value
        if not isinstance(value, cst.Attribute) or value.attr.value != "email":
            return None
        stable = value.with_changes(attr=cst.Name(context.config.customer_id_attribute))
        if call.method != "identify" or "email" in call.extra_keywords:
            return Fix(FixSafety.UNSAFE, {value: stable}, description="identify by id")
        # `**attributes` may contain an email too, and a second one is a TypeError.
        if call.star_arguments or call.positional_only:
            return None
        address = value.with_changes(lpar=(), rpar=())
        arguments = _with_keyword(argument.with_changes(value=stable), "email", address)
        return Fix(
            FixSafety.UNSAFE,
            {argument: cst.FlattenSentinel(arguments)},
            description="identify by id and send the email as an attribute",
        )


def _needs_email_keyword(call: ClientCall, argument: cst.Arg) -> bool:
    """Tell whether the CIO202 fix of `X.email` misses only because it cannot add `email=`."""
    value = argument.value
    return (
        call.positional_only
        and call.method == "identify"
        and not call.star_arguments
        and isinstance(value, cst.Attribute)
        and value.attr.value == "email"
    )


# -- CIO203 ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AnonymousFacts:
    """The anonymous events and identify calls of one module."""

    anonymous_events: tuple[Place, ...]
    identifies: tuple[Place, ...]
    # An identify passes `anonymous_id` (or `**attributes` that may contain
    # it), or a batch call may contain such an identify.
    may_merge: bool


def _has_anonymous_id(call: ClientCall) -> bool:
    value = call.value("anonymous_id")
    return (
        value is not None
        and literal_value(value) != ""
        and not (isinstance(value, cst.Name) and value.value == "None")
    )


def _pipelines_merge(call: ClientCall) -> bool:
    """Tell whether a Data Pipelines call joins an anonymous id to a person.

    The anonymous id may be the visitor id that track_anonymous sends, so
    such a project is not reported.
    """
    if call.method == "alias":
        return True
    return call.method == "identify" and "anonymous_id" in call.arguments


class AnonymousIdNotMerged(Rule):
    """What it does:
    Finds projects that send `track_anonymous` events with an anonymous id
    and identify people with the Track API, but whose identify calls never
    pass `anonymous_id`. The finding is reported once, at the first
    `track_anonymous` call, and lists the identify calls.

    Why is this bad?
    Customer.io attaches the anonymous events to a person only when an
    identify of that person carries the same `anonymous_id`. Without it the
    visitor's activity before sign-up stays on an orphan anonymous profile:
    segments and campaigns based on that activity never see the person.

    Example:
        cio.track_anonymous(anonymous_id=visitor_id, name="viewed_pricing")
        ...
        cio.identify(id=user.id, email=user.email)

    Use instead:
        cio.track_anonymous(anonymous_id=visitor_id, name="viewed_pricing")
        ...
        cio.identify(id=user.id, email=user.email, anonymous_id=visitor_id)

    Fix safety:
    No fix, because the value that contains the visitor's anonymous id at
    sign-up or login depends on the application. Not reported: a project
    that identifies nobody with the Track API (a browser snippet may do
    it), one with `batch` calls, and one whose Data Pipelines calls join
    anonymous ids (`identify` with `anonymous_id`, `alias`).
    """

    code = "CIO203"
    name = "anonymous-id-not-merged"
    summary = "anonymous events that no identify joins to a person"
    fix_safety = None

    def collect(self, context: FileContext) -> AnonymousFacts:
        events = []
        identifies = []
        may_merge = False
        for call in context.index.client_calls:
            if call.api is Api.PIPELINES and _pipelines_merge(call):
                may_merge = True
            if call.api is not Api.TRACK:
                continue
            if call.method == "track_anonymous" and _has_anonymous_id(call):
                events.append(place_of(context, call.node))
            elif call.method == "identify":
                identifies.append(place_of(context, call.node))
                if "anonymous_id" in call.extra_keywords or call.star_arguments:
                    may_merge = True
            elif call.method == "batch":
                may_merge = True
        return AnonymousFacts(tuple(events), tuple(identifies), may_merge)

    def check_project(self, project: ProjectIndex) -> Iterator[Finding]:
        events: list[Place] = []
        identifies: list[Place] = []
        for _, facts in project.rule_facts(self.code):
            if facts.may_merge:
                return
            events.extend(facts.anonymous_events)
            identifies.extend(facts.identifies)
        if not events or not identifies:
            return

        events.sort(key=lambda place: (place.path, place.line, place.column))
        identifies.sort(key=lambda place: (place.path, place.line, place.column))
        first = events[0]
        message = (
            "Anonymous events are tracked, but no identify passes `anonymous_id`, so"
            " this activity never joins the profile of the person the visitor becomes."
            " Pass the visitor's anonymous id as `anonymous_id` to the identify at"
            f" sign-up or login. Identify calls: {list_places(identifies)}."
        )
        if len(events) > 1:
            message += f" Other track_anonymous calls: {list_places(events[1:])}."
        yield project_finding(self, first, message)


# -- CIO401 ---------------------------------------------------------------------------

PROFILE_SUBJECTS = frozenset(
    {"user", "account", "customer", "member", "profile", "person"}
)
CREATION_VERBS = frozenset(
    {"create", "created", "register", "registered", "registration"}
)
REGISTRATION_WORDS = frozenset({"register", "registered", "registration"})
# Words of handler names that tell nothing about what the handler does.
VIEW_WORDS = frozenset(
    {"view", "views", "viewset", "set", "api", "endpoint", "page", "route"}
)
ACTION_WORDS = frozenset(
    {"handler", "handle", "on", "do", "process", "perform", "submit"}
)
GENERIC_WORDS = (
    VIEW_WORDS | ACTION_WORDS | {"form", "complete", "task", "job", "post", "async"}
)
# Methods of view classes that create the object the class is about.
CREATE_METHODS = frozenset({"create", "perform_create"})
HANDLER_METHODS = frozenset({"post", "form_valid", "dispatch"})


def _describes_creation(words: list[str]) -> bool:
    """Tell whether a name describes creating a profile: signup, register, create_user."""
    # A number only numbers a handler among its siblings (`signup_2`).
    meaningful = {word for word in words if not word.isdigit()} - GENERIC_WORDS
    if "signup" in words or ("sign", "up") in itertools.pairwise(words):
        # `handle_signup` and `signup_user` yes, `record_signup_source` no.
        return not meaningful - {"signup", "sign", "up"} - PROFILE_SUBJECTS
    if meaningful & CREATION_VERBS and meaningful & PROFILE_SUBJECTS:
        # `create_user` yes, `create_user_report` no.
        return not meaningful - CREATION_VERBS - PROFILE_SUBJECTS
    return bool(meaningful) and meaningful <= REGISTRATION_WORDS


def creates_profile(function: FunctionInfo | None) -> bool:
    """Tell whether a function creates a person: `signup`, `UserViewSet.create`, ..."""
    if function is None:
        return False
    if _describes_creation(_words(function.name)):
        return True
    if function.class_info is None:
        return False
    class_words = _words(function.class_info.name)
    if function.name in CREATE_METHODS:
        return _describes_creation([*class_words, "create"])
    return function.name in HANDLER_METHODS and _describes_creation(class_words)


@dataclass(frozen=True)
class EmailFacts:
    """Whether an identify (or a batch call) of one module may set the email attribute."""

    sets_email: bool
    # The qualified names of the module's functions that make a Track API
    # identify with `email` (`app.profiles.sync_profile`).
    email_functions: frozenset[str] = frozenset()


def _project_sets_email(project: ProjectIndex) -> bool:
    """Tell whether an identify anywhere in the project sets `email`."""
    return any(facts.sets_email for _, facts in project.rule_facts("CIO401"))


def _project_email_functions(project: ProjectIndex) -> frozenset[str]:
    """Return the qualified names of the project's functions that identify with `email`."""
    found: set[str] = set()
    for _, facts in project.rule_facts("CIO401"):
        found |= facts.email_functions
    return frozenset(found)


class MissingEmailAttribute(Rule):
    """What it does:
    Finds Track API `identify` calls without an `email` attribute in two
    places. The first is where the profile is created: functions named like
    signup, register or create_user, and the `create` of a user view class.
    A name with "signup" counts only when its other words are generic or
    name a person (`handle_signup`, `signup_user`, not
    `record_signup_source`). The second is every identify, when no identify
    in the project sets `email`, including Data Pipelines identify traits.
    An identify by email address, one with `**attributes`, and one in a
    function that also makes an identify of the same person with `email`
    are not reported. Neither is one in a function that calls a project
    function which makes an identify with `email` (`sync_profile(user)`),
    because that helper may create the profile.

    Why is this bad?
    Customer.io sends email to the address in a person's `email`
    attribute. A profile created without it cannot receive the welcome
    campaign or any other email until some later call sets it, and email
    campaigns skip the person without an error.

    Example:
        def signup(user):
            cio.identify(id=user.id, plan=user.plan)

    Use instead:
        def signup(user):
            cio.identify(id=user.id, email=user.email, plan=user.plan)

    Fix safety:
    Unsafe when derivable. When the customer id is `X.id` or `X["id"]`, the
    fix adds `email=X.email` or `email=X["email"]`, which fails if that
    object has no email. The id attribute is `customer-id-attribute` in
    `[tool.cio-fix]`. Otherwise the finding is report-only.
    """

    code = "CIO401"
    name = "missing-email-attribute"
    summary = (
        "a profile identified without the email attribute Customer.io sends email to"
    )
    fix_safety = FixSafety.UNSAFE

    def collect(self, context: FileContext) -> EmailFacts:
        index = context.index
        sets_any_email = False
        email_functions = set()
        for call in index.client_calls:
            if call.api is Api.PIPELINES and _traits_may_set_email(call):
                sets_any_email = True
            if call.api is not Api.TRACK:
                continue
            if call.method == "batch":
                sets_any_email = True
            elif call.method == "identify" and sets_email(call):
                sets_any_email = True
                if call.site.function is not None:
                    email_functions.add(
                        f"{index.module_name}.{call.site.function.qualname}"
                    )
        return EmailFacts(sets_any_email, frozenset(email_functions))

    def check(self, context: FileContext) -> Iterator[Finding]:
        project_sets_email = context.project.shared("CIO401", _project_sets_email)
        identifies = track_calls(context.index, "identify")
        for call in identifies:
            argument = call.arguments.get("id")
            if argument is None or sets_email(call) or call.star_arguments:
                continue
            creating = creates_profile(call.site.function)
            if not creating and project_sets_email:
                continue
            if self._email_set_in_function(call, argument.value, identifies):
                continue
            if creating and _calls_email_function(context, call.site.function):
                continue
            address = derived_email(
                argument.value, context.config.customer_id_attribute
            )
            fix = _add_email(argument, address) if address is not None else None
            message = self._message(call.site.function if creating else None, address)
            yield context.finding(self, call.node, message, fix=fix)

    @staticmethod
    def _email_set_in_function(
        call: ClientCall, customer: cst.BaseExpression, identifies: list[ClientCall]
    ) -> bool:
        for other in identifies:
            if other is call or other.site.function is not call.site.function:
                continue
            other_customer = other.value("id")
            if other_customer is None or not same_expression(other_customer, customer):
                continue
            if sets_email(other):
                return True
        return False

    @staticmethod
    def _message(
        creator: FunctionInfo | None, address: cst.BaseExpression | None
    ) -> str:
        """Return the message. `creator` is the function named for creating profiles, or None."""
        if creator is not None:
            problem = (
                f"This identify in `{creator.qualname}`, which is named for creating"
                " profiles, has no `email` attribute, so a profile created here"
                " cannot receive email until a later call sets it."
            )
        else:
            problem = (
                "No identify in the project sets an `email` attribute, so Customer.io"
                " has no address to send these people email."
            )
        if address is None:
            return f"{problem} Add the person's address as `email=`."
        return f"{problem} Add `email={quoted_code(address)}`."


def _calls_email_function(context: FileContext, function: FunctionInfo | None) -> bool:
    """Tell whether a function calls a project function that identifies with `email`.

    Such a helper (`sync_profile(user)`) may create the profile with its
    email, so the function's own identify may only add attributes.
    """
    # NOTE: methods called through `self` and helpers that reach the
    # identify through another helper are not followed.
    if function is None:
        return False
    index = context.index
    email_functions = context.project.shared(
        "CIO401 email functions", _project_email_functions
    )
    for site in index.call_sites:
        if site.function is not function:
            continue
        callee = site.node.func
        qualified = index.qualified_name(callee, site.scope)
        if qualified is not None:
            qualified = context.project.localise(qualified, index.module_name)
        elif isinstance(callee, cst.Name):
            qualified = f"{index.module_name}.{callee.value}"
        if qualified in email_functions:
            return True
    return False


def _add_email(argument: cst.Arg, address: cst.BaseExpression) -> Fix:
    return Fix(
        FixSafety.UNSAFE,
        {argument: cst.FlattenSentinel(_with_keyword(argument, "email", address))},
        description="add the email attribute",
    )


def _traits_may_set_email(call: ClientCall) -> bool:
    """Tell whether a Data Pipelines identify may set `email` in its traits."""
    if call.method != "identify":
        return False
    traits = call.value("traits")
    if traits is None:
        return False
    if not isinstance(traits, cst.Dict):
        return True
    for element in traits.elements:
        if (
            not isinstance(element, cst.DictElement)
            or literal_value(element.key) == "email"
        ):
            return True
    return False


def derived_email(
    customer: cst.BaseExpression, attribute: str
) -> cst.BaseExpression | None:
    """Return `X.email` for `X.id`, or `X["email"]` for `X["id"]` (id: the configured attribute)."""
    if isinstance(customer, cst.Attribute) and customer.attr.value == attribute:
        return customer.with_changes(attr=cst.Name("email"), lpar=(), rpar=())
    if not isinstance(customer, cst.Subscript) or subscript_key(customer) != attribute:
        return None
    key = customer.slice[0].slice.value  # type: ignore[attr-defined]
    if not isinstance(key, cst.SimpleString) or key.prefix:
        return None
    new_key = key.with_changes(value=f"{key.quote}email{key.quote}")
    element = customer.slice[0].with_changes(slice=cst.Index(value=new_key))
    return customer.with_changes(slice=[element], lpar=(), rpar=())
