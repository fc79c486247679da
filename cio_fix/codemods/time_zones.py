"""Time zones that `datetime.now(tz)` takes without raising, as CIO201 needs them.

`datetime.now` raises TypeError on a `tz` that is not a tzinfo or None.
So a clock reading with a time zone counts as one that cannot raise only
when cio-fix finds where the time zone comes from. It must be a constant
of `datetime`, `pytz` or `dateutil`, or a module-level name whose every
value is such a constant or comes from a time zone factory
(`ZoneInfo("Europe/Paris")`).
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from cio_fix.customerio import Assignment, FileIndex, Scope, dotted_name

# Time zone constants whose reads cannot raise.
TIME_ZONE_CONSTANTS = frozenset(
    {"datetime.timezone.utc", "pytz.utc", "pytz.UTC", "dateutil.tz.UTC"}
)
# `datetime.UTC` is new in Python 3.11. `from datetime import UTC` fails
# before any handler runs on an older Python, but reading `datetime.UTC`
# raises AttributeError in the handler.
UTC_CONSTANT = "datetime.UTC"
UTC_PYTHON = (3, 11)
# Calls that return a time zone or raise (`dateutil.tz.gettz` may also
# return None, which `datetime.now` takes). They count only in module-level
# assignments (`_assigns_time_zone`), which run when the module is imported,
# so they cannot fail while a handler runs.
TIME_ZONE_FACTORIES = frozenset(
    {
        "datetime.timezone",
        "zoneinfo.ZoneInfo",
        "pytz.timezone",
        "dateutil.tz.gettz",
        "dateutil.tz.tzutc",
        "dateutil.tz.tzlocal",
    }
)


class TimeZones:
    """The expressions of one module that are time zones and cannot raise when read.

    `utc_attribute` is true when `datetime.UTC` read as an attribute
    (`dt.UTC`) counts, because the project runs only on Python 3.11 or newer.
    """

    def __init__(self, index: FileIndex, utc_attribute: bool) -> None:
        self.index = index
        self.utc_attribute = utc_attribute
        # The module-level names being checked, so that `A = B` and `B = A` end.
        self._checking: set[str] = set()

    def contains(self, node: cst.BaseExpression, scope: Scope | None = None) -> bool:
        """Tell whether `node` is a time zone, read in `scope` (found from `node` if not given).

        A name or attribute path passes when every binding of its first
        name gives a time zone: an import of a time zone constant, or, for a
        module-level name, a plain assignment of a time zone. A parameter, a
        local variable, a `global` statement for the name, a `del` of it and
        a later star import all withhold it, because the value may then be
        anything.
        """
        dotted = dotted_name(node)
        if dotted is None:
            return False
        head, _, rest = dotted.partition(".")
        if scope is None:
            scope = self.index.scope_of(node)
        if scope is None:
            return False

        for candidate in scope.lookup_chain():
            if candidate.kind == "module":
                break
            if head in candidate.imports:
                return self._is_time_zone_constant(
                    _joined(candidate.imports[head], rest), node
                )
            if head in candidate.assignments:
                return False

        return self._module_name_is_time_zone(head, rest, node)

    def _module_name_is_time_zone(
        self, head: str, rest: str, node: cst.BaseExpression
    ) -> bool:
        index = self.index
        if (
            head in self._checking
            or head in index.global_names
            or head in index.star_rebound_names
            or head in index.module_scope.deletions
        ):
            return False
        origins = index.module_import_origins.get(head, [])
        assignments = index.module_scope.assignments.get(head, [])
        if not origins and not assignments:
            return False
        if not all(
            self._is_time_zone_constant(_joined(origin, rest), node)
            for origin in origins
        ):
            return False
        if not assignments:
            return True
        if rest:
            # `ZONE.utc` of a time zone is no time zone.
            return False

        self._checking.add(head)
        try:
            assigned = all(self._assigns_time_zone(each) for each in assignments)
        finally:
            self._checking.discard(head)
        return assigned and _always_bound(index, head)

    def _is_time_zone_constant(self, qualified: str, node: cst.BaseExpression) -> bool:
        if qualified == UTC_CONSTANT:
            return isinstance(node, cst.Name) or self.utc_attribute
        return qualified in TIME_ZONE_CONSTANTS

    def _assigns_time_zone(self, assignment: Assignment) -> bool:
        """Tell whether a module-level `name = value` gives `name` a time zone."""
        if type(assignment.statement) not in (cst.Assign, cst.AnnAssign):
            return False
        value = assignment.value
        if value is None:
            return False
        module = self.index.module_scope
        if isinstance(value, cst.Call):
            return self._calls_factory(value.func)
        return self.contains(value, module)

    def _calls_factory(self, func: cst.BaseExpression) -> bool:
        """Tell whether `func`, called at module level, is a time zone factory."""
        dotted = dotted_name(func)
        if dotted is None:
            return False
        head, _, rest = dotted.partition(".")
        index = self.index
        if (
            head in index.module_scope.assignments
            or head in index.global_names
            or head in index.star_rebound_names
        ):
            return False
        origins = index.module_import_origins.get(head, [])
        return bool(origins) and all(
            _joined(origin, rest) in TIME_ZONE_FACTORIES for origin in origins
        )


def _joined(origin: str, rest: str) -> str:
    return f"{origin}.{rest}" if rest else origin


def _always_bound(index: FileIndex, name: str) -> bool:
    """Tell whether importing the module always binds `name`, so reading it cannot raise.

    That takes a binding among the module's own statements, or a `try`
    whose body and every `except` clause bind it (an import with a
    fallback). A binding only inside an `if`, a loop or a `with` may not run.
    NOTE: a handler that the module itself calls before the binding runs
    still finds the name unbound.
    """
    for statement in index.module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            if _binds(index, statement.body, name):
                return True
        elif isinstance(statement, cst.Try) and _try_binds(index, statement, name):
            return True
    return False


def _try_binds(index: FileIndex, statement: cst.Try, name: str) -> bool:
    if not _suite_binds(index, statement.body, name):
        return False
    return all(
        _suite_binds(index, handler.body, name) for handler in statement.handlers
    )


def _suite_binds(index: FileIndex, suite: cst.BaseSuite, name: str) -> bool:
    """Tell whether a simple statement directly in `suite` binds `name`."""
    if isinstance(suite, cst.SimpleStatementSuite):
        return _binds(index, suite.body, name)
    return any(
        isinstance(statement, cst.SimpleStatementLine)
        and _binds(index, statement.body, name)
        for statement in suite.body
    )


def _binds(
    index: FileIndex, statements: Sequence[cst.BaseSmallStatement], name: str
) -> bool:
    """Tell whether one of `statements` imports `name` or assigns a value to it."""
    for small in statements:
        if isinstance(small, (cst.Import, cst.ImportFrom)):
            bound = [local for local, _ in index.import_bindings(small)]
            if name in bound:
                return True
        elif isinstance(small, cst.Assign):
            if any(_is_name(target.target, name) for target in small.targets):
                return True
        elif isinstance(small, cst.AnnAssign) and small.value is not None:
            if _is_name(small.target, name):
                return True
    return False


def _is_name(node: cst.BaseExpression, name: str) -> bool:
    return isinstance(node, cst.Name) and node.value == name
