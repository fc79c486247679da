"""Email deliverability: bounces, spam complaints, unsubscribe links (CIO501-CIO503)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from cio_fix import lookups
from cio_fix.chains import joined_strings
from cio_fix.customerio import Api, FunctionInfo, Scope, literal_value
from cio_fix.handlers import request_handler
from cio_fix.model import Finding
from cio_fix.places import Place, list_places, place_of, project_finding, sort_places
from cio_fix.project import ProjectIndex
from cio_fix.rules import FileContext, Rule
from cio_fix.walk import descendants, find_all

logger = logging.getLogger(__name__)

# -- calls on clients that may live in another file --------------------------------


@dataclass(frozen=True)
class CallFact:
    """A call `receiver.method(...)` whose receiver is, or may be, a Customer.io client.

    `api` is set when the receiver resolves in its own file. Otherwise
    `receiver` is the imported name it refers to, resolved once the project
    index exists, because `collect` runs before other files are indexed.
    """

    method: str
    place: Place
    api: Api | None
    receiver: str | None


def _inside(inner: FunctionInfo | None, outer: FunctionInfo) -> bool:
    """Tell whether `inner` is `outer` or a function nested in it."""
    while inner is not None:
        if inner is outer:
            return True
        inner = inner.parent
    return False


def resolve_api(fact: CallFact, project: ProjectIndex) -> Api | None:
    if fact.api is not None:
        return fact.api
    if fact.receiver is None:
        return None
    client = project.client_type(fact.receiver)
    return client.api if client is not None else None


def call_facts(
    context: FileContext,
    methods: frozenset[str] | None,
    function: FunctionInfo | None = None,
) -> list[CallFact]:
    """Return the calls named `methods` made on a client, or on an imported name.

    `methods` None means any method. With `function`, only the calls in it
    and in the functions nested in it count.
    """
    index = context.index
    facts = []
    for site in index.call_sites:
        func = site.node.func
        if not isinstance(func, cst.Attribute):
            continue
        if methods is not None and func.attr.value not in methods:
            continue
        if function is not None and not _inside(site.function, function):
            continue
        client = index.client_type(func.value, site.scope)
        receiver = None
        if client is None:
            receiver = index.qualified_name(func.value)
            if receiver is None:
                continue
        facts.append(
            CallFact(
                method=func.attr.value,
                place=place_of(context, site.node),
                api=client.api if client is not None else None,
                receiver=receiver,
            )
        )
    return facts


# -- reporting webhooks ---------------------------------------------------------------

# Metrics that Customer.io reporting webhooks send in the payload's `metric`
# field. "spammed" is a spam complaint, "bounced" a bounce.
# Reporting metrics that other mail systems do not name the same way.
CUSTOMER_IO_METRICS = frozenset({"attempted", "converted", "drafted", "spammed"})
# Keys of a reporting-webhook payload besides `metric`.
CUSTOMER_IO_PAYLOAD_KEYS = frozenset(
    {"customer_id", "delivery_id", "object_type", "identifiers", "event_id"}
)
CUSTOMER_IO_WORDS = re.compile(r"customer[._ -]?io", re.IGNORECASE)
REPORTING_METRICS = frozenset(
    {
        "attempted",
        "bounced",
        "clicked",
        "converted",
        "delivered",
        "drafted",
        "dropped",
        "failed",
        "opened",
        "sent",
        "spammed",
        "subscribed",
        "undeliverable",
        "unsubscribed",
    }
)


@dataclass(frozen=True)
class WebhookHandler:
    """A function that reads the `metric` of a reporting-webhook payload."""

    name: str
    place: Place
    # The reporting metrics it compares the metric with, in this file.
    metrics: frozenset[str]
    # Imported names that it compares the metric with or looks the metric
    # up in (`metrics.BOUNCED`, `HANDLERS`), read once the project index exists.
    imported: tuple[str, ...] = ()
    # True when the metric reaches code that cio-fix cannot read, such as a
    # call argument or an unknown dict, so the function may handle any metric.
    opaque: bool = False
    # The reporting metrics that its name or route names: `delivered` and
    # `/webhooks/customerio/delivered` serve one metric.
    named_metrics: frozenset[str] = frozenset()
    # The names in its body that are named for bounces or complaints
    # (`on_bounce`, `self.handle_complaint`): the functions it may call.
    references: tuple[str, ...] = ()


@dataclass
class _MetricUse:
    """The uses of a payload's metric in one function (see `WebhookHandler`)."""

    metrics: set[str] = field(default_factory=set)
    imported: set[str] = field(default_factory=set)
    opaque: bool = False
    # The reporting metrics of its string literals, leaving out the tests
    # of branches that only drop the report.
    literals: set[str] = field(default_factory=set)
    # See `WebhookHandler.references`.
    references: set[str] = field(default_factory=set)
    # True when it selects metrics only to drop their reports (`_ignored_tests`).
    drops: bool = False

    def __bool__(self) -> bool:
        return bool(self.metrics or self.imported or self.opaque or self.drops)


def _string_literals(node: cst.CSTNode) -> set[str]:
    values = set()
    for string in find_all(node, cst.SimpleString, cst.ConcatenatedString):
        value = literal_value(string)
        if isinstance(value, str):
            values.add(value)
    return values


def _lookup(node: cst.CSTNode) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
    """Return (container, key) for `container[key]` or `container.get(key, ...)`."""
    # Exact types, because isinstance is slow on libcst's abstract classes.
    kind = type(node)
    if kind is cst.Subscript:
        if len(node.slice) != 1 or type(node.slice[0].slice) is not cst.Index:
            return None
        return node.value, node.slice[0].slice.value
    if (
        kind is cst.Call
        and type(node.func) is cst.Attribute
        and node.func.attr.value == "get"
        and node.args
    ):
        return node.func.value, node.args[0].value
    return None


def _is_metric_access(node: cst.CSTNode) -> bool:
    """Tell whether `node` reads a payload's metric.

    `payload["metric"]`, `payload.get("metric", ...)` and `payload.metric`.
    """
    if type(node) is cst.Attribute:
        return node.attr.value == "metric"
    found = _lookup(node)
    if found is None:
        return False
    key = found[1]
    return type(key) is cst.SimpleString and literal_value(key) == "metric"


def _metric_pattern(element: cst.MatchMappingElement) -> bool:
    """Tell whether a `match` mapping element reads the metric: `{"metric": ...}`."""
    return literal_value(element.key) == "metric"


# A parameter of this name receives a payload's metric, as in a Django
# signal receiver `def on_report(sender, metric, **kwargs)`.
METRIC_PARAMETER = "metric"
# Calls that only show a metric, so a metric passed to them is not handled elsewhere.
SHOWING_CALLS = frozenset(
    {"print", "str", "repr", "len", "isinstance", "format"}
    | {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
)
# Names that are constants of the language, not bindings to read.
LANGUAGE_CONSTANTS = frozenset({"None", "True", "False"})


def _metric_use(
    context: FileContext,
    function: FunctionInfo,
    tables: dict[str, frozenset[str]],
    responds: bool,
) -> _MetricUse:
    """Find what a function does with the payload's metric.

    It compares the metric with reporting metrics, through literals, module
    constants and collections (`in UNDELIVERABLE`), also when imported, and
    `match` cases, `{"metric": "bounced"}` patterns included. It may look the
    metric up in a dict of metrics (`HANDLERS.get(report["metric"])`) or
    in the methods of its class (`getattr(self, "handle_" + metric)`).
    The metric is read as `payload["metric"]`, as a variable assigned from
    it, or as a parameter named `metric`. `tables` has the metrics of the
    module's own dicts and collections by name. `responds` is True for a
    request handler, whose returned constants are the HTTP response.
    """
    nodes = list(descendants(function.node, trivia=False))
    accesses = {id(node) for node in nodes if _is_metric_access(node)}
    variables = {
        param.name.value
        for param in _parameters(function.node)
        if param.name.value == METRIC_PARAMETER
    }
    # Exact types, because isinstance is slow on libcst's abstract classes.
    for node in nodes:
        if (
            type(node) is cst.Assign
            and len(node.targets) == 1
            and type(node.targets[0].target) is cst.Name
            and any(
                id(inner) in accesses for inner in descendants(node.value, trivia=False)
            )
        ):
            variables.add(node.targets[0].target.value)

    def is_metric(node: cst.CSTNode) -> bool:
        return (
            id(node) in accesses or type(node) is cst.Name and node.value in variables
        )

    def reads_metric(node: cst.CSTNode) -> bool:
        return any(is_metric(inner) for inner in descendants(node, trivia=False))

    use = _MetricUse()
    ignored = _ignored_tests(nodes, reads_metric, responds)
    use.drops = bool(ignored)

    def read_name(node: cst.BaseExpression) -> None:
        """Add the metrics of a name the metric is compared with or looked up in."""
        if type(node) is cst.Name and node.value in LANGUAGE_CONSTANTS:
            return
        if type(node) is cst.Name and node.value in tables:
            use.metrics.update(tables[node.value])
            return
        qualified = context.index.qualified_name(node, function.scope)
        if qualified is not None:
            use.imported.add(qualified)
        else:
            use.opaque = True

    for node in nodes:
        if id(node) in ignored:
            continue
        kind = type(node)
        if kind is cst.SimpleString or kind is cst.ConcatenatedString:
            value = literal_value(node)
            if value in REPORTING_METRICS:
                use.literals.add(value)
        elif kind is cst.Name and NAMED_FOR_ANSWERED.search(node.value):
            use.references.add(node.value)
        elif kind is cst.Comparison and reads_metric(node):
            use.metrics |= _string_literals(node) & REPORTING_METRICS
            operands = [node.left, *(item.comparator for item in node.comparisons)]
            for operand in operands:
                if reads_metric(operand):
                    continue
                if type(operand) in (cst.Name, cst.Attribute):
                    read_name(operand)
                elif type(operand) is cst.Call:
                    use.opaque = True
        elif kind is cst.Match and reads_metric(node.subject):
            for case in node.cases:
                if id(case.pattern) not in ignored:
                    use.metrics |= _string_literals(case.pattern) & REPORTING_METRICS
        elif kind is cst.MatchMappingElement and _metric_pattern(node):
            use.metrics |= _string_literals(node.pattern) & REPORTING_METRICS
        elif kind is cst.Call:
            _read_call(node, function, is_metric, reads_metric, read_name, use)
        found = _lookup(node)
        if found is not None and not is_metric(node) and reads_metric(found[1]):
            # `HANDLERS.get(report["metric"])` dispatches on the metric.
            container = found[0]
            if type(container) in (cst.Name, cst.Attribute):
                read_name(container)
            else:
                use.opaque = True
    return use


def _ignored_tests(
    nodes: list[cst.CSTNode],
    reads_metric: Callable[[cst.CSTNode], bool],
    responds: bool,
) -> set[int]:
    """Return the ids of the nodes that select metrics only to drop their reports.

    `if report["metric"] in IGNORED_METRICS: return "", 204` ignores the
    metrics of the set, so they do not count as handled. That is an `if`
    whose test is one `==`, `is` or `in` comparison of the metric, or a
    case of a `match` on the metric, when the branch only drops the report
    (`_drops_report`). A branch that does anything else counts, because
    cio-fix cannot tell what it does with the report.
    """
    ignored: set[int] = set()
    for node in nodes:
        kind = type(node)
        if kind is cst.If and _drops_report(node.body, responds):
            test = node.test
            if (
                type(test) is cst.Comparison
                and len(test.comparisons) == 1
                and type(test.comparisons[0].operator) in SELECTING_OPERATORS
                and reads_metric(test)
            ):
                ignored.update(id(inner) for inner in descendants(test, trivia=False))
        elif kind is cst.Match and reads_metric(node.subject):
            for case in node.cases:
                if _drops_report(case.body, responds):
                    ignored.update(
                        id(inner) for inner in descendants(case.pattern, trivia=False)
                    )
    return ignored


# Comparisons that select the metrics they name, unlike `!=` and `not in`.
SELECTING_OPERATORS = (cst.Equal, cst.Is, cst.In)


def _drops_report(body: cst.BaseSuite, responds: bool) -> bool:
    """Tell whether a branch only ends: `pass`, `continue`, `break` or a bare `return`.

    In a request handler (`responds`), a `return` of constants (`"", 204`)
    drops the report too. Elsewhere the caller may act on what it returns.
    """
    if type(body) is cst.SimpleStatementSuite:
        statements = list(body.body)
    else:
        statements = []
        for line in body.body:
            if type(line) is not cst.SimpleStatementLine:
                return False
            statements.extend(line.body)
    return all(_drops(statement, responds) for statement in statements)


def _drops(statement: cst.BaseSmallStatement, responds: bool) -> bool:
    kind = type(statement)
    if kind is cst.Pass or kind is cst.Continue or kind is cst.Break:
        return True
    if kind is not cst.Return:
        return False
    value = statement.value
    return value is None or responds and _is_constant(value)


def _is_constant(node: cst.BaseExpression) -> bool:
    """Tell whether `node` is a literal, a language constant or a tuple of them (`"", 204`)."""
    if type(node) is cst.Tuple:
        return all(_is_constant(element.value) for element in node.elements)
    if type(node) is cst.Name:
        return node.value in LANGUAGE_CONSTANTS
    return literal_value(node) is not None


def _read_call(
    node: cst.Call,
    function: FunctionInfo,
    is_metric: Callable[[cst.CSTNode], bool],
    reads_metric: Callable[[cst.CSTNode], bool],
    read_name: Callable[[cst.BaseExpression], None],
    use: _MetricUse,
) -> None:
    """Read a call that receives the metric: a `getattr` dispatch or another function."""
    func = node.func
    name = func.value if type(func) is cst.Name else None
    if type(func) is cst.Attribute:
        name = func.attr.value
    if name == "getattr" and len(node.args) >= 2 and reads_metric(node.args[1].value):
        methods = _getattr_methods(node.args[1].value, function, is_metric)
        if methods is None:
            use.opaque = True
        else:
            use.metrics |= methods
        return
    if name in SHOWING_CALLS or name == "get":
        return
    if any(is_metric(argument.value) for argument in node.args):
        # The metric is passed on, to a function or a signal's receivers.
        use.opaque = True


def _getattr_methods(
    name: cst.BaseExpression,
    function: FunctionInfo,
    is_metric: Callable[[cst.CSTNode], bool],
) -> set[str] | None:
    """Return the metrics of `getattr(self, "handle_" + metric)`: its class's methods.

    None when the name is built some other way or outside a class.
    """
    if (
        type(name) is not cst.BinaryOperation
        or type(name.operator) is not cst.Add
        or not is_metric(name.right)
        or function.class_info is None
    ):
        return None
    prefix = literal_value(name.left)
    if not isinstance(prefix, str):
        return None
    metrics = set()
    for statement in function.class_info.node.body.body:
        if type(statement) is cst.FunctionDef and statement.name.value.startswith(
            prefix
        ):
            metrics.add(statement.name.value[len(prefix) :])
    return metrics & REPORTING_METRICS


def _parameters(function: cst.FunctionDef) -> list[cst.Param]:
    params = function.params
    return [*params.posonly_params, *params.params, *params.kwonly_params]


def _collection_strings(value: cst.BaseExpression) -> set[str]:
    """Return the strings of a literal dict's keys, or of a set, tuple or list.

    `frozenset({...})`, `set([...])` and `tuple(...)` of one literal count too.
    """
    kind = type(value)
    if (
        kind is cst.Call
        and type(value.func) is cst.Name
        and value.func.value in ("frozenset", "set", "tuple", "list")
        and len(value.args) == 1
    ):
        return _collection_strings(value.args[0].value)
    strings = set()
    if kind is cst.Dict:
        for element in value.elements:
            if type(element) is cst.DictElement:
                key = literal_value(element.key)
                if isinstance(key, str):
                    strings.add(key)
    elif kind in (cst.Set, cst.Tuple, cst.List):
        for element in value.elements:
            item = literal_value(element.value)
            if isinstance(item, str):
                strings.add(item)
    return strings


def metric_tables(context: FileContext) -> dict[str, frozenset[str]]:
    """Return the module-level dicts and collections of reporting metrics, with those metrics.

    A dict counts by its keys (`HANDLERS = {"bounced": on_bounce}`), a
    set, tuple or list by its members (`UNDELIVERABLE = {"bounced", "dropped"}`).
    """
    tables = {}
    for name, assignments in context.index.module_scope.assignments.items():
        if len(assignments) != 1 or assignments[0].value is None:
            continue
        metrics = _collection_strings(assignments[0].value) & REPORTING_METRICS
        if metrics:
            tables[name] = frozenset(metrics)
    return tables


def _module_constants(context: FileContext) -> dict[str, frozenset[str]]:
    """Return the module-level names bound to one reporting metric (`BOUNCED = "bounced"`)."""
    constants = {}
    for name, assignments in context.index.module_scope.assignments.items():
        if len(assignments) != 1:
            continue
        value = literal_value(assignments[0].value)
        if isinstance(value, str) and value in REPORTING_METRICS:
            constants[name] = frozenset({value})
    return constants


def model_metrics(context: FileContext) -> set[str]:
    """Return the reporting metrics of payload model fields: `metric: Literal["bounced"]`.

    A field named `metric` models the payload's metric, so the model is
    handling code. Other names bound to a metric (`BOUNCED = "bounced"`,
    an `Enum` member) count only where a webhook handler reads them.
    """
    module = context.module
    statements = list(module.body)
    for statement in module.body:
        if type(statement) is cst.ClassDef:
            statements.extend(statement.body.body)
    metrics: set[str] = set()
    for statement in statements:
        if type(statement) is not cst.SimpleStatementLine:
            continue
        for small in statement.body:
            if (
                type(small) is cst.AnnAssign
                and type(small.target) is cst.Name
                and small.target.value == METRIC_PARAMETER
            ):
                metrics |= _string_literals(small.annotation)
    return metrics & REPORTING_METRICS


@dataclass
class _MetricScan:
    """One walk over a module: where it reads a payload's metric.

    `functions` are the ids of the functions around a metric read; only
    they are searched for comparisons.
    """

    functions: set[int] = field(default_factory=set)


def _scan_module(context: FileContext) -> _MetricScan:
    scan = _MetricScan()
    # The parent map contains every node but the module and the trivia.
    # Those are no metric reads, so reading its keys replaces a walk of the tree.
    for node in context.parent_map():
        kind = type(node)
        if (
            (kind is cst.Attribute or kind is cst.Subscript or kind is cst.Call)
            and _is_metric_access(node)
            or kind is cst.Param
            and node.name.value == METRIC_PARAMETER
            or kind is cst.MatchMappingElement
            and _metric_pattern(node)
        ):
            for parent in context.ancestors(node):
                if type(parent) is cst.FunctionDef:
                    scan.functions.add(id(parent))
    return scan


# The words of an identifier: `on_bounce` -> on, bounce; `BounceView` -> Bounce, View.
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# Words of a name or route that name a reporting metric, besides the metrics themselves.
METRIC_WORDS = {
    "bounce": "bounced",
    "bounces": "bounced",
    "spam": "spammed",
    "complaint": "spammed",
    "complaints": "spammed",
}


# Metrics that CIO501 and CIO502 look for handling of.
ANSWERED_METRICS = frozenset({"bounced", "spammed"})
# A fast test for names that may name them, before `named_metrics` splits the words.
NAMED_FOR_ANSWERED = re.compile(r"bounce|spam|complaint", re.IGNORECASE)
# Names and routes of a webhook endpoint: `BounceWebhookView`, `/webhooks/customerio/bounces`.
WEBHOOK_WORDS = re.compile(r"hook|customer[._ -]?io", re.IGNORECASE)


def named_metrics(*names: str) -> frozenset[str]:
    """Return the reporting metrics that whole words of names or routes name.

    `on_bounce` and `/webhooks/customerio/bounces` name `bounced`;
    `debounced_save` names none.
    """
    metrics = set()
    for name in names:
        for word in _WORD.findall(name):
            word = word.lower()
            if word in REPORTING_METRICS:
                metrics.add(word)
            elif word in METRIC_WORDS:
                metrics.add(METRIC_WORDS[word])
    return frozenset(metrics)


def _route_strings(function: FunctionInfo) -> list[str]:
    """Return the strings of a function's decorators, where a web framework sets its route."""
    strings = []
    for decorator in function.node.decorators:
        strings.extend(_string_literals(decorator))
    return strings


@dataclass
class WebhookScan:
    """The webhook handlers of a module, and the metric switches that are not one."""

    handlers: list[WebhookHandler] = field(default_factory=list)
    # True when a function compares the metric but is no Customer.io webhook
    # (the counters of the project's own mail relay).
    other_switch: bool = False


def webhook_handlers(context: FileContext, scan: _MetricScan) -> WebhookScan:
    """Find the functions that branch on the metric of a Customer.io reporting webhook.

    A function counts when it compares the payload's `metric` key or
    attribute with at least one reporting metric, or passes the metric on.
    A function nested in a handler is not counted separately.
    """
    found = WebhookScan()
    uses: dict[int, _MetricUse] = {}
    tables = metric_tables(context)
    tables.update(_module_constants(context))
    # `sent` and `bounced` are every mail system's words. Elsewhere than in
    # a file about Customer.io, a function is its webhook handler only when
    # it serves requests, or reads a metric or payload key of its own.
    about_customer_io = CUSTOMER_IO_WORDS.search(context.source.text) is not None

    def use_of(function: FunctionInfo) -> _MetricUse:
        if id(function.node) not in scan.functions:
            return _MetricUse()
        if id(function.node) not in uses:
            responds = request_handler(context.index, function) is not None
            uses[id(function.node)] = _metric_use(context, function, tables, responds)
        return uses[id(function.node)]

    for function in context.index.functions:
        if function.parent is not None and use_of(function.parent):
            continue
        use = use_of(function)
        if not use:
            continue
        if not (
            about_customer_io
            or use.metrics & CUSTOMER_IO_METRICS
            or _string_literals(function.node) & CUSTOMER_IO_PAYLOAD_KEYS
            or request_handler(context.index, function) is not None
        ):
            found.other_switch = True
            continue
        metrics = frozenset(use.literals | use.metrics)
        found.handlers.append(
            WebhookHandler(
                function.qualname,
                place_of(context, function.node.name),
                metrics,
                imported=tuple(sorted(use.imported)),
                opaque=use.opaque,
                named_metrics=named_metrics(
                    function.qualname, *_route_strings(function)
                ),
                references=tuple(sorted(use.references)),
            )
        )
    return found


def resolved_metrics(
    handler: WebhookHandler, project: ProjectIndex
) -> frozenset[str] | None:
    """Return the metrics a handler compares, its imported names read; None when unknown.

    An imported name is a constant, or a dict or collection of metrics of
    another module. A name of a module that cio-fix does not parse gives
    unknown metrics.
    """
    if handler.opaque:
        return None
    metrics = set(handler.metrics)
    for qualified in handler.imported:
        value = project.constant(qualified)
        if isinstance(value, str):
            metrics.add(value)
            continue
        target = project.resolve_value(qualified)
        if target is None:
            return None
        summary, name = target
        facts = next(iter(summary.rule_facts.values()), None)
        if not isinstance(facts, DeliveryFacts) or name not in facts.tables:
            return None
        metrics |= facts.tables[name]
    return frozenset(metrics & REPORTING_METRICS)


# -- CIO501 ---------------------------------------------------------------------------


@dataclass
class DeliveryFacts:
    """The facts one file contributes to CIO501 and CIO502."""

    sends: list[Place] = field(default_factory=list)
    calls: list[CallFact] = field(default_factory=list)
    handlers: list[WebhookHandler] = field(default_factory=list)
    # The reporting metrics the module handles outside the handlers'
    # comparisons: a webhook endpoint or a function that calls a Customer.io
    # client of this file, named for one (`_named_functions`), or a payload
    # model field `metric: Literal["bounced"]`.
    handled_metrics: frozenset[str] = frozenset()
    # The other functions named for bounces or complaints, which count when
    # they call a Customer.io client of another module.
    named_functions: list[NamedFunction] = field(default_factory=list)
    # The module-level dicts and collections of reporting metrics and the
    # names bound to one, for the handlers of other modules that import them.
    tables: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class NamedFunction:
    """A function named for bounces or complaints that is no webhook endpoint itself."""

    metrics: frozenset[str]
    # Its calls on imported names, which may be Customer.io clients.
    calls: tuple[CallFact, ...]


def delivery_facts(context: FileContext) -> DeliveryFacts:
    return context.shared("delivery", _delivery_facts)


def _delivery_facts(context: FileContext) -> DeliveryFacts:
    facts = DeliveryFacts()
    # A test named for bounces, or one that sends email to a stub, shows
    # nothing about what the application handles or sends.
    if context.in_test_code:
        return facts
    facts.calls = call_facts(context, frozenset({"send_email"}))
    scan = _scan_module(context)
    webhooks = webhook_handlers(context, scan)
    facts.handlers = webhooks.handlers
    facts.tables = metric_tables(context)
    facts.tables.update(_module_constants(context))
    handled, facts.named_functions = _named_functions(context, webhooks.handlers)
    # The models of a module whose own functions compare the metric outside
    # a Customer.io webhook belong to another mail system.
    if not webhooks.other_switch:
        handled |= model_metrics(context)
    facts.handled_metrics = frozenset(handled & ANSWERED_METRICS)
    return facts


def _named_functions(
    context: FileContext, handlers: list[WebhookHandler]
) -> tuple[set[str], list[NamedFunction]]:
    """Sort the functions named for bounces or complaints by what connects them to Customer.io.

    Returns the metrics of those that are connected in this file: a request
    handler whose name or route also names a webhook or Customer.io, or a
    function that calls a Customer.io client. The others that call an
    imported name are returned for the project to resolve. A webhook handler
    of the metric has its own check, and a name alone (`bounce_rate`,
    `is_spam`) connects nothing.
    """
    handled: set[str] = set()
    others = []
    handler_names = {handler.name for handler in handlers}
    for function in context.index.functions:
        if not NAMED_FOR_ANSWERED.search(function.qualname):
            continue
        metrics = named_metrics(function.qualname) & ANSWERED_METRICS
        if not metrics or function.qualname in handler_names:
            continue
        if request_handler(context.index, function) is not None and any(
            WEBHOOK_WORDS.search(text)
            for text in (function.qualname, *_route_strings(function))
        ):
            handled |= metrics
            continue
        calls = call_facts(context, None, function)
        if any(call.api is not None for call in calls):
            handled |= metrics
            continue
        imported = tuple(call for call in calls if call.receiver is not None)
        if imported:
            others.append(NamedFunction(metrics, imported))
    return handled, others


class BounceNotSuppressed(Rule):
    """What it does:
    Reports, once per project, a project that sends transactional email
    through the App API (`send_email`) while no code handles bounces from
    Customer.io's reporting webhook. The finding points at the first
    `send_email` call and lists the others.

    A handler reacts to `bounced` when it compares the payload's `metric`
    with it, directly or through a constant, a set or a dict of handlers
    (also imported from another module), a `match` case, a method
    `handle_bounced` that `getattr(self, "handle_" + metric)` finds, or a
    parameter named `metric` (a Django signal receiver). A branch that
    selects `bounced` (`==`, `is`, `in`, a `match` case) only to drop the
    report does not count: one of only `pass`, `continue`, `break` or
    `return`, or in a request handler a `return` of constants such as
    `"", 204`. A pydantic model field `metric: Literal["bounced"]` counts.

    A function or class named for bounces (`on_bounce`, `BounceWebhookView`)
    counts only when it is connected to Customer.io: a webhook handler uses
    its name (calls `on_bounce(report)`), it is a request handler whose name
    or route also names a webhook or Customer.io, or it calls a Customer.io
    client. Other names (`bounce_rate`, `ease_out_bounce`, `is_bounced`,
    `status = "bounced"`, a `PaymentStatus.BOUNCED` member) count only
    where a webhook handler compares the metric with them.

    The rule stays silent when it cannot tell: a webhook passes the metric
    to a call, looks it up in a dict or compares it with a name that it
    cannot read. A module whose own functions compare the metric outside a
    Customer.io webhook, such as the counters of the project's own mail
    relay, does not count. Neither does test code (`tests/`, `test_*.py`,
    `conftest.py`): a test named for bounces handles nothing, and its email
    goes to a stub.

    Why is this bad?
    Customer.io stops sending to an address that hard-bounced, but the
    application does not learn of it: it keeps the bad address, and the
    person silently stops getting receipts and password resets. Email that
    other systems of the project send to that address bounces too, and
    mailbox providers junk the mail of a domain with a high bounce rate.
    Calling the Track API's `suppress` is not the fix, because it deletes the
    person's profile for good and is meant for GDPR requests.

    Example:
        mailer.send_email(SendEmailRequest(to=user.email, transactional_message_id="receipt"))
        # and nothing in the project handles bounces

    Use instead:
        @app.post("/webhooks/customerio")
        def customerio_webhook():
            report = request.get_json()
            if report["metric"] == "bounced":
                mark_email_invalid(report["data"]["customer_id"])

    Fix safety:
    No fix. What a bounce means is the project's decision: mark the address
    invalid, ask the person for a new one, stop other email to it.
    """

    code = "CIO501"
    name = "bounce-not-suppressed"
    summary = (
        "transactional email is sent through the App API but no code handles bounces"
    )
    fix_safety = None
    # A bounce handler need not import customerio. The words match parts of
    # snake_case names (`on_bounce`) too. A file read only for them that
    # does not parse is skipped without an error.
    # NOTE: a file that names neither customerio nor these words is not
    # parsed, so a `BounceView` class there is not seen.
    prefilter_words = ("bounced", "bounce", "bounces")

    def collect(self, context: FileContext) -> DeliveryFacts:
        return delivery_facts(context)

    def check_project(self, project: ProjectIndex) -> Iterator[Finding]:
        sends: list[Place] = []
        for _, facts in project.rule_facts(self.code):
            if _handles_metric(facts, project, "bounced"):
                return
            sends.extend(_email_sends(facts, project))
        if not sends:
            return

        sends = sort_places(sends)
        message = (
            "the project sends transactional email through the App API, but no code"
            " handles bounces; Customer.io stops mailing an address that bounced, so"
            " handle the `bounced` metric of its reporting webhooks to learn which"
            " address is bad (not with `suppress`, which deletes the person's profile)"
        )
        if len(sends) > 1:
            message += f"; other places that send email: {list_places(sends[1:])}"
        yield project_finding(self, sends[0], message)


def _handles_metric(facts: DeliveryFacts, project: ProjectIndex, metric: str) -> bool:
    """Tell whether the file handles `metric`, or may handle it as far as cio-fix can tell.

    A webhook handler that uses a name named for the metric (calls
    `on_bounce(report)`, dispatches to `self.handle_complaint`) hands the
    reports to it, wherever it is defined. A function named for the metric
    elsewhere counts when it calls a Customer.io client of another module.
    """
    if metric in facts.handled_metrics:
        return True
    for handler in facts.handlers:
        metrics = resolved_metrics(handler, project)
        if metrics is None or metric in metrics or metric in handler.named_metrics:
            return True
        if metric in named_metrics(*handler.references):
            return True
    for function in facts.named_functions:
        if metric in function.metrics and any(
            resolve_api(call, project) is not None for call in function.calls
        ):
            return True
    return False


def _email_sends(facts: DeliveryFacts, project: ProjectIndex) -> list[Place]:
    """Return the App API `send_email` calls of one file."""
    sends = []
    for call in facts.calls:
        if call.method == "send_email" and resolve_api(call, project) is Api.APP:
            sends.append(call.place)
    return sends


# -- CIO502 ---------------------------------------------------------------------------


class SpamComplaintUnhandled(Rule):
    """What it does:
    Reports, once per project, Customer.io reporting-webhook handlers (functions
    that branch on the payload's `metric`) when none of them handles the
    `spammed` metric, the spam complaint. The finding points at the first
    handler and lists the others.

    A handler handles `spammed` in the ways that CIO501 describes for
    `bounced`: a comparison, a set or dict of metrics, a `match` case or a
    `getattr` dispatch that does more than drop the report. A function or
    class named for complaints (`on_spam`, `complaints`) counts only when it
    is connected to Customer.io as CIO501 describes, so a comment filter
    `is_spam(comment)` or a support-ticket `handle_complaint(ticket)` does
    not. A handler whose name or route names one other metric
    (`/webhooks/customerio/delivered`) serves one reporting webhook of
    several, so it is not blamed. The rule stays silent when a handler
    passes the metric to a call or compares it with a name that cio-fix
    cannot read. Test code counts neither as a handler nor as handling.

    Why is this bad?
    A person who marked a message as spam does not want more of it. Mail
    that keeps arriving after a complaint raises the complaint rate, and
    mailbox providers junk or reject the domain's mail above a small
    fraction of complaints, including the mail other systems of the project
    send to that person.

    Example:
        if report["metric"] == "delivered":
            log_delivery(report)

    Use instead:
        if report["metric"] == "delivered":
            log_delivery(report)
        elif report["metric"] == "spammed":
            cio.identify(id=report["data"]["customer_id"], unsubscribed=True)

    Fix safety:
    No fix. The project decides what a complaint means for it: mark the
    person unsubscribed (`identify(id=..., unsubscribed=True)`) and stop the
    email it sends outside Customer.io. The Track API's `suppress` is not
    for this: it deletes the person's profile for good.
    """

    code = "CIO502"
    name = "spam-complaint-unhandled"
    summary = "a Customer.io reporting-webhook handler ignores spam complaints"
    fix_safety = None
    # A complaint handler need not import customerio.
    # NOTE: a handler file that names neither customerio nor "spammed" is not
    # parsed, so a handler there that ignores complaints is not reported.
    prefilter_words = ("spammed",)

    def collect(self, context: FileContext) -> DeliveryFacts:
        return delivery_facts(context)

    def check_project(self, project: ProjectIndex) -> Iterator[Finding]:
        handlers: list[WebhookHandler] = []
        for _, facts in project.rule_facts(self.code):
            if _handles_metric(facts, project, "spammed"):
                return
            # An endpoint named for another metric receives no complaints.
            handlers.extend(
                handler for handler in facts.handlers if not handler.named_metrics
            )
        if not handlers:
            return

        handlers.sort(key=lambda handler: (handler.place.path, handler.place.line))
        first = handlers[0]
        message = (
            f"the reporting-webhook handler `{first.name}` ignores spam complaints;"
            " handle the `spammed` metric: set `unsubscribed=True` with identify, and"
            " stop the email other systems send them (no handler compares the metric"
            " with `spammed` or calls a function named for complaints)"
        )
        if len(handlers) > 1:
            others = [handler.place for handler in handlers[1:]]
            message += f"; other handlers: {list_places(others)}"
        yield project_finding(self, first.place, message)


# -- CIO503 ---------------------------------------------------------------------------

# Request classes of transactional email; their `body` replaces the
# template's body.
EMAIL_REQUESTS = frozenset(
    {
        "customerio.SendEmailRequest",
        "customerio.api.SendEmailRequest",
        "async_customerio.SendEmailRequest",
        "async_customerio.api.SendEmailRequest",
    }
)
# Words of a link that lets people unsubscribe, in its address or its text:
# "unsubscribe", "opt out", "email preferences", "manage your preferences".
UNSUBSCRIBE_WORDS = (
    r"un-?subscribe|\bunsub\b|(?<![a-z])opt[-_ ]?out"
    r"|(?:e-?mail|subscription|notification|communication|marketing)"
    r"[-_ ]?preferences"
    r"|manage[-_ ]?(?:your[-_ ]?)?(?:subscriptions?|preferences)"
)
# Customer.io's Liquid tags for the unsubscribe and preferences links, a
# template variable or tag naming an unsubscribe link, or an `<a>` element
# whose address or text (up to its first 500 characters) contains one of
# those words, such as a link to the project's own preferences page.
UNSUBSCRIBE_LINK = re.compile(
    r"unsubscribe_url|manage_subscription_preferences_url"
    r"|\{[{%][^}]*unsubscribe[^}]*[}%]\}"
    rf"|href\s*=\s*[\"'][^\"']*(?:{UNSUBSCRIBE_WORDS})"
    rf"|<a\b[^>]*>(?:(?!</a\s*>).){{0,500}}?(?:{UNSUBSCRIBE_WORDS})",
    re.IGNORECASE | re.DOTALL,
)
TEMPLATE_SUFFIXES = (
    ".html",
    ".htm",
    ".liquid",
    ".j2",
    ".jinja",
    ".jinja2",
    ".mjml",
    ".txt",
)
# `{% extends "base.html" %}`, `{% include 'footer.html' %}`, Liquid's `{% render %}`.
TEMPLATE_REFERENCE = re.compile(
    r"\{%-?\s*(?:extends|include|render|layout)\s+[\"']([^\"']+)[\"']", re.IGNORECASE
)
# Template constructs that can add text this check cannot see: macros from
# other files, Django's custom tag libraries (`{% load mail_tags %}`), a
# layout or partial named by a variable (`{% extends base_layout %}`), and
# variables that sound like a footer or an unsubscribe link.
OPAQUE_TEMPLATE = re.compile(
    r"\{%-?\s*(?:import|from|load)\s"
    r"|\{%-?\s*(?:extends|include|render|layout)\s+(?![\s\"'])"
    r"|\{\{[^}]*(?:footer|unsubscribe)[^}]*\}\}",
    re.IGNORECASE,
)
MAX_TEMPLATE_BYTES = 1_000_000
# Templates read for one body, through extends and includes; past this the
# body is taken as unknown and not reported.
MAX_TEMPLATES_READ = 5
# Names in an f-string body that may hold a footer with the link.
FOOTER_NAME = re.compile(
    r"footer|unsub|opt_?out|preference|legal|link|signature|html|body|content",
    re.IGNORECASE,
)
# The end of f-string text that leaves a placeholder inside an `href`
# attribute: `<a href="{url}">`.
OPEN_HREF = re.compile(r"href\s*=\s*[\"']?[^\"'\s>]*$", re.IGNORECASE)
# White space in f-string source text, where a line break is still the
# escape sequence `\n`.
BLANK = re.compile(r"\s|\\[nrt]")


@dataclass(frozen=True)
class Body:
    """An email body as far as it is known: its text, or the template it renders."""

    node: cst.BaseExpression
    text: str | None = None
    template: str | None = None


class MissingUnsubscribeLink(Rule):
    """What it does:
    Finds transactional email bodies without an unsubscribe link: the `body`
    of a `SendEmailRequest` (or of a dict passed to App API `send_email`)
    given as a string literal, or rendered from a template file the call
    names (`render_template("receipt.html")`). A template is found next to
    the calling file, in `templates` folders above it, or in the folders of
    `template-folders`. The templates it extends or includes are read too.
    A link counts when it is Customer.io's `{% unsubscribe_url %}` or
    `{% manage_subscription_preferences_url %}`, or an `<a>` element whose
    address or text contains unsubscribe, opt out, email preferences or
    manage subscriptions (or preferences), such as a link to the project's own preferences
    page.

    Why is this bad?
    A body sent through the App API replaces the message template stored in
    Customer.io, and with it the template's footer. People who cannot find
    an unsubscribe link mark the message as spam instead, which lowers the
    deliverability of every email the workspace sends.

    Example:
        SendEmailRequest(to=user.email, body="<p>Thank you for your order!</p>")

    Use instead:
        SendEmailRequest(
            to=user.email,
            body='<p>Thank you for your order!</p>'
            '<p><a href="{% unsubscribe_url %}">Unsubscribe</a></p>',
        )

    Fix safety:
    No fix: where the link goes in the layout is the author's choice. Bodies
    built at run time are not reported. That includes an f-string whose link
    address is a placeholder (`href="{prefs_url}"`), whose placeholder is
    alone between tags (`</p>{opt_out}`), or whose placeholder name sounds
    like a footer. A placeholder in running text (`<p>Hi {user.name}</p>`)
    is taken as data. Templates that cannot be found are not reported, and
    neither are templates that import macros, load Django tag libraries
    (`{% load %}`), extend or include a template named by a variable, or
    print a footer variable. Requests with `send_to_unsubscribed=True` (sent
    even to people who unsubscribed) or with their own `headers`, which may
    carry `List-Unsubscribe`, are not reported either.
    """

    code = "CIO503"
    name = "missing-unsubscribe-link"
    summary = "a transactional email body without an unsubscribe link"
    fix_safety = None

    def check(self, context: FileContext) -> Iterator[Finding]:
        for node, scope in _email_bodies(context):
            body = _resolve_body(context, node, scope, depth=0)
            if body is None:
                continue
            if body.text is not None and not UNSUBSCRIBE_LINK.search(body.text):
                yield context.finding(self, body.node, _literal_message())
            if body.template is not None:
                finding = self._check_template(context, body)
                if finding is not None:
                    yield finding

    def _check_template(self, context: FileContext, body: Body) -> Finding | None:
        assert body.template is not None
        path = find_template(context, body.template, context.path.parent)
        if path is None:
            logger.debug(
                "%s: template %s not found", context.display_path, body.template
            )
            return None
        if template_has_link(context, path, set()) is not False:
            return None
        template_path = _relative(path, context.config.root)
        message = (
            f"the email template `{template_path}` has no unsubscribe link; add"
            ' `<a href="{% unsubscribe_url %}">Unsubscribe</a>` to it (or to the'
            " layout it extends), because people who cannot unsubscribe mark the"
            " email as spam"
        )
        return context.finding(self, body.node, message)


def _literal_message() -> str:
    return (
        "this email body has no unsubscribe link; add"
        ' `<a href="{% unsubscribe_url %}">Unsubscribe</a>` to it, because the'
        " body replaces the template's footer and people who cannot unsubscribe"
        " mark the email as spam"
    )


def _email_bodies(context: FileContext) -> Iterator[tuple[cst.BaseExpression, Scope]]:
    """Yield the `body` argument of every email request built in this file, with its scope."""
    index = context.index
    for site in index.call_sites:
        if index.qualified_name(site.node.func) not in EMAIL_REQUESTS:
            continue
        if _is_exempt_request(site.node.args):
            continue
        for argument in site.node.args:
            if argument.keyword is not None and argument.keyword.value == "body":
                yield argument.value, site.scope

    for call in index.client_calls:
        if call.api is not Api.APP or call.method != "send_email":
            continue
        request = call.value("request")
        if not isinstance(request, cst.Dict):
            continue
        elements = [
            element
            for element in request.elements
            if isinstance(element, cst.DictElement)
        ]
        if any(_is_exempt_entry(element) for element in elements):
            continue
        for element in elements:
            if literal_value(element.key) == "body":
                yield element.value, call.site.scope


def _is_exempt_request(arguments: Iterable[cst.Arg]) -> bool:
    """Tell whether a request needs no link in its body, or may not.

    That is a request that passes headers (maybe `List-Unsubscribe`),
    unpacks **kwargs, or sets `send_to_unsubscribed=True`: a message sent
    even to people who unsubscribed, such as a password reset, has nothing
    to unsubscribe from.
    """
    for argument in arguments:
        if argument.star == "**":
            return True
        keyword = argument.keyword.value if argument.keyword is not None else None
        if keyword == "headers":
            return True
        if keyword == "send_to_unsubscribed" and _is_true(argument.value):
            return True
    return False


def _is_exempt_entry(element: cst.DictElement) -> bool:
    """Tell whether a request dict entry exempts it, as in `_is_exempt_request`."""
    key = literal_value(element.key)
    if key == "headers":
        return True
    return key == "send_to_unsubscribed" and _is_true(element.value)


def _is_true(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


def _resolve_body(
    context: FileContext, node: cst.BaseExpression, scope: Scope, depth: int
) -> Body | None:
    text = _static_text(node)
    if text is not None:
        return Body(node, text=text)

    if isinstance(node, cst.Name) and depth < 3:
        return _resolve_name(context, node, scope, depth)

    template = _named_template(node)
    if template is not None:
        return Body(template[0], template=template[1])
    return None


def _resolve_name(
    context: FileContext, node: cst.Name, scope: Scope, depth: int
) -> Body | None:
    """Follow a body variable to its only assignment, in its scope or an enclosing one."""
    assignments = context.index.assignments_of(node.value, scope)
    if len(assignments) != 1 or assignments[0].value is None:
        return None
    assignment = assignments[0]
    resolved = _resolve_body(context, assignment.value, assignment.scope, depth + 1)
    if resolved is None or resolved.text is None:
        return resolved
    # A literal body is reported at its use, the line of the email request.
    return Body(node, text=resolved.text)


def _static_text(node: cst.BaseExpression) -> str | None:
    """Return the text of a string literal, or the literal parts of a plain f-string."""
    value = literal_value(node)
    if isinstance(value, str):
        return value
    if isinstance(node, cst.FormattedString):
        return _formatted_text(node)
    if isinstance(node, cst.ConcatenatedString):
        texts = [_static_text(string) for string in joined_strings(node)]
        if all(text is not None for text in texts):
            return "".join(texts)  # type: ignore[arg-type]
    return None


def _formatted_text(node: cst.FormattedString) -> str | None:
    """Return the literal parts of an f-string, or None when a placeholder may hold the link.

    A placeholder may hold the link when its name sounds like a footer, when
    it is an `href` address, or when it is alone between tags, where a
    whole block of HTML fits (`</p>{opt_out}`). A placeholder inside running
    text (`<p>Thanks, {user.name}!</p>`) is taken as plain data.
    """
    parts = []
    for position, part in enumerate(node.parts):
        if isinstance(part, cst.FormattedStringText):
            parts.append(part.value)
            continue
        expression = part.expression  # type: ignore[attr-defined]
        if not isinstance(expression, (cst.Name, cst.Attribute, cst.Subscript)):
            return None
        names = [name.value for name in find_all(expression, cst.Name)]
        if any(FOOTER_NAME.search(name) for name in names):
            return None
        before = "".join(parts)
        if _inside_tag(before):
            if OPEN_HREF.search(before):
                return None
        elif not _in_running_text(before, node.parts[position + 1 :]):
            return None
        parts.append("{}")
    return "".join(parts)


def _inside_tag(text_before: str) -> bool:
    return text_before.rfind("<") > text_before.rfind(">")


def _in_running_text(
    text_before: str, parts_after: Sequence[cst.BaseFormattedStringContent]
) -> bool:
    """Tell whether words of the text stand next to a placeholder, on either side."""
    words_before = text_before[text_before.rfind(">") + 1 :]
    if BLANK.sub("", words_before):
        return True
    if not parts_after or not isinstance(parts_after[0], cst.FormattedStringText):
        return False
    text_after = parts_after[0].value
    end = text_after.find("<")
    words_after = text_after if end == -1 else text_after[:end]
    return bool(BLANK.sub("", words_after))


def _named_template(node: cst.BaseExpression) -> tuple[cst.BaseExpression, str] | None:
    """Return the one string literal naming a template file in a rendering expression."""
    if not isinstance(node, cst.Call):
        return None
    found = []
    for string in find_all(node, cst.SimpleString):
        value = literal_value(string)
        if isinstance(value, str) and value.lower().endswith(TEMPLATE_SUFFIXES):
            found.append((string, value))
    if len(found) != 1:
        return None
    return found[0]  # type: ignore[return-value]


def _search_folders(context: FileContext, start: Path) -> list[Path]:
    """Return the folders a template name is looked up in, nearest first."""
    root = context.config.root.resolve()
    folders = [start]
    current = start.resolve()
    while True:
        for folder in context.config.template_folders:
            folders.append(current / folder)
        if current == root or root not in current.parents:
            break
        current = current.parent
    for folder in context.config.template_folders:
        folders.append(root / folder)
    return folders


def find_template(context: FileContext, name: str, start: Path) -> Path | None:
    """Find the template file `name`, inside the project root only."""
    root = context.config.root.resolve()
    for folder in _search_folders(context, start):
        candidate = (folder / name).resolve()
        if candidate != root and root not in candidate.parents:
            continue
        if lookups.is_file(candidate):
            return candidate
    return None


def template_has_link(context: FileContext, path: Path, seen: set[Path]) -> bool | None:
    """Tell whether a template, or one it extends or includes, has an unsubscribe link.

    Returns None when that cannot be known: a referenced template is missing,
    too large or read already, more than MAX_TEMPLATES_READ templates are
    involved, or the template imports macros.
    """
    if path in seen or len(seen) >= MAX_TEMPLATES_READ:
        return None
    seen.add(path)
    data = lookups.read_file(path, MAX_TEMPLATE_BYTES)
    if data is None:
        return None
    # Newlines as text mode reads them, so that a link's length counts alike.
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    text = text.replace("\r", "\n")
    if UNSUBSCRIBE_LINK.search(text):
        return True
    if OPAQUE_TEMPLATE.search(text):
        return None

    for reference in TEMPLATE_REFERENCE.findall(text):
        referenced = find_template(context, reference, path.parent)
        if referenced is None:
            return None
        found = template_has_link(context, referenced, seen)
        if found is not False:
            return found
    return False


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
