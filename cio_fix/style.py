"""The formatter settings of each file: black's, else those of `ruff format`.

Read without libcst, so that the cache key can name them in a run that
parses nothing.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cio_fix.files import exists_or_false, read_regular_file, resolve_or_absolute
from cio_fix.ruff_excludes import RuffExcludes, ruff_excludes

# The values of ruff's `quote-style` and `inline-quotes` settings.
QUOTES = {"single": "'", "double": '"'}
DOUBLE = QUOTES["double"]
# The formatter hooks that a pre-commit configuration can run.
BLACK_HOOK = "black"
RUFF_FORMAT_HOOK = "ruff-format"

# black's `exclude` when a project does not set it: black.const.DEFAULT_EXCLUDES
# of black 26.10.
BLACK_DEFAULT_EXCLUDES = (
    r"/(\.direnv|\.eggs|\.git|\.hg|\.ipynb_checkpoints|\.mypy_cache|\.nox"
    r"|\.pytest_cache|\.ruff_cache|\.tox|\.svn|\.venv|\.vscode|__pypackages__"
    r"|_build|buck-out|build|dist|venv)/"
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class BlackSettings:
    """The black options that apply to a file, and whether its project uses black at all."""

    enabled: bool = False
    line_length: int = 88
    # A project without black keeps its own quotes: only a black project
    # has its strings normalised to double quotes.
    string_normalization: bool = False
    magic_trailing_comma: bool = True
    # The quote of the string literals that fixes write, when the project's
    # formatter or linter decides it; None leaves it to each file's own.
    quote: str | None = None
    # The columns of one indentation step and of a tab, ruff's
    # `indent-width`. black always indents by 4 spaces.
    indent_width: int = 4
    # True when `ruff format` lays out the project's code. It lays out code
    # as black does, except for the lines that directive comments end.
    ruff_layout: bool = False

    def mode(self, line_length: int | None = None) -> Any:
        import black

        return black.Mode(
            line_length=line_length or self.line_length,
            string_normalization=self.string_normalization,
            magic_trailing_comma=self.magic_trailing_comma,
        )

    def format(self, code: str, line_length: int | None = None) -> str | None:
        """Return `code` formatted by black, or None if black is missing or fails."""
        try:
            import black
        except ImportError:
            return None
        try:
            return black.format_str(code, mode=self.mode(line_length))
        except Exception:  # black raises several unrelated error types
            return None


@dataclass(frozen=True)
class _BlackExcludes:
    """black's exclude patterns of a project, for the files of one folder in it."""

    # The folder relative to the project root, as black matches it: "/app/"
    # for the folder app, "/" for the root.
    folder: str
    # None when a pattern is invalid, so that black rejects the configuration
    # and formats no file.
    patterns: tuple[re.Pattern[str], ...] | None

    def excludes(self, name: str) -> bool:
        return _black_excludes(self.patterns, self.folder + name)


@dataclass(frozen=True)
class _RuffFileExcludes:
    """ruff's exclude settings, for the files of one folder."""

    # The absolute path of the folder, ending with "/".
    folder: str
    settings: RuffExcludes

    def excludes(self, name: str) -> bool:
        return self.settings.excludes_file(self.folder + name)


class FormatterSettings:
    """The formatter settings that apply to each file of a project, each folder read once.

    A file takes black's settings from the nearest pyproject.toml with a
    `[tool.black]` table at or above its folder, up to the top of the git
    work tree, as black finds them since version 24.2. A file that the
    table's `exclude`, `extend-exclude` or `force-exclude` leaves out gets
    only black's line length, because black never formats it. Without a
    table, a black hook in the `.pre-commit-config.yaml` of the project root
    gives black's defaults. Without that either, the nearest ruff
    configuration at or above the file's folder, as ruff finds it, gives
    the settings of `ruff format` that black can follow, so that `ruff
    format` leaves the fixed code as it is. A `ruff-format` hook without a
    ruff configuration gives ruff's defaults. A file that ruff's `include`
    and `extend-include` leave out, or its `exclude`, `extend-exclude` or
    `format.exclude` leave out, gets only the line length and indentation
    of ruff's settings, because `ruff format` never formats it.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        # Compared with the resolved folders of files.
        self._resolved_root = resolve_or_absolute(root)
        # Read when the first file needs it: a file with black settings of
        # its own does not.
        self._hooks: frozenset[str] | None = None
        self._by_folder: dict[
            Path, tuple[BlackSettings, _BlackExcludes | _RuffFileExcludes | None]
        ] = {}
        self._black_tables: dict[Path, tuple[Path, dict[str, Any]] | None] = {}
        self._black_patterns: dict[Path, tuple[re.Pattern[str], ...] | None] = {}
        self._ruff_configurations: dict[Path, tuple[Path, dict[str, Any]] | None] = {}
        self._ruff_excludes: dict[Path, RuffExcludes] = {}
        self._ruff_skipped_folders: dict[Path, bool] = {}
        # Found when the first file under a ruff configuration needs it.
        self._ruff_walk_top_folder: Path | None = None
        self._documents: dict[Path, dict[str, Any] | None] = {}

    def for_file(self, path: Path) -> BlackSettings:
        """Return the settings that lay out the fixed code of `path`."""
        folder = path.parent
        found = self._by_folder.get(folder)
        if found is None:
            found = self._settings(resolve_or_absolute(folder))
            self._by_folder[folder] = found
        settings, excludes = found
        if excludes is not None and excludes.excludes(path.name):
            return _left_out(settings)
        return settings

    def _settings(
        self, folder: Path
    ) -> tuple[BlackSettings, _BlackExcludes | _RuffFileExcludes | None]:
        """Return the settings of the files in `folder`, and the excludes to apply to each."""
        found = self._nearest(
            folder, self._black_tables, self._black_table, stop_at_work_tree_top=True
        )
        if found is not None:
            return self._black_settings(folder, *found)
        if self._hooks is None:
            self._hooks = _formatter_hooks(self._root)
        if BLACK_HOOK in self._hooks:
            # pre-commit names each file to black, and black applies its
            # default excludes only to the folders it walks: none is left out.
            settings = BlackSettings(
                enabled=True, string_normalization=True, quote=DOUBLE
            )
            return settings, None
        found = self._nearest(
            folder,
            self._ruff_configurations,
            self._ruff_configuration,
            stop_at_work_tree_top=False,
        )
        if found is None and RUFF_FORMAT_HOOK not in self._hooks:
            return BlackSettings(), None
        if found is None:
            settings = BlackSettings(enabled=True, ruff_layout=True)
        else:
            settings = self._ruff_settings(*found)
        if self._ruff_skips_folder(folder):
            return _left_out(settings), None
        excludes = self._ruff_excludes_of(found)
        return settings, _RuffFileExcludes(folder.as_posix() + "/", excludes)

    def _ruff_skips_folder(self, folder: Path) -> bool:
        """Tell whether ruff's walk from the top of the git work tree skips `folder`.

        ruff skips a folder that the configuration of the folder above it
        excludes, with every folder below it, even when the folder has a
        configuration of its own. A project inside a monorepo may be
        formatted from the top of the work tree, so the walk is taken to
        start there rather than at the project root, which skips more
        folders, never fewer. Neither the top nor a folder outside it is
        skipped.
        """
        top = self._ruff_walk_top()
        if folder == top or top not in folder.parents:
            return False
        skipped = self._ruff_skipped_folders.get(folder)
        if skipped is not None:
            return skipped
        parent = folder.parent
        skipped = self._ruff_skips_folder(parent)
        if not skipped:
            found = self._nearest(
                parent,
                self._ruff_configurations,
                self._ruff_configuration,
                stop_at_work_tree_top=False,
            )
            excludes = self._ruff_excludes_of(found)
            skipped = excludes.excludes_folder(folder.as_posix())
        self._ruff_skipped_folders[folder] = skipped
        return skipped

    def _ruff_walk_top(self) -> Path:
        """Return the folder that ruff's walk starts from: see `_ruff_skips_folder`."""
        if self._ruff_walk_top_folder is None:
            # NOTE: outside git nothing marks the folder that the project is
            # formatted from, so the walk is taken to start at the project
            # root, and an exclude of a ruff configuration above it is not
            # applied.
            self._ruff_walk_top_folder = self._resolved_root
            for candidate in (self._resolved_root, *self._resolved_root.parents):
                if exists_or_false(candidate / ".git"):
                    self._ruff_walk_top_folder = candidate
                    break
        return self._ruff_walk_top_folder

    def _ruff_excludes_of(
        self, configuration: tuple[Path, dict[str, Any]] | None
    ) -> RuffExcludes:
        """Return the exclude settings of a ruff configuration: ruff's defaults for None."""
        if configuration is None:
            return RuffExcludes()
        path, settings = configuration
        if path not in self._ruff_excludes:
            chain = ruff_settings_chain(path, settings, self._toml)
            self._ruff_excludes[path] = ruff_excludes(chain)
        return self._ruff_excludes[path]

    def _ruff_settings(self, path: Path, settings: dict[str, Any]) -> BlackSettings:
        """Return the settings of `ruff format` that `settings`, read from `path`, give.

        black can write neither tabs nor another indentation step than 4
        spaces, so with those settings no file is formatted whole. black
        leaves the quotes of strings alone, because it can only normalise
        them to double quotes. The fixes write their literals with `quote`.
        """
        indent_width = _extended(path, settings, _indent_width, self._toml) or 4
        tabs = _extended(path, settings, _indent_style, self._toml) == "tab"
        skip_magic_trailing_comma = _extended(
            path, settings, _skip_magic_trailing_comma, self._toml
        )
        return BlackSettings(
            enabled=indent_width == 4 and not tabs,
            line_length=_extended(path, settings, _line_length, self._toml) or 88,
            magic_trailing_comma=skip_magic_trailing_comma is not True,
            quote=_extended(path, settings, _quote, self._toml) or None,
            indent_width=indent_width,
            ruff_layout=True,
        )

    def _black_settings(
        self, folder: Path, project_root: Path, table: dict[str, Any]
    ) -> tuple[BlackSettings, _BlackExcludes | None]:
        """Return the settings that `table` gives the files in `folder`.

        black walks the project from `project_root`, the folder of the table,
        and skips a folder that a pattern matches together with every file
        below it.
        """
        settings = _from_black_table(table)
        if project_root not in self._black_patterns:
            self._black_patterns[project_root] = _black_exclude_patterns(table)
        patterns = self._black_patterns[project_root]
        relative = "/"
        for part in folder.relative_to(project_root).parts:
            relative += part + "/"
            if _black_excludes(patterns, relative):
                return _left_out(settings), None
        return settings, _BlackExcludes(relative, patterns)

    @staticmethod
    def _nearest(
        folder: Path,
        known: dict[Path, Any],
        read: Callable[[Path], Any],
        stop_at_work_tree_top: bool,
    ) -> Any:
        """Return what `read` finds in the nearest folder at or above `folder`.

        `known` maps each folder searched before to what applies there, so
        that the folders of a project are read once whatever the number of
        files in them.
        """
        searched = []
        found = None
        for candidate in (folder, *folder.parents):
            if candidate in known:
                found = known[candidate]
                break
            searched.append(candidate)
            found = read(candidate)
            if found is not None:
                break
            if stop_at_work_tree_top and (candidate / ".git").exists():
                break
        for candidate in searched:
            known[candidate] = found
        return found

    def _black_table(self, folder: Path) -> tuple[Path, dict[str, Any]] | None:
        table = _tool_table(self._toml(folder / "pyproject.toml"), "black")
        return (folder, table) if table is not None else None

    def _ruff_configuration(self, folder: Path) -> tuple[Path, dict[str, Any]] | None:
        """Return ruff's settings in `folder` and their file, in ruff's order of files."""
        for name in (".ruff.toml", "ruff.toml"):
            document = self._toml(folder / name)
            if document is not None:
                return folder / name, document
        table = _tool_table(self._toml(folder / "pyproject.toml"), "ruff")
        return (folder / "pyproject.toml", table) if table is not None else None

    def _toml(self, path: Path) -> dict[str, Any] | None:
        if path not in self._documents:
            self._documents[path] = _toml(path)
        return self._documents[path]


def _from_black_table(table: dict[str, Any]) -> BlackSettings:
    length = table.get("line-length", 88)
    normalization = not table.get("skip-string-normalization", False)
    return BlackSettings(
        enabled=True,
        line_length=length if isinstance(length, int) and length > 0 else 88,
        string_normalization=normalization,
        magic_trailing_comma=not table.get("skip-magic-trailing-comma", False),
        quote=DOUBLE if normalization else None,
    )


def _left_out(settings: BlackSettings) -> BlackSettings:
    """Return the settings of a file that its formatter excludes, which keep its line length.

    The formatter never formats such a file, so neither is the fixed file
    formatted nor are the quotes of its strings changed.
    """
    return replace(settings, enabled=False, string_normalization=False, quote=None)


def _black_exclude_patterns(
    table: dict[str, Any],
) -> tuple[re.Pattern[str], ...] | None:
    """Compile the `exclude`, `extend-exclude` and `force-exclude` of a `[tool.black]` table.

    Return None when one is not a string or not a valid regular expression,
    because black then rejects the configuration.
    """
    sources = [table.get("exclude", BLACK_DEFAULT_EXCLUDES)]
    for key in ("extend-exclude", "force-exclude"):
        if key in table:
            sources.append(table[key])
    patterns = []
    for source in sources:
        if not isinstance(source, str):
            return None
        # black reads a pattern that spans lines in verbose mode.
        if "\n" in source:
            source = "(?x)" + source
        try:
            patterns.append(re.compile(source))
        except re.error:
            return None
    return tuple(patterns)


def _black_excludes(
    patterns: tuple[re.Pattern[str], ...] | None, relative_path: str
) -> bool:
    """Tell whether black skips `relative_path` ("/app/views.py", "/app/" for a folder)."""
    if patterns is None:
        return True
    for pattern in patterns:
        # black counts only a match that is not empty.
        match = pattern.search(relative_path)
        if match and match.group(0):
            return True
    return False


def _formatter_hooks(root: Path) -> frozenset[str]:
    """Return the formatter hooks that the pre-commit configuration of the project root runs.

    The text is searched, not parsed: black's hooks come from the
    repositories `psf/black` and `psf/black-pre-commit-mirror`, and ruff's
    formatter hook has the id `ruff-format`.
    """
    try:
        text = read_regular_file(root / ".pre-commit-config.yaml").decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return frozenset()
    hooks = set()
    if "psf/black" in text:
        hooks.add(BLACK_HOOK)
    if RUFF_FORMAT_HOOK in text:
        hooks.add(RUFF_FORMAT_HOOK)
    return frozenset(hooks)


def _extended(
    path: Path,
    settings: dict[str, Any],
    read: Callable[[dict[str, Any]], Any],
    load: Callable[[Path], dict[str, Any] | None],
) -> Any:
    """Return what `read` finds in ruff's `settings` or in those they `extend`."""
    for _, chained in ruff_settings_chain(path, settings, load):
        value = read(chained)
        if value is not None:
            return value
    return None


def ruff_settings_chain(
    path: Path,
    settings: dict[str, Any],
    load: Callable[[Path], dict[str, Any] | None],
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Yield ruff's `settings` from `path`, then those of each file they `extend`, in turn.

    A setting of a file overrides the one of the file it extends, as in
    ruff, so the first that sets a value decides it. `load` reads a TOML
    file, or returns None when it cannot, which ends the chain, as does a
    file seen before: ruff rejects a cycle of `extend`.
    """
    path = _normalized(path)
    seen = {path}
    yield path, settings
    while True:
        extended = ruff_extends(path, settings)
        if extended is None or extended in seen:
            return
        document = load(extended)
        if document is None:
            return
        seen.add(extended)
        path = extended
        # In an extended pyproject.toml, the settings are under [tool.ruff].
        table = _tool_table(document, "ruff") if path.name == "pyproject.toml" else None
        settings = table if table is not None else document
        yield path, settings


def ruff_extends(path: Path, settings: dict[str, Any]) -> Path | None:
    """Return the file that ruff's `settings`, read from `path`, name in `extend`, if any.

    ruff resolves the name from the folder of `path` and expands `~`.
    """
    extend = settings.get("extend")
    if not isinstance(extend, str):
        return None
    return _normalized(path.parent / Path(extend).expanduser())


def _normalized(path: Path) -> Path:
    """Remove the `..` parts of `path`, so that a cycle through them ends the chain too."""
    return Path(os.path.normpath(path))


def _line_length(settings: dict[str, Any]) -> int | None:
    value = settings.get("line-length")
    return value if type(value) is int and value > 0 else None


def _indent_width(settings: dict[str, Any]) -> int | None:
    value = settings.get("indent-width")
    return value if type(value) is int and value > 0 else None


def _indent_style(settings: dict[str, Any]) -> str | None:
    value = _table(settings, "format").get("indent-style")
    return value if value in ("space", "tab") else None


def _skip_magic_trailing_comma(settings: dict[str, Any]) -> bool | None:
    value = _table(settings, "format").get("skip-magic-trailing-comma")
    return value if type(value) is bool else None


def _quote(settings: dict[str, Any]) -> str | None:
    """Return the quote that `ruff format` or ruff's flake8-quotes rule expects, if any.

    `ruff format` decides when it is configured, because it rewrites the
    quotes of every literal. Its "preserve" leaves them to the file: the
    empty string, which ends the search through `extend` as a value does.
    """
    style = _table(settings, "format").get("quote-style")
    if style in QUOTES:
        return QUOTES[style]
    if style == "preserve":
        return ""
    # flake8-quotes lives under `lint` since ruff 0.2, at the top level before.
    for table in (_table(settings, "lint"), settings):
        inline = _table(table, "flake8-quotes").get("inline-quotes")
        if inline in QUOTES:
            return QUOTES[inline]
    return None


def _table(settings: dict[str, Any], name: str) -> dict[str, Any]:
    table = settings.get(name)
    return table if isinstance(table, dict) else {}


def _toml(path: Path) -> dict[str, Any] | None:
    try:
        return tomllib.loads(read_regular_file(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None


def _tool_table(document: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    tool = document.get("tool") if document is not None else None
    table = tool.get(name) if isinstance(tool, dict) else None
    return table if isinstance(table, dict) else None
