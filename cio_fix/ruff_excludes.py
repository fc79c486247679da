"""The files that `ruff format` leaves out: those its `include` does not name, or its excludes do.

ruff reads these settings as globs in the syntax of the Rust crate
globset. A glob is joined to the folder of the file that sets it, and a
glob without a `/` is also kept as it is. Measured with ruff 0.17.6:
the exclude settings match each glob against a file's absolute path and
against its name. `exclude` and `extend-exclude` leave out a file and
every folder that they match, with all the files below it.
`format.exclude` is matched against the file only, but its `*` matches
`/` too, so `legacy/*` leaves out every file below the folder legacy.
ruff's walk formats only the files whose absolute path `include` or
`extend-include` matches, never their name alone: `include = ["app.py"]`
names the app.py beside the configuration only, while `*.py` matches
every path that ends in `.py`.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# ruff's `exclude` when a configuration does not set it, as
# `ruff check --show-settings` prints it for ruff 0.17.6. Each is a name,
# so it matches a file or a folder of that name anywhere.
RUFF_DEFAULT_EXCLUDES = frozenset(
    {
        ".bzr",
        ".direnv",
        ".eggs",
        ".git",
        ".git-rewrite",
        ".hg",
        ".ipynb_checkpoints",
        ".mypy_cache",
        ".nox",
        ".pants.d",
        ".pyenv",
        ".pytest_cache",
        ".pytype",
        ".ruff_cache",
        ".svn",
        ".tox",
        ".venv",
        ".vscode",
        "__pypackages__",
        "_build",
        "buck-out",
        "dist",
        "node_modules",
        "site-packages",
        "venv",
    }
)


# ruff's `include` when a configuration does not set it, as `ruff check
# --show-settings` prints it for ruff 0.17.6. Each matches a path in any
# folder, so none is joined to a folder. Of Python files they name `.py`
# and `.pyi` files only, so a walk skips `.pyw` files and scripts without
# a suffix.
RUFF_DEFAULT_INCLUDES = (
    "*.py",
    "*.pyi",
    "*.ipynb",
    "**/pyproject.toml",
    "**/ruff.toml",
    "**/.ruff.toml",
    "*.md",
)


class InvalidGlob(ValueError):
    """A glob that globset rejects, such as `[a` or `{a,b`."""


@dataclass(frozen=True)
class RuffExcludes:
    """The exclude patterns of one ruff configuration, `extend` followed."""

    # `exclude` and `extend-exclude`, which leave out files and folders.
    patterns: tuple[re.Pattern[str], ...] = ()
    # True while no file of the configuration sets `exclude`.
    default_names: bool = True
    # `format.exclude`, which leaves out files only.
    format_patterns: tuple[re.Pattern[str], ...] = ()
    # `include` and `extend-include`. None while no file of the
    # configuration sets either, so that ruff's default includes apply.
    include_patterns: tuple[re.Pattern[str], ...] | None = None
    # True when a setting is not a list of valid globs. ruff then rejects
    # the configuration and formats no file.
    invalid: bool = False

    def excludes_folder(self, path: str) -> bool:
        """Tell whether ruff's walk skips the folder at the absolute `path`."""
        if self.invalid:
            return True
        return self._matches(self.patterns, path)

    def excludes_file(self, path: str) -> bool:
        """Tell whether `ruff format` leaves out the file at the absolute `path`."""
        if self.invalid:
            return True
        if not self._includes(path):
            return True
        if self._matches(self.patterns, path):
            return True
        return _any_match(self.format_patterns, path, posixpath.basename(path))

    def _includes(self, path: str) -> bool:
        """Tell whether ruff's walk formats the file at the absolute `path`, if not excluded.

        ruff applies `include` only to the files that its walk finds, and
        formats a file named on its command line (as pre-commit names them)
        even when `include` leaves it out. Such a file is counted as left
        out too, because a walk over the project does not format it.
        """
        patterns = self.include_patterns
        if patterns is None:
            patterns = _default_include_patterns()
        return any(pattern.fullmatch(path) for pattern in patterns)

    def _matches(self, patterns: tuple[re.Pattern[str], ...], path: str) -> bool:
        name = posixpath.basename(path)
        if self.default_names and name in RUFF_DEFAULT_EXCLUDES:
            return True
        return _any_match(patterns, path, name)


def _any_match(patterns: Iterable[re.Pattern[str]], path: str, name: str) -> bool:
    # ruff matches every glob against both the path and the name.
    return any(
        pattern.fullmatch(path) or pattern.fullmatch(name) for pattern in patterns
    )


def ruff_excludes(chain: Iterable[tuple[Path, dict[str, Any]]]) -> RuffExcludes:
    """Read the include and exclude settings of a ruff configuration.

    `chain` yields each configuration file and its settings, the file
    itself first and then the files it `extend`s. The first file that sets
    `include`, `exclude` or `format.exclude` decides it, and
    `extend-include` and `extend-exclude` add up over all of them, as in
    ruff.
    """
    exclude: list[re.Pattern[str]] | None = None
    extend_exclude: list[re.Pattern[str]] = []
    format_exclude: list[re.Pattern[str]] | None = None
    include: list[re.Pattern[str]] | None = None
    extend_include: list[re.Pattern[str]] = []
    try:
        for path, settings in chain:
            folder = path.parent.as_posix()
            if exclude is None and "exclude" in settings:
                exclude = _compiled(settings["exclude"], folder)
            if "extend-exclude" in settings:
                extend_exclude += _compiled(settings["extend-exclude"], folder)
            if include is None and "include" in settings:
                include = _compiled(settings["include"], folder)
            if "extend-include" in settings:
                extend_include += _compiled(settings["extend-include"], folder)
            format_table = settings.get("format")
            if (
                format_exclude is None
                and isinstance(format_table, dict)
                and "exclude" in format_table
            ):
                format_exclude = _compiled(format_table["exclude"], folder)
    except InvalidGlob:
        return RuffExcludes(invalid=True)
    include_patterns = None
    if include is not None or extend_include:
        if include is None:
            include = list(_default_include_patterns())
        include_patterns = tuple(include + extend_include)
    return RuffExcludes(
        patterns=tuple(exclude or ()) + tuple(extend_exclude),
        default_names=exclude is None,
        format_patterns=tuple(format_exclude or ()),
        include_patterns=include_patterns,
    )


@functools.cache
def _default_include_patterns() -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(glob_regex(glob)) for glob in RUFF_DEFAULT_INCLUDES)


def _compiled(globs: Any, folder: str) -> list[re.Pattern[str]]:
    """Compile the globs of one setting, read from a file in the absolute `folder`.

    Raises InvalidGlob when the setting is not a list of valid globs.
    """
    if not isinstance(globs, list):
        raise InvalidGlob(f"not a list: {globs!r}")
    patterns = []
    for glob in globs:
        if not isinstance(glob, str):
            raise InvalidGlob(f"not a string: {glob!r}")
        # ruff removes the `.` and `..` parts and a final `/` of the joined path.
        joined = posixpath.normpath(posixpath.join(folder, glob))
        patterns.append(re.compile(glob_regex(joined)))
        if "/" not in glob:
            patterns.append(re.compile(glob_regex(glob)))
    return patterns


def glob_regex(glob: str) -> str:
    """Translate a glob into a regular expression that matches what globset matches.

    globset as ruff uses it: `*` and `?` match `/` too, `**/` at the start
    matches any folders or none, `/**/` one or more `/` with anything
    between, and `/**` at the end anything below. `[...]` and `[!...]` are
    classes, `{a,b}` is a choice, and a backslash escapes the next
    character. Raises InvalidGlob for a glob that globset rejects.
    """
    regex, end = _translate(glob, 0, in_choice=False)
    if end != len(glob):
        raise InvalidGlob(f"unexpected {glob[end]!r} in {glob!r}")
    return regex


def _translate(glob: str, start: int, in_choice: bool) -> tuple[str, int]:
    """Translate `glob` from `start` up to its end or, in a choice, to a `,` or `}`."""
    parts = []
    index = start
    while index < len(glob):
        char = glob[index]
        if in_choice and char in ",}":
            break
        if char == "*":
            part, index = _star(glob, index, start)
        elif char == "?":
            part, index = ".", index + 1
        elif char == "[":
            part, index = _class(glob, index)
        elif char == "{":
            part, index = _choice(glob, index, in_choice)
        elif char == "\\":
            if index + 1 == len(glob):
                raise InvalidGlob(f"dangling escape in {glob!r}")
            part, index = re.escape(glob[index + 1]), index + 2
        elif char == "}":
            raise InvalidGlob(f"unopened '}}' in {glob!r}")
        else:
            part, index = re.escape(char), index + 1
        parts.append(part)
    return "".join(parts), index


def _star(glob: str, index: int, start: int) -> tuple[str, int]:
    """Translate the `*` or `**` at `index`, in the glob or choice that begins at `start`."""
    if glob[index : index + 2] != "**":
        return ".*", index + 1
    after = index + 2
    at_end = after == len(glob)
    follows_separator = index > start and glob[index - 1] == "/"
    if index == start and (at_end or glob[after] == "/"):
        if at_end:
            return ".*", after
        return "(?:/?|.*/)", after + 1
    if follows_separator and at_end:
        # A `/**` at the end. Its `/` is already written as a literal.
        return ".*", after
    if follows_separator and glob[after] == "/":
        # A `/**/`, whose first `/` is already written as a literal.
        return "(?:|.*/)", after + 1
    # globset reads any other `**` as two `*`.
    return ".*", after


def _class(glob: str, index: int) -> tuple[str, int]:
    """Translate the character class that starts at `index`."""
    position = index + 1
    negated = position < len(glob) and glob[position] in "!^"
    if negated:
        position += 1
    members = []
    first = True
    while position < len(glob) and (glob[position] != "]" or first):
        char = glob[position]
        is_range = (
            position + 2 < len(glob)
            and glob[position + 1] == "-"
            and glob[position + 2] != "]"
        )
        if is_range:
            last = glob[position + 2]
            if last < char:
                raise InvalidGlob(f"invalid range {char}-{last} in {glob!r}")
            members.append(f"{re.escape(char)}-{re.escape(last)}")
            position += 3
        else:
            members.append(re.escape(char))
            position += 1
        first = False
    if position == len(glob):
        raise InvalidGlob(f"unclosed '[' in {glob!r}")
    return ("[^" if negated else "[") + "".join(members) + "]", position + 1


def _choice(glob: str, index: int, in_choice: bool) -> tuple[str, int]:
    """Translate the `{a,b}` choice that starts at `index`."""
    if in_choice:
        raise InvalidGlob(f"nested '{{' in {glob!r}")
    branches = []
    position = index
    while True:
        branch, position = _translate(glob, position + 1, in_choice=True)
        branches.append(branch)
        if position == len(glob):
            raise InvalidGlob(f"unclosed '{{' in {glob!r}")
        if glob[position] == "}":
            return "(?:" + "|".join(branches) + ")", position + 1
