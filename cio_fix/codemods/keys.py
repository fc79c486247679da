"""API keys given to the wrong kind of client (CIO102)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from cio_fix.codemods.credentials import (
    CREDENTIAL_NAME,
    NAME_WORD,
    ROLE_LABELS,
    class_field,
    env_name_for_role,
    looks_like_secret,
    role_from_name,
)
from cio_fix.customerio import (
    Api,
    Construction,
    FileIndex,
    Scope,
    dotted_name,
    env_variable_read,
    literal_value,
)
from cio_fix.metadata import code_of, quoted_code
from cio_fix.model import Finding, Fix, FixSafety
from cio_fix.project import ProjectIndex
from cio_fix.rules import FileContext, Rule

# Words that name one side, also run together in all capitals (`SITEID`, `APPKEY`).
SITE_WORDS = frozenset({"SITE", "SITEID"})
TRACK_WORDS = frozenset({"TRACK", "TRACKING", "TRACKKEY", "TRACKAPI", "TRACKAPIKEY"})
APP_WORDS = frozenset({"APP", "APPKEY", "APPAPI", "APPAPIKEY"})
# Maximum number of local names `_identity` follows to reach a value.
MAX_NAME_HOPS = 4

TRACK_ROLES = ("site_id", "track_api_key")


@dataclass(frozen=True)
class TrackKeyUse:
    """A value passed to a Track client as its site ID or API key, for other files."""

    identity: str
    role: str
    path: str
    line: int


@dataclass(frozen=True)
class KeyFacts:
    """CIO102's facts about one module, read while checking the other modules."""

    track_keys: tuple[TrackKeyUse, ...]
    # Module-level credential settings (`CUSTOMERIO_APP_API_KEY = ...`) with their role.
    credential_names: tuple[tuple[str, str], ...]


def named_role(name: str) -> str | None:
    """Return the credential role a name states (site ID, Track key, App key), if it states one.

    `CUSTOMERIO_API_KEY` states none, and a name that states both APIs is ambiguous.
    """
    words = {word.upper() for word in NAME_WORD.findall(name)}
    names_site = bool(words & SITE_WORDS)
    names_track = bool(words & TRACK_WORDS)
    names_app = bool(words & APP_WORDS)
    if names_app and (names_site or names_track):
        return None
    if names_app:
        return "app_api_key"
    if names_site:
        return "site_id"
    if names_track:
        return "track_api_key"
    return None


def _setting_read(index: FileIndex, node: cst.BaseExpression) -> tuple[str, str] | None:
    """Return the reader and name of `config("CIO_KEY")`, `env.str("CIO_KEY")` and the like.

    python-decouple, environs and django-environ read settings by name this way.
    """
    if not isinstance(node, cst.Call) or not node.args:
        return None
    first = node.args[0]
    name = literal_value(first.value)
    if first.keyword is not None or first.star or not isinstance(name, str):
        return None
    reader = index.qualified_name(node.func) or dotted_name(node.func)
    return (reader, name) if reader is not None else None


def _secret_value_of(node: cst.BaseExpression) -> cst.BaseExpression:
    """Return X for `X.get_secret_value()`, else `node` itself.

    pydantic (1.x and 2.x) settings hold keys as `SecretStr`, and
    `get_secret_value()` returns the key it wraps, so the call reads the
    same key as X and has X's name.
    """
    if (
        isinstance(node, cst.Call)
        and not node.args
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "get_secret_value"
    ):
        return node.func.value
    return node


def _key_name(index: FileIndex, node: cst.BaseExpression) -> str | None:
    """Return the name that a key expression is read under: a variable, setting or env var."""
    node = _secret_value_of(node)
    variable = env_variable_read(index, node)
    if variable is not None:
        return variable
    setting = _setting_read(index, node)
    if setting is not None:
        return setting[1]
    dotted = dotted_name(node)
    if dotted is not None:
        return dotted.rsplit(".", 1)[-1]
    if isinstance(node, cst.Subscript) and len(node.slice) == 1:
        element = node.slice[0].slice
        if isinstance(element, cst.Index):
            key = literal_value(element.value)
            return key if isinstance(key, str) else None
    return None


def stated_role(index: FileIndex, node: cst.BaseExpression, scope: Scope) -> str | None:
    """Return the role a key's name states, following a local variable to its value once."""
    node = _secret_value_of(node)
    name = _key_name(index, node)
    role = named_role(name) if name is not None else None
    if role is not None or not isinstance(node, cst.Name):
        return role
    assignments = index.assignments_of(node.value, scope)
    if len(assignments) != 1 or assignments[0].value is None:
        return None
    name = _key_name(index, assignments[0].value)
    return named_role(name) if name is not None else None


def _identity(
    index: FileIndex, node: cst.BaseExpression, scope: Scope, hops: int = 0
) -> str | None:
    """Return a text that is equal for two expressions which read the same key.

    Environment variables, imported names and module-level names compare
    across files; an imported name is resolved through the project later
    (`resolve_identity`). A literal key is kept as a hash, never as text.
    """
    node = _secret_value_of(node)
    variable = env_variable_read(index, node)
    if variable is not None:
        return f"env:{variable}"

    setting = _setting_read(index, node)
    if setting is not None:
        return f"read:{setting[0]}({setting[1]!r})"

    literal = literal_value(node)
    if looks_like_secret(literal):
        digest = hashlib.sha256(str(literal).encode("utf-8")).hexdigest()[:16]
        return f"literal:{digest}"

    if isinstance(node, cst.Subscript) and len(node.slice) == 1:
        element = node.slice[0].slice
        base = _identity(index, node.value, scope, hops)
        if base is None or not isinstance(element, cst.Index):
            return None
        key = literal_value(element.value)
        return f"{base}[{key!r}]" if isinstance(key, str) else None

    field = class_field(index, node) if hops < MAX_NAME_HOPS else None
    if field is not None:
        # `CioConfig.api_key`, a field of a class of this module.
        assignment = field[1]
        assert assignment.value is not None
        followed = _identity(index, assignment.value, assignment.scope, hops + 1)
        if followed is not None:
            return followed
        return f"name:{index.module_name}.{code_of(node)}"

    if isinstance(node, cst.Name) and hops < MAX_NAME_HOPS:
        assignments = index.assignments_of(node.value, scope)
        if len(assignments) == 1 and assignments[0].value is not None:
            followed = _identity(
                index, assignments[0].value, assignments[0].scope, hops + 1
            )
            if followed is not None:
                return followed
            if assignments[0].scope is index.module_scope:
                return f"name:{index.module_name}.{node.value}"
            return None
        if assignments:
            return None

    qualified = index.qualified_name(node)
    return f"name:{qualified}" if qualified is not None else None


def resolve_identity(project: ProjectIndex, identity: str) -> str:
    """Follow an imported name to the module that binds it, so that imports of it compare equal."""
    if not identity.startswith("name:"):
        return identity
    qualified, bracket, rest = identity[len("name:") :].partition("[")
    target = project.resolve_name(qualified)
    if target is None:
        return identity
    summary, name = target
    return f"name:{summary.module_name}.{name}{bracket}{rest}"


def _track_key_uses(project: ProjectIndex) -> dict[str, TrackKeyUse]:
    """Return the first Track client use of each key in the project, by resolved identity."""
    uses: dict[str, TrackKeyUse] = {}
    for _, facts in project.rule_facts(WrongApiKey.code):
        for use in facts.track_keys:
            uses.setdefault(resolve_identity(project, use.identity), use)
    return uses


class WrongApiKey(Rule):
    """What it does:
    Finds an App API client (`APIClient`, `AsyncAPIClient`) given the Track
    API key or site ID, and a Track API client (`CustomerIO`,
    `AsyncCustomerIO`) given the App API key. A key counts as the Track key
    when its name says so (`CUSTOMERIO_TRACK_API_KEY`, `CIO_SITE_ID`) or
    when the project passes the same value to a Track client. It counts as
    the App key when its name says so (`CUSTOMERIO_APP_API_KEY`). A key
    read from a pydantic `SecretStr` (`settings.track_api_key.get_secret_value()`)
    counts as the key it wraps.

    Why is this bad?
    Customer.io issues separate credentials for the two APIs: the Track API
    takes a site ID and Track API key, the App API takes a bearer App API
    key. A client with the other API's key is rejected as unauthorized on
    every request, so transactional email or tracking stops while the code
    looks right.

    Example:
        cio = CustomerIO(settings.CUSTOMERIO_SITE_ID, settings.CUSTOMERIO_API_KEY)
        mailer = APIClient(settings.CUSTOMERIO_API_KEY)

    Use instead:
        cio = CustomerIO(settings.CUSTOMERIO_SITE_ID, settings.CUSTOMERIO_API_KEY)
        mailer = APIClient(settings.CUSTOMERIO_APP_API_KEY)

    Fix safety:
    Unsafe. The fix passes the project's App key setting when the wrong
    key is a module setting with exactly one App key setting next to it.
    Otherwise it reads the App key variable the way the wrong key was read
    (`os.getenv("X")`, `config("X")`), or from `os.environ`. The variable
    is one the project already reads for the App key, else
    `CUSTOMERIO_APP_API_KEY` (`[tool.cio-fix.env]`). That setting or
    variable must contain the App API key where the code runs. A Track
    client given the App key gets the Track key the same way. A key read
    with `.get_secret_value()` is replaced whole by the read of the
    variable, because the sibling setting may not be a `SecretStr`.
    """

    code = "CIO102"
    name = "wrong-api-key"
    summary = (
        "an App API client given the Track API key, or a Track client given the App key"
    )
    fix_safety = FixSafety.UNSAFE

    def collect(self, context: FileContext) -> KeyFacts:
        index = context.index
        uses = []
        for construction in index.constructions:
            if construction.client.api is not Api.TRACK:
                continue
            for parameter, role in (
                ("site_id", "site_id"),
                ("api_key", "track_api_key"),
            ):
                argument = construction.arguments.get(parameter)
                if argument is None:
                    continue
                identity = _identity(index, argument.value, construction.site.scope)
                if identity is None:
                    continue
                line = context.position(construction.node).start.line
                uses.append(TrackKeyUse(identity, role, context.display_path, line))

        names = []
        for name in index.module_scope.assignments:
            if CREDENTIAL_NAME.search(name):
                names.append((name, role_from_name(name)))
        return KeyFacts(tuple(uses), tuple(names))

    def check(self, context: FileContext) -> Iterator[Finding]:
        for construction in context.index.constructions:
            if construction.client.api is Api.APP:
                finding = self._check_app_client(context, construction)
            elif construction.client.api is Api.TRACK:
                finding = self._check_track_client(context, construction)
            else:
                continue
            if finding is not None:
                yield finding

    # -- the two wrong cases -----------------------------------------------------

    def _check_app_client(
        self, context: FileContext, construction: Construction
    ) -> Finding | None:
        argument = construction.arguments.get("key")
        if argument is None:
            return None
        index = context.index
        node = argument.value
        scope = construction.site.scope

        role = stated_role(index, node, scope)
        if role == "app_api_key":
            return None
        if role in TRACK_ROLES:
            reason = f"which is named as the {ROLE_LABELS[role]}"
        else:
            use = self._track_use(context, node, scope)
            if use is None:
                return None
            role = use.role
            reason = (
                f"which the Track client at {use.path}:{use.line} uses as its"
                f" {ROLE_LABELS[role]}"
            )

        fix, replacement = self._fix(context, node, scope, "app_api_key")
        message = (
            f"This App API client is given {_shown(node)}, {reason}. The App API"
            f" rejects requests with the {ROLE_LABELS[role]} as unauthorized, so pass"
            f" the App API key{_instead(replacement)}."
        )
        return context.finding(self, node, message, fix=fix)

    def _check_track_client(
        self, context: FileContext, construction: Construction
    ) -> Finding | None:
        argument = construction.arguments.get("api_key")
        if argument is None:
            return None
        node = argument.value
        scope = construction.site.scope
        if stated_role(context.index, node, scope) != "app_api_key":
            return None

        fix, replacement = self._fix(context, node, scope, "track_api_key")
        message = (
            f"This Track API client is given {_shown(node)}, which is named as the App"
            " API key. The Track API rejects requests with the App API key as"
            f" unauthorized, so pass the Track API key{_instead(replacement)}."
        )
        return context.finding(self, node, message, fix=fix)

    def _track_use(
        self, context: FileContext, node: cst.BaseExpression, scope: Scope
    ) -> TrackKeyUse | None:
        """Return the Track client use of the same value as `node`, if the project has one."""
        identity = _identity(context.index, node, scope)
        if identity is None:
            return None
        project = context.project
        uses = project.shared("CIO102", _track_key_uses)
        return uses.get(resolve_identity(project, identity))

    # -- the fix -------------------------------------------------------------------

    def _fix(
        self, context: FileContext, node: cst.BaseExpression, scope: Scope, role: str
    ) -> tuple[Fix | None, str | None]:
        """Return the fix that passes the key of `role` instead of `node`, and its code.

        In order: the sibling setting (`settings.CUSTOMERIO_APP_API_KEY`), the
        same read of another variable (`os.getenv("CUSTOMERIO_APP_API_KEY")`),
        else `os.environ[...]`.
        """
        description = f"pass the {ROLE_LABELS[role]}"
        replacement = self._setting_replacement(context, node, scope, role)
        if replacement is not None:
            replacement = replacement.with_changes(lpar=node.lpar, rpar=node.rpar)
            fix = Fix(FixSafety.UNSAFE, {node: replacement}, description=description)
            return fix, _code(replacement)

        env_name = env_name_for_role(role, context.config.env, _known_reads(context))
        literal = _variable_literal(context.index, node)
        if literal is not None:
            renamed = literal.with_changes(
                value=f"{literal.quote}{env_name}{literal.quote}"
            )
            fix = Fix(FixSafety.UNSAFE, {literal: renamed}, description=description)
            return fix, _code(node.deep_replace(literal, renamed))

        os_import = context.import_at(node, "os")
        if os_import is None:
            return None, None
        environ = f'{os_import.local}.environ["{env_name}"]'
        replacement = cst.parse_expression(environ)
        replacement = replacement.with_changes(lpar=node.lpar, rpar=node.rpar)
        fix = Fix(
            FixSafety.UNSAFE,
            {node: replacement},
            os_import.imports,
            description=description,
        )
        return fix, _code(replacement)

    def _setting_replacement(
        self, context: FileContext, node: cst.BaseExpression, scope: Scope, role: str
    ) -> cst.BaseExpression | None:
        """Return the sibling setting of `role` for `settings.WRONG` or a module-level `WRONG`."""
        index = context.index
        if isinstance(node, cst.Attribute):
            # The sibling must be bound in the module that `node.value` names,
            # not in a module that `node.attr` is re-exported from.
            base = index.qualified_name(node.value)
            summary = context.project.module(base) if base else None
            facts = summary.rule_facts.get(self.code) if summary else None
            if facts is None:
                return None
            sibling = _only_name(facts.credential_names, role, node.attr.value)
            return node.with_changes(attr=cst.Name(sibling)) if sibling else None

        if isinstance(node, cst.Name):
            assignments = index.assignments_of(node.value, scope)
            if len(assignments) != 1 or assignments[0].scope is not index.module_scope:
                return None
            names = [
                (name, role_from_name(name)) for name in index.module_scope.assignments
            ]
            names = [
                (name, found) for name, found in names if CREDENTIAL_NAME.search(name)
            ]
            sibling = _only_name(tuple(names), role, node.value)
            if sibling is None or not _bound_before(context, sibling, node, scope):
                return None
            return cst.Name(sibling)
        return None


def _variable_literal(
    index: FileIndex, node: cst.BaseExpression
) -> cst.SimpleString | None:
    """Return the string literal that names the variable `node` reads, for renaming it.

    That is X in `os.environ["X"]`, `os.getenv("X")` and `config("X")`.
    """
    if env_variable_read(index, node) is None and _setting_read(index, node) is None:
        return None
    literal: cst.BaseExpression | None = None
    if isinstance(node, cst.Subscript):
        element = node.slice[0].slice
        literal = element.value if isinstance(element, cst.Index) else None
    elif isinstance(node, cst.Call):
        literal = node.args[0].value
    if not isinstance(literal, cst.SimpleString) or literal.prefix:
        return None
    return literal


def _known_reads(context: FileContext) -> list[str]:
    """Return the variables the project reads from the environment, and this file's settings."""
    names = list(context.project.env_reads())
    for site in context.index.call_sites:
        setting = _setting_read(context.index, site.node)
        if setting is not None:
            names.append(setting[1])
    return names


def _only_name(names: tuple[tuple[str, str], ...], role: str, wrong: str) -> str | None:
    """Return the one credential setting of `role` other than `wrong`, if there is exactly one."""
    candidates = []
    for name, found in names:
        if found != role or name == wrong or named_role(name) not in (None, role):
            continue
        # `role_from_name` calls any other credential name a Track key, so a
        # Track key candidate must at least be named a key (not a secret or token).
        if role.endswith("_key") and "KEY" not in name.upper():
            continue
        candidates.append(name)
    return candidates[0] if len(candidates) == 1 else None


def _bound_before(
    context: FileContext, name: str, node: cst.CSTNode, scope: Scope
) -> bool:
    """Tell whether module-level `name` is bound when `node` runs, as it always is in a function."""
    assignments = context.index.assignments_of(name, scope)
    if len(assignments) != 1 or assignments[0].scope is not context.index.module_scope:
        return False
    if scope.owner.kind in ("function", "lambda"):
        return True
    defined = context.position(assignments[0].statement).end.line
    return defined < context.position(node).start.line


def _instead(replacement: str | None) -> str:
    return f" `{replacement}` instead" if replacement is not None else " instead"


def _code(node: cst.CSTNode) -> str:
    return quoted_code(node)


def _shown(node: cst.BaseExpression) -> str:
    """Show a key expression in a message, except a literal key, because that is a secret."""
    if literal_value(node) is not None:
        return "a hard-coded key"
    return f"`{_code(node)}`"
