"""Credentials in source code (CIO101)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from cio_fix.config import EnvNames
from cio_fix.customerio import (
    Assignment,
    FileIndex,
    Scope,
    env_variable_read,
    literal_value,
)
from cio_fix.model import AddImport, Finding, Fix, FixSafety, mask_secret
from cio_fix.project import CREDENTIAL_ROLES
from cio_fix.rules import FileContext, Rule

ROLE_LABELS = {
    "site_id": "Track API site ID",
    "track_api_key": "Track API key",
    "app_api_key": "App API key",
    "write_key": "Data Pipelines write key",
}

# Names of variables and settings that hold a Customer.io credential:
# CUSTOMERIO_API_KEY, CIO_SITE_ID, customer_io_app_key, ...
CREDENTIAL_NAME = re.compile(
    r"(?:customer_?io|(?:^|_)cio)(?:_\w*)?_?(?:site(?:_?id)?|(?:api_?|app_?|track_?|write_?)?key|secret|token)",
    re.IGNORECASE,
)
# Keys of a settings dict such as CUSTOMERIO = {"SITE_ID": ..., "API_KEY": ...}.
CREDENTIAL_KEY = re.compile(
    r"^(?:site_?id|(?:track_?|app_?|write_?)?(?:api_?)?key)$", re.IGNORECASE
)
CUSTOMERIO_NAME = re.compile(r"customer_?io|(?:^|_)cio(?:_|$)", re.IGNORECASE)

PLACEHOLDER = re.compile(
    r"""^(?:your|my|insert|enter|replace|change|put|add|set)[-_ ]
      | (?:^|[-_.])(?:here|placeholder|example|sample|dummy|fake|test|testing|changeme
                     |change_me|todo|xxx+|redacted|secret|none|null|unset|key|site|id)(?:$|[-_.])
      | ^x+$ | ^\*+$ | ^<.*>$ | ^\{.*\}$ | ^\$\{?\w+\}?$ | ^%\(.*\)s$""",
    re.IGNORECASE | re.VERBOSE,
)
ENV_VARIABLE_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")


def looks_like_secret(value: object) -> bool:
    """Tell a real key from a placeholder, an empty string or a variable name."""
    if not isinstance(value, str):
        return False
    if len(value) < 8 or len(value) > 200 or any(char.isspace() for char in value):
        return False
    if PLACEHOLDER.search(value) or ENV_VARIABLE_NAME.match(value):
        return False
    if "://" in value or re.fullmatch(r"[a-z_]+(?:\.[a-z_]+)+", value):
        return False
    return len(set(value)) >= 5


def role_from_name(name: str) -> str:
    upper = name.upper()
    if "SITE" in upper:
        return "site_id"
    if "APP" in upper:
        return "app_api_key"
    if "WRITE" in upper:
        return "write_key"
    return "track_api_key"


def env_name_for_role(role: str, env: EnvNames, known_reads: list[str]) -> str:
    """Pick the environment variable for a role: one the project reads already, else the configured one."""
    candidates = Counter(
        name
        for name in known_reads
        if CUSTOMERIO_NAME.search(name) and role_from_name(name) == role
    )
    if candidates:
        return candidates.most_common(1)[0][0]
    return getattr(env, role)


@dataclass
class _Literal:
    """A hard-coded credential: the literal node and how to name its variable."""

    node: cst.BaseExpression
    value: str
    role: str
    env_name: str | None = None


class HardcodedCredential(Rule):
    """What it does:
    Finds Customer.io credentials written into the source: a site ID, Track
    API key, App API key or Data Pipelines write key passed as a string
    literal to a client, held in a module constant that reaches a client
    (from any file of the project), assigned to a setting such as
    `CUSTOMERIO_API_KEY`, or used as the fallback of `os.getenv`.

    Why is this bad?
    Anyone who can read the repository, its forks or its CI logs can send
    data into the workspace or read it. The key stays in the version control
    history after the fix, so it must also be rotated in Customer.io
    (Settings > Workspace Settings > API and Webhook Credentials).

    Example:
        cio = CustomerIO("3f9a0c1d2e4b5a69", "0a1b2c3d4e5f6a7b")

    Use instead:
        cio = CustomerIO(
            os.environ["CUSTOMERIO_SITE_ID"], os.environ["CUSTOMERIO_TRACK_API_KEY"]
        )

    Fix safety:
    Safe. The fix reads the same value from the environment and adds
    `import os` when needed; the variable must be set where the code runs.
    Placeholders such as "YOUR_API_KEY" and empty strings are left alone.
    Variable names come from `[tool.cio-fix.env]`, or from the Customer.io
    variables the project already reads.
    """

    code = "CIO101"
    name = "hardcoded-credential"
    summary = (
        "Customer.io keys written in the source instead of read from the environment"
    )
    fix_safety = FixSafety.SAFE
    finds_secrets = True

    def collect(self, context: FileContext) -> list[str]:
        """Return the names of this module's credential settings, for naming variables."""
        names = []
        for name in context.index.module_scope.assignments:
            if _own_env_name(name) is not None:
                names.append(_own_env_name(name))
        return names

    def check(self, context: FileContext) -> Iterator[Finding]:
        seen: set[int] = set()
        for literal in self._literals(context):
            if id(literal.node) in seen:
                continue
            seen.add(id(literal.node))
            yield self._finding(context, literal)

    # -- where credentials are -------------------------------------------------

    def _literals(self, context: FileContext) -> Iterator[_Literal]:
        index = context.index
        yield from self._constructor_arguments(index)
        yield from self._named_assignments(context)
        yield from self._write_key_assignments(index)
        yield from self._environment_fallbacks(index)

    def _constructor_arguments(self, index: FileIndex) -> Iterator[_Literal]:
        for construction in index.constructions:
            roles = CREDENTIAL_ROLES[construction.client.api]
            for parameter, role in roles.items():
                argument = construction.arguments.get(parameter)
                if argument is not None:
                    yield from self._flowing(
                        index, argument.value, construction.site.scope, role
                    )

    def _flowing(
        self, index: FileIndex, value: cst.BaseExpression, scope: Scope, role: str
    ) -> Iterator[_Literal]:
        """Yield the literal behind a credential argument: itself, or a name's value."""
        literal = literal_value(value)
        if looks_like_secret(literal):
            assert isinstance(literal, str)
            yield _Literal(value, literal, role)
            return
        if isinstance(value, cst.Name):
            assignments = index.assignments_of(value.value, scope)
            if len(assignments) == 1 and assignments[0].value is not None:
                yield from self._from_assignment(index, assignments[0], role)
            return
        fallback = self._fallback(index, value)
        if fallback is not None:
            yield _Literal(fallback[0], fallback[1], role)

    def _from_assignment(
        self, index: FileIndex, assignment: Assignment, role: str
    ) -> Iterator[_Literal]:
        value = assignment.value
        assert value is not None
        literal = literal_value(value)
        if looks_like_secret(literal):
            assert isinstance(literal, str)
            yield _Literal(value, literal, role, _own_env_name(assignment.name))
            return
        fallback = self._fallback(index, value)
        if fallback is not None:
            yield _Literal(fallback[0], fallback[1], role)

    def _named_assignments(self, context: FileContext) -> Iterator[_Literal]:
        """Yield settings like `CUSTOMERIO_API_KEY = "..."`, and constants other files use as credentials."""
        index = context.index
        scopes = [
            index.module_scope,
            *(info.scope for info in index.classes if info.scope),
        ]
        for scope in scopes:
            for name, assignments in scope.assignments.items():
                if len(assignments) != 1 or assignments[0].value is None:
                    continue
                value = assignments[0].value
                role = None
                if CREDENTIAL_NAME.search(name):
                    role = role_from_name(name)
                elif scope is index.module_scope:
                    role = context.project.credential_role(index.module_name, name)
                if role is not None:
                    yield from self._from_assignment(index, assignments[0], role)
                if CUSTOMERIO_NAME.search(name) and isinstance(value, cst.Dict):
                    yield from self._settings_dict(value)

    def _settings_dict(self, node: cst.Dict) -> Iterator[_Literal]:
        for element in node.elements:
            if not isinstance(element, cst.DictElement):
                continue
            key = literal_value(element.key)
            value = literal_value(element.value)
            if (
                isinstance(key, str)
                and CREDENTIAL_KEY.match(key)
                and looks_like_secret(value)
            ):
                assert isinstance(value, str)
                yield _Literal(element.value, value, role_from_name(key))

    def _write_key_assignments(self, index: FileIndex) -> Iterator[_Literal]:
        for assignment in index.attribute_assignments:
            head, _, attribute = assignment.name.rpartition(".")
            if attribute != "write_key" or assignment.value is None:
                continue
            if index.qualify(head) != "customerio.analytics":
                continue
            yield from self._flowing(
                index, assignment.value, assignment.scope, "write_key"
            )

    def _environment_fallbacks(self, index: FileIndex) -> Iterator[_Literal]:
        for site in index.call_sites:
            variable = env_variable_read(index, site.node)
            if variable is None or not CREDENTIAL_NAME.search(variable):
                continue
            fallback = self._fallback(index, site.node)
            if fallback is not None:
                yield _Literal(
                    fallback[0], fallback[1], role_from_name(variable), variable
                )

    @staticmethod
    def _fallback(
        index: FileIndex, node: cst.BaseExpression
    ) -> tuple[cst.Call, str] | None:
        """Return the call and its default for `os.getenv("X", "key")` with a real key."""
        if not isinstance(node, cst.Call) or env_variable_read(index, node) is None:
            return None
        if len(node.args) < 2:
            return None
        default = literal_value(node.args[1].value)
        if not looks_like_secret(default):
            return None
        assert isinstance(default, str)
        return node, default

    # -- findings and fixes ------------------------------------------------------

    def _finding(self, context: FileContext, literal: _Literal) -> Finding:
        known = list(context.project.env_reads())
        for _, names in context.project.rule_facts(self.code):
            known.extend(names)
        env_name = literal.env_name or env_name_for_role(
            literal.role, context.config.env, known
        )
        label = ROLE_LABELS[literal.role]
        message = (
            f"Customer.io {label} is hard-coded ({mask_secret(literal.value)}); read it"
            f" from the {env_name} environment variable and rotate the key, because it"
            " stays in the version control history"
        )
        return context.finding(
            self,
            literal.node,
            message,
            fix=self._fix(context, literal, env_name),
            secrets=(literal.value,),
        )

    @staticmethod
    def _fix(context: FileContext, literal: _Literal, env_name: str) -> Fix | None:
        os_name = context.import_name("os")
        if os_name is None:
            return None
        # A literal keeps its parentheses; `os.getenv("X", "key")` becomes `os.environ["X"]`.
        replacement = cst.parse_expression(f'{os_name}.environ["{env_name}"]')
        replacement = replacement.with_changes(
            lpar=literal.node.lpar, rpar=literal.node.rpar
        )
        imports = (AddImport("os"),) if os_name == "os" else ()
        return Fix(
            safety=FixSafety.SAFE,
            replacements={literal.node: replacement},
            imports=imports,
            description=f"read the key from {env_name}",
        )


def _own_env_name(name: str) -> str | None:
    """Use a credential variable's own name as its environment variable: `CIO_SITE_ID`."""
    if CREDENTIAL_NAME.search(name) and name.upper().isidentifier():
        return name.upper().lstrip("_")
    return None
