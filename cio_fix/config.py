"""`[tool.cio-fix]` in pyproject.toml, merged with the command-line options."""

from __future__ import annotations

import ast
import json
import keyword
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cio_fix.files import (
    exists_or_false,
    is_folder,
    is_regular_file,
    read_regular_file,
    resolve_or_absolute,
)
from cio_fix.modules import folders_up_to
from cio_fix.pr.settings import PrSettings, parse_pr_table

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_EXCLUDES = (
    ".git",
    ".hg",
    ".venv",
    "venv",
    "build",
    "dist",
    "node_modules",
    ".tox",
    ".nox",
    "__pycache__",
    ".cio_fix_cache",
)


# Every rule code, so that selectors can be checked without importing the
# rules (and libcst). A test keeps this list equal to the rule registry.
RULE_CODES = (
    "CIO101",
    "CIO102",
    "CIO103",
    "CIO201",
    "CIO202",
    "CIO203",
    "CIO301",
    "CIO302",
    "CIO303",
    "CIO304",
    "CIO401",
    "CIO402",
    "CIO501",
    "CIO502",
    "CIO503",
    "CIO601",
    "CIO602",
    "CIO603",
    "CIO701",
)


class ConfigError(Exception):
    """An invalid configuration file or option; the CLI exits with status 2.

    `path` is the configuration file at fault, or None for a command-line
    option. The message of an error in a file starts with the file's path.
    """

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path

    @property
    def reason(self) -> str:
        """Return the message without the configuration file's path in front."""
        message = str(self)
        prefix = f"{self.path}: "
        if self.path is not None and message.startswith(prefix):
            return message[len(prefix) :]
        return message


@dataclass(frozen=True)
class EnvNames:
    """Environment variables that CIO101 fixes read keys from."""

    site_id: str = "CUSTOMERIO_SITE_ID"
    track_api_key: str = "CUSTOMERIO_TRACK_API_KEY"
    app_api_key: str = "CUSTOMERIO_APP_API_KEY"
    write_key: str = "CUSTOMERIO_WRITE_KEY"


@dataclass(frozen=True)
class Config:
    root: Path = field(default_factory=Path.cwd)
    config_path: Path | None = None
    select: tuple[str, ...] = ("ALL",)
    # `--extend-select`: rules run besides the configuration's `select`.
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    # `--ignore`: rules left out besides the configuration's `ignore`.
    extend_ignore: tuple[str, ...] = ()
    # Where the search for the declared customerio and Python versions
    # stops, when not at the root. It is the top of the git work tree, the
    # root of the project that contains this one, or outside git the top of
    # the file system.
    version_search_root: Path | None = None
    exclude: tuple[str, ...] = DEFAULT_EXCLUDES
    extend_exclude: tuple[str, ...] = ()
    sdk_version: int | None = None
    # The lowest Python (major, minor) that fixed code must run on, set
    # with `target-version = "py38"`; None means the one the project declares.
    target_version: tuple[int, int] | None = None
    env: EnvNames = EnvNames()
    client_names: tuple[str, ...] = ()
    client_modules: tuple[str, ...] = ()
    unsafe_fixes: bool = False
    # (gitignore-style pattern, rule selectors) pairs: the rules not
    # reported in the files a pattern matches, relative to the root.
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # How event names are written: "snake_case" (order_shipped) or "dotted"
    # (order.shipped, whose segments are snake_case).
    event_name_style: str = "snake_case"
    # The attribute that contains a person's customer id on the objects the
    # project identifies (`user.id`): CIO202 uses it in place of `user.email`
    # and CIO401 derives `user.email` from `user.id`.
    customer_id_attribute: str = "id"
    # Track API requests a second that the CIO603 throttle allows.
    throttle_rate: float = 100.0
    # Folders, relative to the project root, that CIO503 searches for the
    # email templates a call names. The calling file's folder and its
    # parents' `templates` folders are searched too.
    template_folders: tuple[str, ...] = ("templates",)
    # `package.module.function` that CIO304 fixes call instead of adding a
    # helper to every module: it takes (method, *args, **kwargs).
    background_helper: str | None = None
    # Processes that check files: this one and jobs - 1 workers. None means
    # one per available CPU, and 1 checks every file in this process.
    jobs: int | None = None
    # Whether results are read from and written to `.cio_fix_cache`.
    cache: bool = True
    # `--apply`: the findings that the fixes leave are located in the file as
    # written, which costs one more check of each fixed file. A dry run
    # reports them in the file as it is. The cache keeps the two apart.
    fixed_positions: bool = False
    # [tool.cio-fix.pr]: the bot pull request of `--apply --pr`.
    pr: PrSettings = field(default_factory=PrSettings)
    # Whether a PATH is the project root or above it. A run over part of
    # the project (a pre-commit hook) still checks all of it, so that facts
    # from other files count, and reports and fixes only the named files.
    whole_project: bool = True
    # `--force-exclude`: whether files named on the command line are left
    # out when a walk of their folder would leave them out.
    force_exclude: bool = False
    # `--pr`: whether only the files that git tracks are checked. The bot
    # fixes the base commit, where an untracked file, such as one that only
    # the user's branch ignores, is no part of the code it may commit.
    tracked_only: bool = False

    # The fields that the command line set: a nested project's own
    # configuration takes them too.
    overrides: tuple[str, ...] = ()

    @property
    def declarations_root(self) -> Path:
        """Return the highest folder that may declare the customerio version."""
        return self.version_search_root or self.root

    @property
    def selected(self) -> tuple[str, ...]:
        """Return the selectors of the rules to run: configured and on the command line."""
        return (*self.select, *self.extend_select)

    @property
    def ignored(self) -> tuple[str, ...]:
        """Return the selectors of the rules left out: configured and on the command line."""
        return (*self.ignore, *self.extend_ignore)

    def with_options(self, **options: Any) -> Config:
        """Return a copy with every option that is not None replaced."""
        given = {name: value for name, value in options.items() if value is not None}
        return replace(self, **given)

    def with_overrides(self, **options: Any) -> Config:
        """Return a copy with the command line's options that are not None.

        Unlike `with_options`, the options also apply to the nested
        projects of the run (`project_config`).
        """
        given = {name: value for name, value in options.items() if value is not None}
        overrides = tuple(sorted({*self.overrides, *given}))
        return replace(self, **given, overrides=overrides)


def selected_codes(
    codes: Iterable[str], select: Iterable[str], ignore: Iterable[str]
) -> list[str]:
    """Return the codes that a selector of `select` matches and none of `ignore` does."""
    select, ignore = tuple(select), tuple(ignore)
    return [
        code
        for code in codes
        if any(matches_selector(code, selector) for selector in select)
        and not any(matches_selector(code, selector) for selector in ignore)
    ]


def matches_selector(code: str, selector: str) -> bool:
    return selector == "ALL" or code.startswith(selector)


def validate_selectors(selectors: tuple[str, ...], option: str) -> None:
    """Reject a selector that matches no rule code: `CIO9` is a typo, not an empty set."""
    for selector in selectors:
        if not any(matches_selector(code, selector) for code in RULE_CODES):
            raise ConfigError(
                f"unknown rule selector {selector!r} in {option};"
                " run `cio-fix --list-rules` for the codes"
            )


def _selectors(key: str, value: Any, path: Path) -> tuple[str, ...]:
    selectors = tuple(
        selector.strip().upper() for selector in _string_list(key, value, path)
    )
    validate_selectors(selectors, f"{key} of [tool.cio-fix] in {path}")
    return selectors


def _string_list(key: str, value: Any, path: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{path}: [tool.cio-fix] {key} must be a list of strings")
    return tuple(value)


def _per_file_ignores(
    key: str, value: Any, path: Path
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise ConfigError(
            f"{path}: [tool.cio-fix] {key} must be a table such as"
            ' {"tests/**" = ["CIO101"]}'
        )
    pairs = []
    for pattern, selectors in value.items():
        if not pattern.strip():
            raise ConfigError(f"{path}: [tool.cio-fix] {key} has an empty pattern")
        pairs.append(
            (
                _pattern(key, pattern, path),
                _selectors(f"{key}.{pattern!r}", selectors, path),
            )
        )
    return tuple(pairs)


def _patterns(key: str, value: Any, path: Path) -> tuple[str, ...]:
    return tuple(
        _pattern(key, pattern, path) for pattern in _string_list(key, value, path)
    )


# Alternatives in braces, `{jobs,api}`, which some glob syntaxes expand but
# gitignore patterns, and so pathspec, read as literal text. Doubled braces
# are a template's folder name (`{{cookiecutter.name}}`), which is literal.
_BRACE_ALTERNATIVES = re.compile(r"(?<![\\{])\{([^{}]*,[^{}]*)\}(?!\})")


def _pattern(key: str, pattern: str, path: Path) -> str:
    """Check a gitignore-style pattern of `key` and anchor a leading `./` at the project root.

    `./scripts/*` means `scripts/*` in the folder of the configuration
    file, the project root. No gitignore pattern that starts with `./`
    matches a path, so the pattern becomes `/scripts/*`. A pattern that
    can match no file raises ConfigError, because it would silently
    exclude or silence nothing.
    """
    negation = "!" if pattern.startswith("!") else ""
    body = pattern[len(negation) :]
    anchored = body == "." or body.startswith("./")
    while body.startswith("./"):
        body = body[2:].lstrip("/")
    body = "" if body == "." else body
    problem = _pattern_problem(pattern, body, anchored)
    if problem is not None:
        raise ConfigError(f"{path}: [tool.cio-fix] {key} pattern {pattern!r} {problem}")
    return negation + ("/" if anchored else "") + body


def _pattern_problem(pattern: str, body: str, anchored: bool) -> str | None:
    """Describe why `body`, the rest of `pattern` after `!` and `./`, can match no file."""
    if anchored and not body:
        return (
            "names the project root itself; name a file or folder below it,"
            ' or use "**" for every file'
        )
    if ".." in body.split("/"):
        return (
            "reaches outside the project root with `..`; patterns are relative to"
            " the folder of this file"
        )
    if _BRACE_ALTERNATIVES.search(body):
        alternatives = ", ".join(f'"{choice}"' for choice in _expand_braces(pattern))
        return (
            "uses braces, which gitignore patterns do not expand; write one"
            f" pattern for each alternative: {alternatives}"
        )
    return None


def _expand_braces(pattern: str) -> list[str]:
    """Expand the brace alternatives of `pattern` into one pattern for each."""
    match = _BRACE_ALTERNATIVES.search(pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [
        expanded
        for choice in match.group(1).split(",")
        for expanded in _expand_braces(head + choice + tail)
    ]


# A dotted name followed by items with a string literal key, in either quote:
# `current_app.extensions["customerio"]`.
_CLIENT_NAME = re.compile(
    r"(?P<dotted>[^\W\d]\w*(?:\.[^\W\d]\w*)*)"
    r"(?P<items>(?:\[(?:\"[^\"\\]*\"|'[^'\\]*')\])*)"
)
_CLIENT_NAME_ITEM = re.compile(r"\[(?:\"([^\"\\]*)\"|'([^'\\]*)')\]")


def _client_names(key: str, value: Any, path: Path) -> tuple[str, ...]:
    names = []
    for name in _string_list(key, value, path):
        match = _CLIENT_NAME.fullmatch(name.strip())
        if match is None:
            raise ConfigError(
                f"{path}: [tool.cio-fix] {key} entry {name!r} must be a variable"
                ' name such as "tracker" or "settings.tracker", or an item of one'
                " with a string key, such as 'app.extensions[\"customerio\"]'"
            )
        # Written as cio-fix reads the code's items, in double quotes.
        items = "".join(
            f"[{json.dumps(double or single)}]"
            for double, single in _CLIENT_NAME_ITEM.findall(match.group("items"))
        )
        names.append(match.group("dotted") + items)
    return tuple(names)


def client_name_words(names: Iterable[str]) -> list[str]:
    """Return the words of the prefilter for `client-names`: each name without its items."""
    return [name.split("[", 1)[0] for name in names]


def _client_modules(key: str, value: Any, path: Path) -> tuple[str, ...]:
    modules = _string_list(key, value, path)
    for module in modules:
        if _is_module_name(module):
            continue
        # A file path such as "app/tracking.py" gets its module name as the example.
        dotted = module.removesuffix(".py").replace("/", ".")
        example = dotted if _is_module_name(dotted) else "app.tracking"
        raise ConfigError(
            f"{path}: [tool.cio-fix] {key} entry {module!r} is not a module name;"
            f' write a dotted module name such as "{example}"'
        )
    return modules


def _is_module_name(name: str) -> bool:
    return all(
        part.isidentifier() and not keyword.iskeyword(part) for part in name.split(".")
    )


def _sdk_version(key: str, value: Any, path: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in (1, 2, 3):
        # TOML spells booleans in lower case, as the user wrote them.
        written = str(value).lower() if isinstance(value, bool) else repr(value)
        message = (
            f"{path}: [tool.cio-fix] {key} must be the integer 1, 2 or 3; got {written}"
        )
        if isinstance(value, str) and value.strip() in ("1", "2", "3"):
            message += f" (write {key} = {value.strip()}, without quotes)"
        raise ConfigError(message)
    return value


def _target_version(key: str, value: Any, path: Path) -> tuple[int, int]:
    match = re.fullmatch(r"py3(\d+)", value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(
            f'{path}: [tool.cio-fix] {key} must be a Python version such as "py38",'
            f" as ruff writes it; got {value!r}"
        )
    return (3, int(match.group(1)))


def _boolean(key: str, value: Any, path: Path) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{path}: [tool.cio-fix] {key} must be true or false")
    return value


def _jobs(key: str, value: Any, path: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"{path}: [tool.cio-fix] {key} must be a whole number of at least 1"
        )
    return value


def _attribute_name(key: str, value: Any, path: Path) -> str:
    if (
        not isinstance(value, str)
        or not value.isidentifier()
        or keyword.iskeyword(value)
    ):
        raise ConfigError(
            f'{path}: [tool.cio-fix] {key} must be a Python attribute name such as "id"'
        )
    return value


def _positive_number(key: str, value: Any, path: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(
            f"{path}: [tool.cio-fix] {key} must be a number greater than 0"
        )
    if value == float("inf"):
        raise ConfigError(f"{path}: [tool.cio-fix] {key} must be a finite number")
    return float(value)


def _relative_folders(key: str, value: Any, path: Path) -> tuple[str, ...]:
    folders = _string_list(key, value, path)
    for folder in folders:
        if not folder or Path(folder).is_absolute() or ".." in Path(folder).parts:
            raise ConfigError(
                f"{path}: [tool.cio-fix] {key} entry {folder!r} must be a folder"
                " relative to the project root, without `..`"
            )
    return folders


def _env_names(key: str, value: Any, path: Path) -> EnvNames:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: [tool.cio-fix] {key} must be a table")
    known = {
        "site-id": "site_id",
        "track-api-key": "track_api_key",
        "app-api-key": "app_api_key",
        "write-key": "write_key",
    }
    names = {}
    for name, variable in value.items():
        if name not in known:
            raise ConfigError(
                f"{path}: unknown key {key}.{name} in [tool.cio-fix];"
                f" expected one of {', '.join(sorted(known))}"
            )
        if not isinstance(variable, str) or not variable.isidentifier():
            raise ConfigError(
                f"{path}: [tool.cio-fix] {key}.{name} must be an environment"
                " variable name"
            )
        names[known[name]] = variable
    return EnvNames(**names)


def _event_name_style(key: str, value: Any, path: Path) -> str:
    if value not in ("snake_case", "dotted"):
        raise ConfigError(
            f'{path}: [tool.cio-fix] {key} must be "snake_case" or "dotted", not {value!r}'
        )
    return value


def _qualified_function(key: str, value: Any, path: Path) -> str:
    parts = value.split(".") if isinstance(value, str) else []
    if len(parts) < 2 or not all(part.isidentifier() for part in parts):
        raise ConfigError(
            f"{path}: [tool.cio-fix] {key} must name a function with its module,"
            f' such as "shop.background.in_background"; got {value!r}'
        )
    return value


# Each key of [tool.cio-fix]: the Config field it sets and its validator.
SCHEMA: dict[str, tuple[str, Callable[[str, Any, Path], Any]]] = {
    "select": ("select", _selectors),
    "ignore": ("ignore", _selectors),
    "exclude": ("exclude", _patterns),
    "extend-exclude": ("extend_exclude", _patterns),
    "sdk-version": ("sdk_version", _sdk_version),
    "target-version": ("target_version", _target_version),
    "env": ("env", _env_names),
    "client-names": ("client_names", _client_names),
    "client-modules": ("client_modules", _client_modules),
    "unsafe-fixes": ("unsafe_fixes", _boolean),
    "per-file-ignores": ("per_file_ignores", _per_file_ignores),
    "event-name-style": ("event_name_style", _event_name_style),
    "customer-id-attribute": ("customer_id_attribute", _attribute_name),
    "throttle-rate": ("throttle_rate", _positive_number),
    "template-folders": ("template_folders", _relative_folders),
    "background-helper": ("background_helper", _qualified_function),
    "jobs": ("jobs", _jobs),
    "cache": ("cache", _boolean),
    "pr": ("pr", parse_pr_table),
}


def find_pyproject(start: Path) -> Path | None:
    """Return the pyproject.toml whose folder is the project root of `start`, if any.

    The nearest one at or above `start` with a `[tool.cio-fix]` table wins,
    so a package's own pyproject.toml inside a configured repository does
    not hide the repository's configuration. Without one, inside a git work
    tree it is the one at the top of the work tree (None when the top has
    none). A service's own pyproject.toml then does not cut the service off
    from the libraries of its repository, so a file or folder named on the
    command line gets the root of a run from the top. Outside git it is the
    nearest pyproject.toml. A folder that cannot be searched counts as
    holding neither file, so that the run can report `start` as unreadable.
    The search stops at the top of the work tree. A repository cloned into
    an ignored folder of another one is a project of its own, so the outer
    repository's settings (an exclude that matches all its files, a
    `select`) must not reach it.
    """
    start = resolve_or_absolute(start)
    folder = start if is_folder(start) else start.parent
    top = _work_tree_top(folder)
    searched = (
        folders_up_to(top, folder) if top is not None else [folder, *folder.parents]
    )
    nearest = None
    for candidate in searched:
        pyproject = candidate / "pyproject.toml"
        if is_regular_file(pyproject):
            if configures_cio_fix(pyproject):
                return pyproject
            nearest = nearest or pyproject
    if top is None:
        return nearest
    top_pyproject = top / "pyproject.toml"
    return top_pyproject if is_regular_file(top_pyproject) else None


def _work_tree_top(folder: Path) -> Path | None:
    """Return the top folder of the git work tree that contains `folder`, if any."""
    for candidate in (folder, *folder.parents):
        if exists_or_false(candidate / ".git"):
            return candidate
    return None


def _declarations_top(folder: Path) -> Path:
    """Return the highest folder that may declare the versions of the code in `folder`.

    It is the top of the git work tree around `folder`. Outside git nothing
    marks where a project ends, so it is the top of the file system, as
    pyenv looks for `.python-version`. Otherwise `cio-fix shop/views.py`
    would miss the `setup.py` beside `shop` that a run from its folder reads,
    and write code for a newer Python than the one it declares.
    """
    top = _work_tree_top(folder)
    return top if top is not None else Path(folder.anchor)


def project_root(start: Path) -> Path:
    """Return the root of the project that `start` belongs to; see `load_config`."""
    pyproject = find_pyproject(start)
    if pyproject is not None:
        return pyproject.parent
    # Without a pyproject.toml, the root of a file or folder named through
    # a symbolic link is found from the link's own folder, not its target's.
    own_folder = is_folder(start) and not start.is_symlink()
    folder = resolve_or_absolute(start if own_folder else start.absolute().parent)
    return _work_tree_top(folder) or folder


def configures_cio_fix(pyproject: Path) -> bool:
    """Tell whether a pyproject.toml has a `[tool.cio-fix]` table, or a misspelt one.

    A file that cannot be parsed counts when it mentions cio-fix, and a
    regular file that cannot be read (mode 000) counts too, because its
    settings are unknown. Loading it then reports the problem, so that the
    files below it are not checked with another project's settings.
    """
    try:
        raw = read_regular_file(pyproject)
    except OSError:
        return is_regular_file(pyproject)
    if _MENTIONS_CIO_FIX.search(raw) is None:
        return False
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True
    tool = document.get("tool")
    if not isinstance(tool, dict):
        return False
    return "cio-fix" in tool or _misspelt_table(tool) is not None


# Text that `cio-fix` and every spelling that `_misspelt_table` finds
# contain, so that a file without it is not parsed.
_MENTIONS_CIO_FIX = re.compile(rb"cio[-_.\s\"']*fix", re.IGNORECASE)


def _misspelt_table(tool: dict[str, Any]) -> str | None:
    """Return the header of a table in `tool` that is `cio-fix` misspelt, if any.

    The spellings differ from `cio-fix` in case and separators only:
    `[tool.cio_fix]` (the import name), `[tool.ciofix]`, `[tool.cio.fix]`.
    """
    tables = [(key,) for key, value in tool.items() if isinstance(value, dict)]
    tables += [
        (key, inner_key)
        for key, value in tool.items()
        if isinstance(value, dict)
        for inner_key, inner_value in value.items()
        if isinstance(inner_value, dict)
    ]
    for parts in tables:
        normalised = re.sub(r"[-_.\s]", "", "".join(parts)).lower()
        if normalised == "ciofix" and parts != ("cio-fix",):
            return "[tool." + ".".join(_toml_key(part) for part in parts) + "]"
    return None


def _toml_key(key: str) -> str:
    """Write `key` as TOML writes it in a table header: bare, or quoted when it must be."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def load_config(start: Path) -> Config:
    """Read `[tool.cio-fix]` from the pyproject.toml of `start`'s project.

    The project root is the folder of the nearest pyproject.toml at or
    above `start` with a `[tool.cio-fix]` table. Without one it is the top
    of the git work tree around `start`. Outside git it is the folder of
    the nearest pyproject.toml, else `start` itself (or its folder, for a
    file). So `cio-fix app/` reads the repository's requirements and the
    modules `app/` imports, as a run from the top does. The customerio and
    Python versions are read up to the top of the work tree, or outside git
    of the file system.
    """
    pyproject = find_pyproject(start)
    if pyproject is None:
        root = project_root(start)
        return Config(root=root, version_search_root=_declarations_top(root))

    try:
        values = _read_values(pyproject)
    except ConfigError as error:
        # The JSON report names the file apart from the message.
        error.path = pyproject
        raise
    # A package of a repository reads the versions that the repository
    # declares when it declares none itself.
    values["version_search_root"] = _declarations_top(pyproject.parent)
    return Config(**values)


def _read_values(pyproject: Path) -> dict[str, Any]:
    """Read and check `[tool.cio-fix]` of `pyproject`: the Config fields it sets."""
    table = _read_tool_table(pyproject)
    values: dict[str, Any] = {"root": pyproject.parent, "config_path": pyproject}
    for key, value in table.items():
        if key not in SCHEMA:
            raise ConfigError(
                f"{pyproject}: unknown key {key!r} in [tool.cio-fix];"
                f" known keys: {', '.join(sorted(SCHEMA))}"
            )
        field_name, validate = SCHEMA[key]
        values[field_name] = validate(key, value, pyproject)
    if "background_helper" in values:
        _check_project_helper(values["background_helper"], pyproject)
    return values


def _check_project_helper(qualified: str, pyproject: Path) -> None:
    """Check that a `background-helper` in the project's own packages exists.

    Every CIO304 fix imports the helper, so a misspelt module or function
    would break the import of each fixed module. A helper whose top package
    is not a folder or module of the project comes from an installed
    package, which cio-fix cannot see without importing it.
    """
    module, _, name = qualified.rpartition(".")
    parts = module.split(".")
    for base in (pyproject.parent, pyproject.parent / "src"):
        if not ((base / parts[0]).is_dir() or (base / f"{parts[0]}.py").is_file()):
            continue
        stem = base.joinpath(*parts)
        for path in (stem.with_suffix(".py"), stem / "__init__.py"):
            if path.is_file():
                if not _binds_at_module_level(path, name):
                    raise ConfigError(
                        f"{pyproject}: [tool.cio-fix] background-helper names"
                        f" {qualified!r}, but {path} defines no {name!r}"
                    )
                return
        if stem.is_dir() or any(stem.parent.glob(f"{stem.name}.*")):
            # A namespace package or a compiled module: nothing to read.
            return
        raise ConfigError(
            f"{pyproject}: [tool.cio-fix] background-helper names {qualified!r},"
            f" but the project has no module {module!r} ({stem}.py)"
        )


def _binds_at_module_level(path: Path, name: str) -> bool:
    """Tell whether a module binds `name` outside its functions and classes.

    A file that cannot be read or parsed counts as binding it, so that
    the check stops a run only for a name that is certainly missing.
    """
    try:
        tree = ast.parse(read_regular_file(path))
    except (OSError, SyntaxError, ValueError, RecursionError):
        return True
    names = _bound_names(tree.body)
    # A star import or a module `__getattr__` may provide any name.
    return name in names or "*" in names or "__getattr__" in names


def _bound_names(nodes: Iterable[ast.AST]) -> set[str]:
    """Return the names that statements bind in their own scope.

    The bodies of `if`, `try`, `with` and loops count; the bodies of
    functions and classes do not, since they have scopes of their own.
    """
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add(alias.asname or alias.name.partition(".")[0])
        elif isinstance(node, (ast.stmt, ast.excepthandler, ast.match_case)):
            if isinstance(node, ast.ExceptHandler) and node.name:
                names.add(node.name)
            names |= _bound_names(ast.iter_child_nodes(node))
        else:
            for part in ast.walk(node):
                if isinstance(part, ast.Name) and isinstance(part.ctx, ast.Store):
                    names.add(part.id)
                elif isinstance(part, (ast.MatchAs, ast.MatchStar)) and part.name:
                    names.add(part.name)
                elif isinstance(part, ast.MatchMapping) and part.rest:
                    names.add(part.rest)
    return names


def _read_tool_table(pyproject: Path) -> dict[str, Any]:
    try:
        raw = read_regular_file(pyproject)
    except OSError as error:
        raise ConfigError(f"{pyproject}: cannot read: {error.strerror}") from error
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{pyproject}: not valid UTF-8 (byte {error.start}); TOML files must be"
            " UTF-8, so save it as UTF-8"
        ) from error
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            f"{pyproject}: invalid TOML: {error}; fix the file or run cio-fix"
            " from a folder without it"
        ) from error

    tool = document.get("tool", {})
    misspelt = _misspelt_table(tool) if isinstance(tool, dict) else None
    if misspelt is not None:
        # Otherwise its settings would be ignored silently.
        raise ConfigError(
            f"{pyproject}: unknown table {misspelt}; did you mean [tool.cio-fix]?"
            " cio-fix reads its settings from that table only"
        )
    table = tool.get("cio-fix", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.cio-fix] must be a table")
    return table


def project_config(config: Config, root: Path) -> Config:
    """Return the configuration of the project at `root` with the overrides of `config`."""
    nested = load_config(root)
    given = {name: getattr(config, name) for name in config.overrides}
    return nested.with_overrides(**given)


def runs_rules(config: Config) -> bool:
    """Tell whether select and ignore leave at least one rule to run."""
    return bool(selected_codes(RULE_CODES, config.selected, config.ignored))


def opts_out(config: Config) -> bool:
    """Tell whether the project's own `ignore` leaves every rule out, whatever is selected."""
    return not selected_codes(RULE_CODES, ("ALL",), config.ignore)
