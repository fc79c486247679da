"""Credentials in source code (CIO101)."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from cio_fix import lookups
from cio_fix.config import EnvNames
from cio_fix.customerio import (
    Assignment,
    ClassInfo,
    FileIndex,
    Scope,
    constant_value,
    dotted_name,
    env_variable_read,
)
from cio_fix.env_settings import (
    NAME_NOT_LITERAL,
    SchemeDefault,
    SettingsRead,
    imports_settings_library,
    scheme_defaults,
    settings_read,
    without_default,
    without_scheme_default,
)
from cio_fix.lookups import Lookup
from cio_fix.metadata import code_of
from cio_fix.model import AddImport, Finding, Fix, FixSafety, mask_secret
from cio_fix.pragmas import (
    line_pragma,
    mentions_secret_directive,
    silences_secret_only,
)
from cio_fix.project import CREDENTIAL_ROLES, ProjectIndex
from cio_fix.rules import FileContext, Rule

# The os functions whose second argument is the fallback of an environment variable.
OS_READS = frozenset({"os.getenv", "os.environ.get"})
# Methods that write the items given as keywords or as one dict: `dict.update`,
# and `update` and `from_mapping` of Flask's `app.config`.
MAPPING_WRITERS = ("update", "from_mapping")
# The reason a key written into the environment itself gets no fix.
SETS_ENVIRONMENT = (
    "the line sets the environment variable that the fix would read, so set it"
    " where the code runs instead and delete this line"
)

ROLE_LABELS = {
    "site_id": "Track API site ID",
    "track_api_key": "Track API key",
    "app_api_key": "App API key",
    "write_key": "Data Pipelines write key",
    "webhook_signing_key": "reporting webhook signing key",
}

# Names of variables and settings that hold a Customer.io credential:
# CUSTOMERIO_API_KEY, CIO_SITE_ID, customer_io_app_key, ...
CREDENTIAL_NAME = re.compile(
    r"""(?:customer_?io|(?:^|_)cio)_(?:\w+_)?
        (?:site(?:_?id)?|(?:track_?|app_?)?api_?key|app_?key|track_?key|write_?key|secret(?:_?key)?)$
      | ^_?(?:customer_?io|cio)_?key$""",
    re.IGNORECASE | re.VERBOSE,
)
# Keys of a settings dict such as CUSTOMERIO = {"SITE_ID": ..., "API_KEY": ...}.
CREDENTIAL_KEY = re.compile(
    r"^(?:site_?id|(?:track_?|app_?|write_?)?(?:api_?)?key)$", re.IGNORECASE
)
CUSTOMERIO_NAME = re.compile(r"customer_?io|(?:^|_)cio(?:_|$)", re.IGNORECASE)
# Words of a variable name, for `CUSTOMERIO_TRACK_API_KEY`, `appKey` and `SITEID` alike.
NAME_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# The words after the Customer.io part of a variable name (TRACK_API_KEY in
# `SHOP_CUSTOMERIO_TRACK_API_KEY`), joined by `_`, for each credential.
VARIABLE_ROLES = (
    (re.compile(r"(?:TRACK(?:ING)?_?)?SITE(?:_?ID)?"), "site_id"),
    (re.compile(r"(?:TRACK(?:ING)?_?)?(?:API_?)?KEY"), "track_api_key"),
    (re.compile(r"APP_?(?:API_?)?KEY"), "app_api_key"),
    (
        re.compile(
            r"(?:(?:DATA_?)?PIPELINES?_?|CDP_?)?(?:API_?)?WRITE_?KEY"
            r"|(?:(?:DATA_?)?PIPELINES?|CDP)_?(?:API_?)?KEY"
        ),
        "write_key",
    ),
)

PLACEHOLDER = re.compile(
    r"""^(?:your|my|insert|enter|replace|change|put|add|set)[-_ ]
      | (?:^|[-_.])(?:here|placeholder|example|sample|dummy|fake|test|testing|changeme
                     |change_me|todo|xxx+|redacted|secret|none|null|unset|key|site|id)(?:$|[-_.])
      | ^x+$ | ^\*+$ | ^<.*>$ | ^\{.*\}$ | ^\$\{?\w+\}?$ | ^%\(.*\)s$""",
    re.IGNORECASE | re.VERBOSE,
)
ENV_VARIABLE_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
# The prefixes of other services' keys: Stripe, Slack, SendGrid, GitHub,
# GitLab, AWS and Google. Customer.io's site IDs and API keys have none.
OTHER_SERVICE_KEY = re.compile(
    r"(?:sk|pk|rk)_(?:live|test)_|xox[abeprs]-|SG\.|gh[pousr]_|github_pat_"
    r"|glpat-|AKIA|ASIA|AIza"
)
# Characters of paths, URLs, secret manager resource names and e-mail
# addresses. Customer.io site IDs and API keys contain none of them.
# NOTE: Data Pipelines write keys were not checked against Customer.io's
# documentation. A base64 write key with `/` in it would not be reported.
REFERENCE_CHARACTERS = frozenset(":/\\@")
HOST_NAME = re.compile(r"(?:[a-z0-9-]+\.)+[a-z]{2,}", re.IGNORECASE)
# Words that mark a made-up key also when other letters or digits follow
# them without a separator (`fakekey1234`, `testSite01`). Each has a letter
# that is not hexadecimal, so no hexadecimal key contains one.
PLACEHOLDER_WORD_START = ("fake", "dummy", "test")


def looks_like_secret(value: object) -> bool:
    """Tell a real Customer.io key from a placeholder, a name, a reference or another service's key.

    Customer.io site IDs and API keys are hexadecimal or alphanumeric tokens,
    so a key mixes letters and digits and has no spaces, no word separators
    between lower-case words, and none of the characters of a path, URL,
    resource name or e-mail address (`projects/p/secrets/s/versions/3`).
    """
    if not isinstance(value, str):
        return False
    if len(value) < 8 or len(value) > 200 or any(char.isspace() for char in value):
        return False
    if PLACEHOLDER.search(value) or ENV_VARIABLE_NAME.match(value):
        return False
    if OTHER_SERVICE_KEY.match(value):
        return False
    if _starts_placeholder_word(value):
        return False
    if any(char in REFERENCE_CHARACTERS for char in value) or HOST_NAME.fullmatch(
        value
    ):
        return False
    if re.fullmatch(r"[a-z]+(?:[-_.][a-z0-9]+)+", value) and not _has_key_segment(
        value
    ):
        return False
    digits = sum(char.isdigit() for char in value)
    letters = sum(char.isalpha() for char in value)
    return digits >= 2 and letters >= 2 and len(set(value)) >= 5


def _starts_placeholder_word(value: str) -> bool:
    """Tell whether a word of `value` starts with a placeholder word: `fakesite01`.

    Words end at separators, digits and lower-to-upper case changes
    (`site_dummyKey`). A placeholder word inside a run of letters
    (`myfakekey`) does not count, because random letters contain one more
    often than they start a word with it.
    NOTE: a random letter-and-digit key (a write key) with a word that
    starts with one, such as `9Testq`, is taken for a placeholder.
    """
    words = (word.lower() for word in NAME_WORD.findall(value))
    return any(word.startswith(PLACEHOLDER_WORD_START) for word in words)


def _has_key_segment(value: str) -> bool:
    """Tell `sk_live_4f3a9c0d2e1b8a7c` (a key with a prefix) from `order_completed_v2` (words)."""
    for segment in re.split(r"[-_.]", value):
        has_digit = any(char.isdigit() for char in segment)
        has_letter = any(char.isalpha() for char in segment)
        if len(segment) >= 8 and has_digit and has_letter:
            return True
    return False


def secret_texts(node: cst.BaseExpression, value: str) -> tuple[str, ...]:
    """Return every text that shows the key: its value, and each part as written.

    A key split over implicit concatenation, written with escapes, as an
    f-string of constants or over lines ended by a backslash, appears in a
    diff as its parts and its source text, not as its value. A part shorter
    than 8 characters is masked only as written with its quotes, so that
    the same digits elsewhere in the code stay visible. Each line of a part
    that spans lines is masked too, because a diff shows it alone.
    """
    texts = [value]
    for part, written in _string_parts(node):
        if isinstance(part, cst.SimpleString):
            raw = part.value[len(part.prefix) + len(part.quote) : -len(part.quote)]
            candidates = [raw, part.evaluated_value]
        else:
            candidates = [part.value]
        for text in candidates:
            if not isinstance(text, str):
                continue
            if len(text) >= 8:
                texts.append(text)
            elif len(text) >= 4:
                texts.append(written)
            lines = text.split("\n")
            if len(lines) > 1:
                texts.extend(line for line in lines if len(line) >= 4)
    return tuple(dict.fromkeys(texts))


def _string_parts(
    node: cst.BaseExpression,
) -> Iterator[tuple[cst.SimpleString | cst.FormattedStringText, str]]:
    """Yield the constant pieces of a string, each with the code that shows it whole.

    The pieces are the strings of an implicit concatenation, the text of
    an f-string and the literals in its replacement fields (`f"{'3f9a'}"`).
    """
    pending: list[cst.BaseExpression] = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, cst.ConcatenatedString):
            pending.extend([current.right, current.left])
        elif isinstance(current, cst.SimpleString):
            yield current, current.value
        elif isinstance(current, cst.FormattedString):
            for piece in current.parts:
                if isinstance(piece, cst.FormattedStringText):
                    yield piece, code_of(current)
                elif isinstance(piece.expression, cst.BaseExpression):
                    pending.append(piece.expression)


def variable_role(name: str) -> str | None:
    """Return the credential that a variable's name states, or None for any other setting.

    Only a Customer.io name that ends in a credential counts:
    `CUSTOMERIO_SITE_ID`, `SHOP_CIO_TRACK_KEY`, `customerIoAppApiKey`. Names
    such as `CUSTOMERIO_REGION`, `CUSTOMERIO_WEBHOOK_SECRET`,
    `CUSTOMERIO_API_KEY_SECRET` (the name of a secret in a secret manager)
    or `CIO_TRACK_PORT` state none.
    """
    words = [word.upper() for word in NAME_WORD.findall(name)]
    start = None
    for position, word in enumerate(words):
        previous = words[position - 1] if position > 0 else ""
        if word in ("CUSTOMERIO", "CIO") or previous + word == "CUSTOMERIO":
            start = position + 1
    if start is None:
        return None
    rest = "_".join(words[start:])
    for pattern, role in VARIABLE_ROLES:
        if pattern.fullmatch(rest):
            return role
    return None


def role_from_name(name: str) -> str:
    """Return the role of a credential setting that `CREDENTIAL_NAME` matched.

    A webhook signing key has no default variable in `EnvNames`, so it is
    always read from a variable named after its own setting.
    """
    upper = name.upper()
    if "WEBHOOK" in upper or "SIGNING" in upper:
        return "webhook_signing_key"
    if "SITE" in upper:
        return "site_id"
    if "APP" in upper:
        return "app_api_key"
    if "WRITE" in upper:
        return "write_key"
    return "track_api_key"


def _states_api(name: str) -> bool:
    """Tell whether a credential name says which API its key is for.

    `CUSTOMERIO_API_KEY` and `CIO_KEY` do not, and `role_from_name` takes
    them for the Track API key only because that is its default.
    """
    return role_from_name(name) != "track_api_key" or "TRACK" in name.upper()


def _known_names(project: ProjectIndex, service: Path, root: Path) -> list[str]:
    """Return the variables that a service's modules read, and the credential settings they name.

    Only the modules of `service` count, because another service of the
    repository may read its key under its own name. That includes a
    service in a folder below `service` (a monorepo with a pyproject.toml
    at its root and one in `services/billing`).
    """
    known = []
    for summary in project.summaries:
        if _in_service(project, summary.path, service, root):
            known.extend(summary.env_reads)
    for summary, facts in project.rule_facts(HardcodedCredential.code):
        if _in_service(project, summary.path, service, root):
            known.extend(facts.names)
    return known


def _in_service(project: ProjectIndex, path: Path, service: Path, root: Path) -> bool:
    folder = _folder_of(project, path)
    if folder == service:
        return True
    if service not in folder.parents:
        return False
    # A folder between `service` and the file may declare a service of its own.
    return service_of(project, path, root) == service


def service_of(project: ProjectIndex, path: Path, root: Path) -> Path:
    """Return the folder of the service that the file at `path` belongs to.

    `lookups.service_folder` finds it and records the lookup.
    """
    services: dict[Path, Path] = project.shared("CIO101:services", lambda _: {})
    return lookups.service_folder(root, _folder_of(project, path), services)


def _folder_of(project: ProjectIndex, path: Path) -> Path:
    """Return the absolute folder of the file at `path`.

    The folder of each path is kept for the project, because each fix pass
    looks the service up again and making the path absolute costs more
    than the lookup.
    """
    folders: dict[Path, Path] = project.shared("CIO101:file-folders", lambda _: {})
    folder = folders.get(path)
    if folder is None:
        folder = path.absolute().parent
        folders[path] = folder
    return folder


@dataclass(frozen=True)
class CredentialFacts:
    """The facts of one file's hard-coded credentials, for the whole project."""

    # The environment variables its credential settings are named after.
    names: tuple[str, ...]
    # Each hard-coded key: the variable named after its setting (or None),
    # its role, and a digest of its value, because facts are cached on disk.
    keys: tuple[tuple[str | None, str, str], ...]


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _variable_for(
    project: ProjectIndex, env: EnvNames, literal: _Literal, service: Path, root: Path
) -> str:
    """Return the environment variable the fix reads a hard-coded key from."""
    if literal.env_name is not None:
        return literal.env_name
    return _variable_for_role(project, env, literal.role, service, root)


def _variable_for_role(
    project: ProjectIndex, env: EnvNames, role: str, service: Path, root: Path
) -> str:
    # The choice reads every file's facts, so it is made once per role and
    # service. It depends on the services of other files, whose declaration
    # files this file's cache key does not hash, so each use records the
    # lookups that the choice made.
    chosen = project.shared("CIO101", lambda _: {})
    key = (role, service)
    if key not in chosen:
        with lookups.recording() as service_lookups:
            known = _known_names(project, service, root)
        chosen[key] = (env_name_for_role(role, env, known), service_lookups)
    name, service_lookups = chosen[key]
    lookups.record(service_lookups)
    return name  # type: ignore[no-any-return]


def _shared_variables(
    project: ProjectIndex, env: EnvNames, root: Path
) -> tuple[set[str], list[Lookup]]:
    """Return the variables that the fixes would read more than one key from.

    A variable is named per service, and two services may each read their
    own key from variables of the same name. The lookups of those services
    come with the variables.
    """
    values: dict[tuple[Path, str], set[str]] = defaultdict(set)
    with lookups.recording() as service_lookups:
        for summary, facts in project.rule_facts(HardcodedCredential.code):
            service = service_of(project, summary.path, root)
            for own_name, role, digest in facts.keys:
                name = own_name or _variable_for_role(project, env, role, service, root)
                values[(service, name)].add(digest)
    shared = {
        f"{service}:{name}"
        for (service, name), digests in values.items()
        if len(digests) > 1
    }
    return shared, service_lookups


def env_name_for_role(role: str, env: EnvNames, known_reads: list[str]) -> str:
    """Pick the variable for a role: one the project reads already, else the configured one.

    A variable the project reads is reused only when its name states that
    credential (`variable_role`), so that a region, a webhook signing secret
    or a URL never becomes the key.
    """
    candidates = Counter(name for name in known_reads if variable_role(name) == role)
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
    # Why the key is reported without a fix, if it is.
    not_fixed: str | None = None
    # What the message calls the key when its role is a guess.
    label: str | None = None
    # The setting or variable name that gave the role, None when a client
    # or a settings class decides it.
    role_name: str | None = None
    # The django-environ or python-decouple call whose default is the key.
    settings_read: SettingsRead | None = None
    # The `environ.Env(...)` scheme entry whose default is the key.
    scheme_default: SchemeDefault | None = None


@dataclass(frozen=True)
class _SettingWrite:
    """A setting written into a mapping or onto an object: `app.config["X"] = "key"`."""

    # The dotted name of the mapping or object (`app.config`, `settings`),
    # None for another expression (`get_app().config`).
    container: str | None
    name: str
    value: cst.BaseExpression
    # True for an item (`config["X"]`), False for an attribute (`settings.X`).
    item: bool
    # True when the container is `os.environ`.
    sets_environment: bool = False


class HardcodedCredential(Rule):
    """What it does:
    Finds Customer.io credentials written into the source: a site ID, a
    Track API key, an App API key, a Data Pipelines write key or the
    signing key of reporting webhooks. The key may be a string literal
    passed to a client, a module constant that reaches a client from any
    file of the project, a setting such as `CUSTOMERIO_API_KEY`, also
    as an item or attribute (`app.config["CUSTOMERIO_API_KEY"] = ...`,
    `app.config.update(CUSTOMERIO_API_KEY=...)` or with a dict,
    `from_mapping(...)`, `app.config.setdefault("CUSTOMERIO_API_KEY", ...)`,
    `settings.CUSTOMERIO_API_KEY = ...`), an item or
    attribute of any name that a client of the same module reads
    (`APIClient(app.config["MAILER_TOKEN"])`, spelled the same in both
    places), a field
    of a class whose name says Customer.io (`site_id` or `api_key` in
    `class CioConfig`, also wrapped in pydantic's `SecretStr`), the
    fallback of `os.getenv`, or the default of a django-environ or
    python-decouple read: `env("X", default=...)` or `env.str(...)` with
    `env = environ.Env()`, `environ.FileAwareEnv()` or a subclass of `Env`
    defined in the same module, and `config("X", default=...)` with
    decouple's `config`, `AutoConfig()` or `Config()`, imported by name or
    with `from environ import *` or `from decouple import *`. So is the
    default in the scheme of an `Env`:
    `environ.Env(CUSTOMERIO_API_KEY=(str, "..."))`. The reader counts by
    its import or binding, so another library's `config` or a local
    function named `env` is left alone. An `Env` subclass imported from
    another module is not recognised. Values with the prefix of another service's
    keys (Stripe's `sk_live_`, Slack's `xoxb-`, AWS's `AKIA`) are never
    Customer.io keys. Test code is left
    alone, because its keys are fakes for a local server. Test code is
    named as pytest names it: `test_*.py`, `*_test.py`, `conftest.py`,
    every module named `tests` or `test` (Django's `tests.py` and
    `settings/test.py`), and every file below a folder of tests (`tests`,
    `test`, `testing`, and names such as `integration_tests` or
    `test_support`), because the helpers there hold the fakes of the tests
    beside them. Other modules named like tests, such as `ab_tests.py`
    (A/B tests) or `testing.py`, are application code. A test module that
    application code imports from (`from app.tests.fakes import client`)
    runs in production, so it is checked as application code.

    Why is this bad?
    Anyone who can read the repository, its forks or its CI logs can send
    data into the workspace or read it, or forge reporting webhooks with
    the signing key. The key stays in the version control
    history after the fix, so it must also be rotated in Customer.io
    (Settings > Workspace Settings > API and Webhook Credentials).
    A `# noqa` comment does not end the leak either, so `--add-noqa`
    comments on these findings only when `--select` names CIO101, and
    warns about each key either way.

    Example:
        cio = CustomerIO("3f9a0c1d2e4b5a69", "0a1b2c3d4e5f6a7b")

    Use instead:
        cio = CustomerIO(
            os.environ["CUSTOMERIO_SITE_ID"], os.environ["CUSTOMERIO_TRACK_API_KEY"]
        )

    Fix safety:
    Safe. The fix reads the same value from the environment and adds
    `import os` at the top of the module unless an import of os runs
    before the fixed line: an `import os` below a module-level key would
    run too late. An `import os` inside another function or class does
    not count. The function or class around the fixed line may import
    os itself: when such imports are its only bindings of `os` and one of
    them is a statement of its body above the fixed line (not inside an
    `if`, `try` or loop), the fix reads `os.environ` and adds nothing.
    When a module-level `del os` runs before the fixed line
    (or anywhere, for a line in a function), the fix adds `import os as
    _os` and reads `_os.environ`, or takes `_os_2` when the module already
    uses the name `_os`. When `os` may mean something else at the fixed
    line (a module-level assignment or import of something else, any
    other binding in the function, lambda or comprehension around it, or
    a `global os`
    that lets a function rebind it), the key is reported without a fix,
    and the message names that binding. A parameter of a lambda binds in
    that lambda only. A fallback of `os.getenv(NAME, ...)` or
    `os.environ.get` whose variable name is not a string literal is
    reported without a fix. A django-environ or python-decouple read keeps
    its variable:
    the fix drops the `default=` argument and keeps the others (`cast=`)
    and the layout, so the call raises `ImproperlyConfigured` or
    `UndefinedValueError` when the variable is missing. The comments
    around the argument stay: one at the end of its line moves to a line
    of its own, and the lines above it are left as they are, so delete a
    comment that only described the default. Its default is
    reported without a fix when the variable's name is not a string
    literal, when the `environ.Env(...)` scheme may give the variable a
    default of its own, when the `Env` object has a `prefix`, when a
    positional argument follows a positional default, or when the `Env`
    subclass sets a member that reads use (`get_value`, `__init__`,
    `ENVIRON`, ...) or has a decorator, a metaclass or a second base
    class. A scheme entry `X=(str, "key")` becomes `X=str`, so reads of X
    without a default raise `ImproperlyConfigured`; an entry whose cast is
    not a built-in type is reported without a fix, because django-environ
    takes any entry of two items for a cast and a default. The variable
    must be set where the code runs.
    When the fix reads a key from the environment, a comment at the end
    of its line whose directives all silence checks of hard-coded keys
    (`noqa` for S105, S106 or S107, bandit's `nosec`, detect-secrets'
    `pragma: allowlist secret`) is removed, unless another key in the
    same statement gets no fix. A reason after a directive's dash
    (`# nosec B106 - rotated weekly`) is removed with it. A comment with
    any other directive or text, or with text after another `#`, stays.
    A key written into the environment (`os.environ["X"] = ...`,
    `os.environ.update(...)` or `os.environ.setdefault(...)`) is reported
    without a fix, because the fix would read the variable that the line
    sets. The keys of an
    `update(...)` or `from_mapping(...)` call that also sets `TESTING=True`
    are left alone, because that call configures Flask for tests. Python
    evaluates the default of `setdefault("X", ...)` even when X is set, so
    the fixed call reads the variable then too, and it must be set.
    Placeholders such as "YOUR_API_KEY", "fake-api-key" or "fakekey1234"
    (a word that starts with `fake`, `dummy` or `test`) and empty strings
    are left alone.
    Variable names come from `[tool.cio-fix.env]`, or from the Customer.io
    variables that the file's service (the nearest folder that declares
    dependencies) already reads. When the fixes would read
    different keys from one variable (two workspaces, say), those keys are
    reported without a fix. So is a field of a pydantic settings class
    (a subclass of `BaseSettings` of pydantic or pydantic-settings, also
    imported under another name or through a base class of the module):
    once the line is an annotation without a value (`site_id: str`), the
    class reads the field from the environment by the name its
    configuration gives, and the message names that annotation. Deleting
    the line would remove the field. A class with a base class from
    another module may be one, so its keys get no fix either: the message
    names the base class and its module. If that class reads its fields
    from the environment or defines the key itself, change the line to
    the annotation that the message names, which is right for either
    kind. Else read the variable by hand. A
    field's key is the Track or the App API key as the client that reads
    it (`APIClient(CioConfig.key)`, also in another file), the field name
    (`app_api_key`) or the class name (`CioAppConfig`) says; a plain `api_key` that none of them
    decides is reported without a fix, and so is a key that a Track client
    and an App API client both read. A setting or variable whose name says
    no API (`CUSTOMERIO_API_KEY`, `CIO_KEY`) holds the key of the client
    that reads it, but a key whose name says one API
    (`CUSTOMERIO_TRACK_API_KEY`) while a client of another reads it is
    reported without a fix.
    """

    code = "CIO101"
    name = "hardcoded-credential"
    summary = (
        "Customer.io keys written in the source instead of read from the environment"
    )
    fix_safety = FixSafety.SAFE
    finds_secrets = True

    def collect(self, context: FileContext) -> CredentialFacts:
        """Return this module's credential setting names and its hard-coded keys."""
        names = []
        for name in context.index.module_scope.assignments:
            if _own_env_name(name) is not None:
                names.append(_own_env_name(name))
        keys = {}
        if not context.in_test_code:
            for literal in self._unique_literals(context):
                if literal.not_fixed is not None:
                    # No fix reads it from a variable.
                    continue
                keys[id(literal.node)] = (
                    literal.env_name,
                    literal.role,
                    _digest(literal.value),
                )
        return CredentialFacts(tuple(names), tuple(keys.values()))

    def check(self, context: FileContext) -> Iterator[Finding]:
        if context.in_test_code:
            return
        literals = _reported_literals(context)
        for literal in literals:
            yield self._finding(context, literal, literals)

    # -- where credentials are -------------------------------------------------

    def _unique_literals(self, context: FileContext) -> list[_Literal]:
        """Return each hard-coded key once, as the first place that finds it reads it.

        A key that clients of two roles read (a Track client and an App API
        client) cannot be read from one variable for both, and a key whose
        name says another API than its client may be the wrong key, so
        neither gets a fix. A name that says no API (`CUSTOMERIO_API_KEY`)
        takes the role of the client that reads the key.
        """
        found: dict[int, _Literal] = {}
        for literal in self._literals(context):
            first = found.get(id(literal.node))
            if first is None:
                found[id(literal.node)] = literal
            elif first.role == literal.role or first.not_fixed is not None:
                continue
            elif literal.label is not None or _role_guessed(literal):
                # A field whose role nothing decides (it has a label), or a
                # name that says no API, takes the role of the client.
                continue
            elif _role_guessed(first):
                found[id(literal.node)] = literal
            else:
                found[id(literal.node)] = dataclasses.replace(
                    first, not_fixed=_several_roles_reason(first, literal)
                )
        return list(found.values())

    def _literals(self, context: FileContext) -> Iterator[_Literal]:
        index = context.index
        writes = _setting_writes(index)
        yield from self._constructor_arguments(index, writes)
        yield from self._named_assignments(context)
        yield from self._written_settings(writes)
        yield from self._write_key_assignments(index, writes)
        yield from self._environment_fallbacks(index)

    def _constructor_arguments(
        self, index: FileIndex, writes: list[_SettingWrite]
    ) -> Iterator[_Literal]:
        for construction in index.constructions:
            roles = CREDENTIAL_ROLES[construction.client.api]
            for parameter, role in roles.items():
                argument = construction.arguments.get(parameter)
                if argument is not None:
                    yield from self._flowing(
                        index, argument.value, construction.site.scope, role, writes
                    )

    def _flowing(
        self,
        index: FileIndex,
        value: cst.BaseExpression,
        scope: Scope,
        role: str,
        writes: list[_SettingWrite],
    ) -> Iterator[_Literal]:
        """Yield the literal behind a credential argument: itself, or a name's value."""
        literal = constant_value(value)
        if looks_like_secret(literal):
            assert isinstance(literal, str)
            yield _Literal(value, literal, role)
            return
        if isinstance(value, cst.Name):
            assignments = index.assignments_of(value.value, scope)
            if len(assignments) == 1 and assignments[0].value is not None:
                yield from self._from_assignment(index, assignments[0], role)
            return
        entry = _dict_entry(index, value, scope)
        if entry is not None:
            literal = constant_value(entry)
            if looks_like_secret(literal):
                assert isinstance(literal, str)
                yield _Literal(entry, literal, role)
            return
        write = _written_setting(value, writes)
        written = _written_literal(write, role) if write is not None else None
        if written is not None:
            # `CustomerIO(app.config["SITE"], ...)`: the client decides the role.
            yield written
            return
        field = class_field(index, value)
        if field is not None:
            # `APIClient(CioConfig.key)`: the client decides the key's role.
            class_info, assignment = field
            reason = _field_not_fixed(
                index, _class_field_not_fixed(index, class_info), assignment
            )
            for literal in self._from_assignment(index, assignment, role):
                yield dataclasses.replace(
                    literal, not_fixed=reason or literal.not_fixed
                )
            return
        fallback = self._fallback(index, value, role, scope)
        if fallback is not None:
            yield fallback

    def _from_assignment(
        self, index: FileIndex, assignment: Assignment, role: str
    ) -> Iterator[_Literal]:
        value = assignment.value
        assert value is not None
        value = _secret_wrapped(index, value)
        literal = constant_value(value)
        if looks_like_secret(literal):
            assert isinstance(literal, str)
            yield _Literal(value, literal, role, _own_env_name(assignment.name))
            return
        fallback = self._fallback(index, value, role, assignment.scope)
        if fallback is not None:
            yield fallback

    def _named_assignments(self, context: FileContext) -> Iterator[_Literal]:
        """Yield settings such as `CUSTOMERIO_API_KEY = "..."` and constants used as keys."""
        index = context.index
        scopes = [(index.module_scope, None)]
        scopes.extend((info.scope, info) for info in index.classes if info.scope)
        for scope, class_info in scopes:
            customerio_class = class_info is not None and _customerio_name(
                class_info.name
            )
            not_fixed = None
            if class_info is not None:
                not_fixed = _class_field_not_fixed(index, class_info)
            for name, assignments in scope.assignments.items():
                if len(assignments) != 1 or assignments[0].value is None:
                    continue
                value = assignments[0].value
                role = None
                label = None
                reason = not_fixed
                role_name = None
                if CREDENTIAL_NAME.search(name):
                    role, role_name = role_from_name(name), name
                elif customerio_class and CREDENTIAL_KEY.match(name):
                    # A field of a Customer.io settings class:
                    # `site_id: str = "..."` in `class CustomerIOSettings`.
                    assert class_info is not None
                    role = _field_role(name, class_info.name)
                    if role is None and class_info.scope.parent is index.module_scope:
                        # A client in another file decides it.
                        role = context.project.credential_role(
                            index.module_name, f"{class_info.name}.{name}"
                        )
                    if role is None:
                        role, label = "track_api_key", "API key"
                        reason = reason or AMBIGUOUS_KEY
                elif scope is index.module_scope:
                    role = context.project.credential_role(index.module_name, name)
                if role is not None:
                    reason = _field_not_fixed(index, reason, assignments[0])
                    for literal in self._from_assignment(index, assignments[0], role):
                        yield dataclasses.replace(
                            literal,
                            not_fixed=reason or literal.not_fixed,
                            label=label,
                            role_name=role_name,
                        )
                if isinstance(value, cst.Dict):
                    yield from self._settings_dict(context, scope, name, value)

    def _settings_dict(
        self, context: FileContext, scope: Scope, name: str, node: cst.Dict
    ) -> Iterator[_Literal]:
        """Yield keys of `CUSTOMERIO = {"API_KEY": ...}`, or of any dict a client reads."""
        index = context.index
        for element in node.elements:
            if not isinstance(element, cst.DictElement):
                continue
            key = constant_value(element.key)
            value = constant_value(element.value)
            secret = looks_like_secret(value)
            # A call may fall back to a key: `{"API_KEY": env("X", default="...")}`.
            if not isinstance(key, str) or not (
                secret or type(element.value) is cst.Call
            ):
                continue
            role = role_name = None
            if CUSTOMERIO_NAME.search(name) and CREDENTIAL_KEY.match(key):
                role, role_name = role_from_name(key), key
            elif scope is index.module_scope:
                role = context.project.credential_role(
                    index.module_name, f"{name}[{key}]"
                )
            if role is None:
                continue
            if secret:
                assert isinstance(value, str)
                yield _Literal(element.value, value, role, role_name=role_name)
                continue
            fallback = self._fallback(index, element.value, role, scope)
            if fallback is None:
                continue
            # A variable named for a credential states the role itself, and
            # `_environment_fallbacks` finds it by that role.
            if fallback.env_name is None or not CREDENTIAL_NAME.search(
                fallback.env_name
            ):
                yield fallback

    @staticmethod
    def _written_settings(writes: list[_SettingWrite]) -> Iterator[_Literal]:
        """Yield keys written under a credential setting's name: `app.config["CIO_SITE_ID"]`."""
        for write in writes:
            if not CREDENTIAL_NAME.search(write.name):
                continue
            literal = _written_literal(write, role_from_name(write.name))
            if literal is not None:
                yield dataclasses.replace(literal, role_name=write.name)

    def _write_key_assignments(
        self, index: FileIndex, writes: list[_SettingWrite]
    ) -> Iterator[_Literal]:
        for assignment in index.attribute_assignments:
            head, _, attribute = assignment.name.rpartition(".")
            if attribute != "write_key" or assignment.value is None:
                continue
            if index.qualify(head) != "customerio.analytics":
                continue
            yield from self._flowing(
                index, assignment.value, assignment.scope, "write_key", writes
            )

    def _environment_fallbacks(self, index: FileIndex) -> Iterator[_Literal]:
        settings_library = imports_settings_library(index)
        for site in index.call_sites:
            if settings_library:
                yield from _scheme_keys(index, site.node, site.scope)
            if len(site.node.args) < 2:
                # Without a second argument there is no fallback key.
                continue
            variable = env_variable_read(index, site.node)
            if variable is None and settings_library:
                read = settings_read(index, site.node, site.scope)
                variable = read.variable if read is not None else None
            if variable is None or not CREDENTIAL_NAME.search(variable):
                continue
            fallback = self._fallback(
                index, site.node, role_from_name(variable), site.scope
            )
            if fallback is not None:
                yield dataclasses.replace(fallback, role_name=variable)

    @staticmethod
    def _fallback(
        index: FileIndex, node: cst.BaseExpression, role: str, scope: Scope
    ) -> _Literal | None:
        """Return the key that `os.getenv("X", "key")` falls back to, with X as its variable.

        The fix keeps reading X: the key already comes from X wherever X is
        set, so another name would break those environments. The default of
        a django-environ or python-decouple read (`env("X", default="key")`)
        counts too.
        """
        if not isinstance(node, cst.Call):
            return None
        variable = env_variable_read(index, node)
        if variable is None and index.qualified_name(node.func) not in OS_READS:
            return _settings_default(index, node, role, scope)
        if len(node.args) < 2 or node.args[0].star or node.args[1].star:
            return None
        default = constant_value(node.args[1].value)
        if not looks_like_secret(default):
            return None
        assert isinstance(default, str)
        if variable is None:
            # `os.getenv(NAME, "key")`: no fix can tell which variable to read.
            return _Literal(node, default, role, not_fixed=NAME_NOT_LITERAL)
        return _Literal(node, default, role, variable)

    # -- findings and fixes ------------------------------------------------------

    def _finding(
        self, context: FileContext, literal: _Literal, literals: list[_Literal]
    ) -> Finding:
        project, env, root = context.project, context.config.env, context.config.root
        service = service_of(project, context.path, root)
        env_name = _variable_for(project, env, literal, service, root)
        label = ROLE_LABELS[literal.role]
        secret_node = literal.node
        if literal.settings_read is not None:
            secret_node = literal.settings_read.default.value
        secrets = secret_texts(secret_node, literal.value)
        shared, service_lookups = project.shared(
            "CIO101:shared", lambda index: _shared_variables(index, env, root)
        )
        # The shared variables depend on the services of other files, whose
        # declaration files this file's cache key does not hash.
        lookups.record(service_lookups)
        if literal.not_fixed is not None:
            source = "the environment"
            if isinstance(literal.not_fixed, UnknownBaseReason):
                # The reason tells the reader to read "the variable" by hand,
                # so the message names it.
                source = f"the {env_name} environment variable"
            message = (
                f"Customer.io {literal.label or label} is hard-coded"
                f" ({mask_secret(literal.value)}); read it from {source} and"
                " rotate the key, because it stays in the version control history"
                f" (not fixed: {literal.not_fixed})"
            )
            return context.finding(self, literal.node, message, secrets=secrets)
        if f"{service}:{env_name}" in shared:
            # One variable cannot hold the keys of two workspaces.
            message = (
                f"Customer.io {label} is hard-coded ({mask_secret(literal.value)}); read"
                " it from an environment variable of its own and rotate the key,"
                " because it stays in the version control history (the project"
                f" hard-codes other keys that would also be read from {env_name})"
            )
            return context.finding(self, literal.node, message, secrets=secrets)
        message = (
            f"Customer.io {label} is hard-coded ({mask_secret(literal.value)}); read it"
            f" from the {env_name} environment variable and rotate the key, because it"
            " stays in the version control history"
        )
        fix = self._fix(context, literal, env_name)
        if isinstance(fix, str):
            message += f" (not fixed: {fix})"
            fix = None
        elif literal.scheme_default is None and literal.settings_read is None:
            others = [other for other in literals if other is not literal]
            fix = _without_secret_directive(
                context,
                literal,
                fix,
                others,
                lambda other: self._gets_fix(context, other),
            )
        return context.finding(self, literal.node, message, fix=fix, secrets=secrets)

    @staticmethod
    def _gets_fix(context: FileContext, literal: _Literal) -> bool:
        """Tell whether `_finding` plans a fix for a key, before it checks the name `os`."""
        if literal.not_fixed is not None:
            return False
        project, env, root = context.project, context.config.env, context.config.root
        service = service_of(project, context.path, root)
        env_name = _variable_for(project, env, literal, service, root)
        shared, service_lookups = project.shared(
            "CIO101:shared", lambda index: _shared_variables(index, env, root)
        )
        lookups.record(service_lookups)
        return f"{service}:{env_name}" not in shared

    @staticmethod
    def _fix(context: FileContext, literal: _Literal, env_name: str) -> Fix | str:
        """Return the fix, or why there is none (what else the name `os` means) and what to do."""
        scheme = literal.scheme_default
        if scheme is not None:
            # Reads without a default of their own raise once the scheme has none.
            return Fix(
                safety=FixSafety.SAFE,
                replacements={scheme.entry: without_scheme_default(scheme)},
                description=(
                    f"drop the scheme's default, so that a missing {env_name}"
                    " raises ImproperlyConfigured"
                ),
            )
        read = literal.settings_read
        if read is not None:
            # The library keeps reading the variable and raises without it.
            return Fix(
                safety=FixSafety.SAFE,
                replacements={literal.node: without_default(read)},
                description=(
                    f"drop the default, so that a missing {env_name} raises"
                    f" {read.library.missing_error}"
                ),
            )

        # `from os import environ` is reused as it is; otherwise `os` is
        # imported unless that name means something else in the module.
        # Either import must run before the key is read.
        environ = context.existing_import("os.environ", literal.node)
        imports: tuple[AddImport, ...] = ()
        if environ is None:
            os_import = context.import_at(literal.node, "os")
            if os_import is None:
                conflict = context.import_conflict(literal.node, "os")
                assert conflict is not None, "import_at gives None only for a conflict"
                if context.imports_module_around(literal.node, "os"):
                    return (
                        f"{conflict}, so import os above this code, outside any block"
                    )
                return (
                    f"{conflict}, so import os under another name and read"
                    f" {env_name} by hand"
                )
            environ = f"{os_import.local}.environ"
            imports = os_import.imports

        # A literal keeps its parentheses; `os.getenv("X", "key")` becomes `os.environ["X"]`.
        replacement = cst.parse_expression(f'{environ}["{env_name}"]')
        replacement = replacement.with_changes(
            lpar=literal.node.lpar, rpar=literal.node.rpar
        )
        return Fix(
            safety=FixSafety.SAFE,
            replacements={literal.node: replacement},
            imports=imports,
            description=f"read the key from {env_name}",
        )


def _reported_literals(context: FileContext) -> list[_Literal]:
    """Return the keys that CIO101 reports in a file, computed once per file and project index.

    CIO601 reads them too. `check_file` may attach another project index
    to a context that `collect` used, so a list computed for another
    index is not reused.
    """
    project, literals = context.shared(
        "CIO101:literals",
        lambda file: (file.project, HardcodedCredential()._unique_literals(file)),
    )
    if project is not context.project:
        return HardcodedCredential()._unique_literals(context)
    return literals


def reads_key_from_environment(context: FileContext, node: cst.CSTNode) -> bool:
    """Tell whether CIO101 reports the hard-coded key `node` with a fix that reads the environment.

    The caller checks whether the run includes CIO101 and whether a noqa
    comment silences it. A key whose fix is withheld because the module
    binds the name `os` to something else counts too.
    """
    if context.in_test_code:
        return False
    for literal in _reported_literals(context):
        if literal.node is node:
            return HardcodedCredential._gets_fix(context, literal)
    return False


def _without_secret_directive(
    context: FileContext,
    literal: _Literal,
    fix: Fix,
    others: list[_Literal],
    gets_fix: Callable[[_Literal], bool],
) -> Fix:
    """Return the fix, also dropping a `# noqa: S106` or `# nosec` that silenced the key.

    The comment ends the key's line: the line of an argument or item of
    its own, or a statement of one line. A statement may contain other
    keys of `others`, and the comment stays while one of them gets no fix.
    """
    if not context.shared(
        "secret directives", lambda file: mentions_secret_directive(file.source.text)
    ):
        return fix
    line_end = _secret_directive_after(context, literal.node)
    if line_end is None:
        return fix
    whitespace, statement = line_end
    if statement is not None:
        for other in others:
            inside = any(node is statement for node in context.ancestors(other.node))
            if inside and not gets_fix(other):
                return fix
    comment = whitespace.comment
    assert comment is not None
    without = whitespace.with_changes(whitespace=cst.SimpleWhitespace(""), comment=None)
    return dataclasses.replace(
        fix,
        replacements={**fix.replacements, whitespace: without},
        dropped_comments=(comment.value,),
    )


def _secret_directive_after(
    context: FileContext, node: cst.CSTNode
) -> tuple[cst.TrailingWhitespace, cst.SimpleStatementLine | None] | None:
    """Return the whitespace that ends the key's line if its comment silences key checks.

    The second item is the statement when the line is a whole statement,
    because other keys may share it. It is None for an argument or item
    on a line of its own.
    """
    parent = context.parent(node)
    if isinstance(parent, (cst.Arg, cst.DictElement, cst.Element)):
        after = (
            [parent.comma.whitespace_after]
            if isinstance(parent.comma, cst.Comma)
            else []
        )
        if isinstance(parent, cst.Arg):
            after.append(parent.whitespace_after_arg)
        for whitespace in after:
            if not isinstance(whitespace, cst.ParenthesizedWhitespace):
                continue
            comment = whitespace.first_line.comment
            if comment is not None and silences_secret_only(comment.value):
                return whitespace.first_line, None
    statement = next(
        (
            ancestor
            for ancestor in context.ancestors(node)
            if isinstance(ancestor, cst.BaseStatement)
        ),
        None,
    )
    comment = line_pragma(statement) if statement is not None else None
    if comment is None or not silences_secret_only(comment.value):
        return None
    assert isinstance(statement, cst.SimpleStatementLine)
    return statement.trailing_whitespace, statement


def _settings_default(
    index: FileIndex, call: cst.Call, role: str, scope: Scope
) -> _Literal | None:
    """Return the key that `env("X", default="key")` or decouple's `config` falls back to."""
    read = settings_read(index, call, scope)
    if read is None:
        return None
    default = constant_value(read.default.value)
    if not looks_like_secret(default):
        return None
    assert isinstance(default, str)
    return _Literal(
        call,
        default,
        role,
        read.variable,
        not_fixed=read.not_fixed,
        settings_read=read,
    )


def _scheme_keys(index: FileIndex, call: cst.Call, scope: Scope) -> Iterator[_Literal]:
    """Yield the keys in a scheme: `environ.Env(CUSTOMERIO_API_KEY=(str, "key"))`."""
    for scheme in scheme_defaults(index, call, scope):
        if not CREDENTIAL_NAME.search(scheme.variable):
            continue
        default = constant_value(scheme.default)
        if not looks_like_secret(default):
            continue
        assert isinstance(default, str)
        yield _Literal(
            scheme.default,
            default,
            role_from_name(scheme.variable),
            scheme.variable,
            not_fixed=scheme.not_fixed,
            role_name=scheme.variable,
            scheme_default=scheme,
        )


def _dict_entry(
    index: FileIndex, value: cst.BaseExpression, scope: Scope
) -> cst.BaseExpression | None:
    """Return the value of `CONFIG["KEY"]` when CONFIG is a dict literal assigned once."""
    if not isinstance(value, cst.Subscript) or not isinstance(value.value, cst.Name):
        return None
    if len(value.slice) != 1 or not isinstance(value.slice[0].slice, cst.Index):
        return None
    key = constant_value(value.slice[0].slice.value)
    assignments = index.assignments_of(value.value.value, scope)
    if not isinstance(key, str) or len(assignments) != 1:
        return None
    mapping = assignments[0].value
    if not isinstance(mapping, cst.Dict):
        return None
    for element in mapping.elements:
        if isinstance(element, cst.DictElement) and constant_value(element.key) == key:
            return element.value
    return None


def _setting_writes(index: FileIndex) -> list[_SettingWrite]:
    """Return the settings that the module writes into mappings and onto objects.

    They are `app.config["X"] = value`, `settings.X = value`,
    `app.config.setdefault("X", value)`, and the keywords and dict entries
    of `app.config.update(...)` or `from_mapping(...)`. A call that also
    sets `TESTING=True` configures Flask for tests, so its keys are taken
    for fakes and it is left out.
    """
    writes = []
    for target, value in index.item_targets:
        name = _item_key(target)
        if name is None:
            continue
        sets_environment = index.qualified_name(target.value) == "os.environ"
        writes.append(
            _SettingWrite(
                dotted_name(target.value), name, value, True, sets_environment
            )
        )
    for assignment in index.attribute_assignments:
        if assignment.value is None:
            continue
        container, _, name = assignment.name.rpartition(".")
        writes.append(_SettingWrite(container, name, assignment.value, False))
    for method in MAPPING_WRITERS:
        for node in index.names.get(method, []):
            writes.extend(_mapping_writes(index, node))
    for node in index.names.get("setdefault", []):
        write = _setdefault_write(index, node)
        if write is not None:
            writes.append(write)
    return writes


def _item_key(subscript: cst.Subscript) -> str | None:
    """Return the key of `container["KEY"]` when it is a string constant."""
    if len(subscript.slice) != 1 or type(subscript.slice[0].slice) is not cst.Index:
        return None
    key = constant_value(subscript.slice[0].slice.value)
    return key if isinstance(key, str) else None


def _mapping_writes(index: FileIndex, method: cst.Name) -> list[_SettingWrite]:
    """Return the items of `container.update(X="key")` or `update({"X": "key"})`."""
    call = _method_call(index, method)
    if call is None:
        return []
    attribute = call.func
    assert type(attribute) is cst.Attribute
    items: list[tuple[str, cst.BaseExpression]] = []
    for position, argument in enumerate(call.args):
        if argument.keyword is not None:
            items.append((argument.keyword.value, argument.value))
        elif position == 0 and not argument.star and type(argument.value) is cst.Dict:
            for element in argument.value.elements:
                key = (
                    constant_value(element.key)
                    if type(element) is cst.DictElement
                    else None
                )
                if isinstance(key, str):
                    items.append((key, element.value))
    if any(name == "TESTING" and _is_true(value) for name, value in items):
        return []
    container = dotted_name(attribute.value)
    sets_environment = index.qualified_name(attribute.value) == "os.environ"
    return [
        _SettingWrite(container, name, value, True, sets_environment)
        for name, value in items
    ]


def _setdefault_write(index: FileIndex, method: cst.Name) -> _SettingWrite | None:
    """Return the item of `container.setdefault("X", "key")`, or None for another call."""
    call = _method_call(index, method)
    if call is None or len(call.args) != 2:
        return None
    if any(argument.star or argument.keyword is not None for argument in call.args):
        return None
    name = constant_value(call.args[0].value)
    if not isinstance(name, str):
        return None
    assert type(call.func) is cst.Attribute
    container = call.func.value
    sets_environment = index.qualified_name(container) == "os.environ"
    return _SettingWrite(
        dotted_name(container), name, call.args[1].value, True, sets_environment
    )


def _method_call(index: FileIndex, method: cst.Name) -> cst.Call | None:
    """Return the call `container.method(...)` whose method name is `method`, or None."""
    attribute = index.parents.get(method)
    if type(attribute) is not cst.Attribute or attribute.attr is not method:
        return None
    call = index.parents.get(attribute)
    if type(call) is not cst.Call or call.func is not attribute:
        return None
    return call


def _is_true(value: cst.BaseExpression) -> bool:
    return type(value) is cst.Name and value.value == "True"


def _written_setting(
    value: cst.BaseExpression, writes: list[_SettingWrite]
) -> _SettingWrite | None:
    """Return the one write of the setting that `app.config["X"]` or `settings.X` reads.

    The container must be spelled the same in both places, so a read
    through `current_app.config` in a view is not matched to the write.
    NOTE: a client in another module that reads the item (`from shop
    import app`, then `app.config["X"]`) is not followed, so such a key is
    reported only when its name is a Customer.io setting name.
    """
    if type(value) is cst.Subscript:
        item = True
        container = dotted_name(value.value)
        name = _item_key(value)
    elif type(value) is cst.Attribute:
        item = False
        container = dotted_name(value.value)
        name = value.attr.value
    else:
        return None
    if container is None or name is None or container in ("self", "cls"):
        # `self` in one class is not `self` in another.
        return None
    found = [
        write
        for write in writes
        if write.item == item and write.container == container and write.name == name
    ]
    return found[0] if len(found) == 1 else None


def _written_literal(write: _SettingWrite, role: str) -> _Literal | None:
    """Return the key that a setting write gives, read from the setting's own name once fixed."""
    value = constant_value(write.value)
    if not looks_like_secret(value):
        return None
    assert isinstance(value, str)
    not_fixed = SETS_ENVIRONMENT if write.sets_environment else None
    return _Literal(
        write.value, value, role, _own_env_name(write.name), not_fixed=not_fixed
    )


def _customerio_name(name: str) -> bool:
    """Tell whether a class name names Customer.io: `CustomerIOSettings`, `CioConfig`.

    NOTE: only files that pass the prefilter are parsed, so a module whose
    only Customer.io word is a class name such as `CioConfig` is skipped,
    unless a client of another file reads one of the class's fields.
    """
    words = "_".join(word.lower() for word in NAME_WORD.findall(name))
    return CUSTOMERIO_NAME.search(words) is not None


# A pydantic settings class reads each field from the environment itself, by
# a name that its configuration decides (`env_prefix`, `alias`).
# pydantic 1 defines `BaseSettings` in `pydantic.env_settings` (also as
# `pydantic.v1` in pydantic 2), and pydantic 2 moved it to pydantic-settings.
SETTINGS_BASES = frozenset(
    {
        "pydantic.BaseSettings",
        "pydantic.env_settings.BaseSettings",
        "pydantic.v1.BaseSettings",
        "pydantic.v1.env_settings.BaseSettings",
        "pydantic_settings.BaseSettings",
        "pydantic_settings.main.BaseSettings",
    }
)
SEVERAL_ROLES = (
    "clients of different APIs read it, so give each its own key; the Track API"
    " and the App API take different keys"
)


def _role_guessed(literal: _Literal) -> bool:
    """Tell whether a key's role is only the default for a name that says no API."""
    return literal.role_name is not None and not _states_api(literal.role_name)


def _several_roles_reason(first: _Literal, other: _Literal) -> str:
    """Return why a key that two places give different roles gets no fix."""
    named, read = (first, other) if first.role_name is not None else (other, first)
    if named.role_name is None:
        return SEVERAL_ROLES
    if read.role_name is None:
        reader = f"a client reads it as the {ROLE_LABELS[read.role]}"
    else:
        reader = f"the name {read.role_name} says {ROLE_LABELS[read.role]}"
    return (
        f"the name {named.role_name} says {ROLE_LABELS[named.role]}, but {reader},"
        " so rename the setting or give the client the right key"
    )


class SettingsField:
    """The reason a field of a pydantic settings class gets no fix.

    The message states the declaration that makes the class read the field
    from the environment, which depends on the field.
    """


SETTINGS_FIELD = SettingsField()


@dataclass(frozen=True)
class UnknownBase:
    """A base class that cio-fix cannot read, which may read its subclasses' fields.

    `description` introduces it ("its base class AppSettings is defined in
    conf.appbase") and `name` refers to it afterwards ("AppSettings").
    """

    description: str
    name: str


class UnknownBaseReason(str):
    """The reason a class field's key gets no fix: a base class that cio-fix cannot read.

    The finding's message names the variable to read, which this reason
    leaves to it.
    """


def _unknown_base(base: str, module: str | None) -> UnknownBase:
    """Describe a base class defined in `module`, or outside this module when None."""
    where = f"in {module}" if module else "outside this module"
    return UnknownBase(f"its base class {base} is defined {where}", base)


def _unresolved_base(expression: str) -> UnknownBase:
    """Describe a base class written as an expression, such as `make_base()`."""
    return UnknownBase(f"its base class is the expression {expression}", "that class")


def _field_not_fixed(
    index: FileIndex,
    reason: str | SettingsField | UnknownBase | None,
    assignment: Assignment,
) -> str | None:
    """Return the reason a key in this field gets no fix as the message states it.

    A pydantic settings class reads a field from the environment once the
    field is an annotation without a value, such as `site_id: str`. Deleting
    the line instead would remove the field. A plain base class that
    defines the key itself still gives it to a subclass whose line is only
    an annotation, because an annotation binds no class attribute. So that
    declaration is the step for a base class of either kind.
    """
    if reason is None or isinstance(reason, str):
        return reason
    declaration = f"`{assignment.name}: {_field_type(index, assignment)}`"
    if isinstance(reason, SettingsField):
        return (
            "a field of a pydantic settings class, which reads it from the"
            f" environment once this line is {declaration}, without a default"
        )
    return UnknownBaseReason(
        f"{reason.description}, so cio-fix cannot tell whether {reason.name} reads"
        " its fields from the environment itself, as a pydantic settings class"
        f" does. If it does, or if it defines {assignment.name} itself, change"
        f" this line to {declaration}, else read the variable here by hand"
    )


def _field_type(index: FileIndex, assignment: Assignment) -> str:
    """Return the type of a class field as the source writes it: its annotation, else `str`."""
    statement = assignment.statement
    if isinstance(statement, cst.AnnAssign):
        return cst.Module([]).code_for_node(statement.annotation.annotation)
    value = assignment.value
    assert value is not None
    if _secret_wrapped(index, value) is not value:
        # `track_api_key = SecretStr("...")`: the wrapper is the type.
        assert isinstance(value, cst.Call)
        return cst.Module([]).code_for_node(value.func)
    return "str"


AMBIGUOUS_KEY = (
    "neither the field nor the class name says whether it holds the Track API key"
    " or the App API key"
)


def _field_role(name: str, class_name: str) -> str | None:
    """Return the role of a credential field of a Customer.io class, None when unsure.

    `site_id`, `track_api_key` and `app_key` name it themselves. A plain
    `api_key` or `key` takes it from the class name (`CioAppConfig`).
    """
    if re.search(r"site|track|app|write", name, re.IGNORECASE):
        return role_from_name(name)
    words = {word.lower() for word in NAME_WORD.findall(class_name)}
    if "app" in words:
        return "app_api_key"
    if words & {"track", "tracking"}:
        return "track_api_key"
    return None


def class_field(
    index: FileIndex, value: cst.BaseExpression
) -> tuple[ClassInfo, Assignment] | None:
    """Return the class and the assignment of `Config.key`, for a class of this module."""
    if not isinstance(value, cst.Attribute) or not isinstance(value.value, cst.Name):
        return None
    classes = _module_classes(index).get(value.value.value, [])
    if len(classes) != 1 or classes[0].scope is None:
        return None
    assignments = classes[0].scope.assignments.get(value.attr.value, [])
    if len(assignments) != 1 or assignments[0].value is None:
        return None
    return classes[0], assignments[0]


def _module_classes(index: FileIndex) -> dict[str, list[ClassInfo]]:
    classes: dict[str, list[ClassInfo]] = {}
    for info in index.classes:
        if info.scope is not None and info.scope.parent is index.module_scope:
            classes.setdefault(info.name, []).append(info)
    return classes


def _class_field_not_fixed(
    index: FileIndex, info: ClassInfo, seen: frozenset[int] = frozenset()
) -> SettingsField | UnknownBase | None:
    """Return why a key in a field of the class gets no fix, or None when it can get one.

    A pydantic settings class reads the field from the environment once its
    default is gone. That is also true through base classes of this module, and
    a base class defined elsewhere may be one.
    """
    if len(info.bases) != len(info.node.bases):
        # A base such as `Generic[T]` or `make_base()`.
        unnamed = [
            base.value
            for base in info.node.bases
            if not isinstance(base.value, (cst.Name, cst.Attribute))
        ]
        expression = cst.Module([]).code_for_node(unnamed[0]) if unnamed else "?"
        return _unresolved_base(expression)
    classes = _module_classes(index)
    for base in info.bases:
        # A base imported under another name (`BaseSettings as BS`) counts too.
        if (
            base.rpartition(".")[2] == "BaseSettings"
            or index.qualify(base) in SETTINGS_BASES
        ):
            return SETTINGS_FIELD
        local = classes.get(base, [])
        if len(local) == 1 and id(local[0]) not in seen:
            reason = _class_field_not_fixed(index, local[0], seen | {id(info)})
            if reason is not None:
                return reason
            continue
        qualified = index.qualify(base) or base
        if (
            qualified == "object"
            or qualified.partition(".")[0] in sys.stdlib_module_names
        ):
            continue
        module = index.qualify(base)
        return _unknown_base(base, module.rpartition(".")[0] if module else None)
    return None


# pydantic's wrapper that keeps a value out of logs and reprs.
SECRET_WRAPPERS = frozenset(
    {"pydantic.SecretStr", "pydantic.types.SecretStr", "pydantic.v1.SecretStr"}
)


def _secret_wrapped(index: FileIndex, value: cst.BaseExpression) -> cst.BaseExpression:
    """Return the literal that `SecretStr("...")` wraps, else `value` itself."""
    if (
        isinstance(value, cst.Call)
        and len(value.args) == 1
        and not value.args[0].star
        and value.args[0].keyword is None
        and index.qualified_name(value.func) in SECRET_WRAPPERS
    ):
        return value.args[0].value
    return value


def _own_env_name(name: str) -> str | None:
    """Use a credential variable's own name as its environment variable: `CIO_SITE_ID`."""
    if CREDENTIAL_NAME.search(name) and name.upper().isidentifier():
        return name.upper().lstrip("_")
    return None
