"""The formatter settings of each file: black's, else ruff's line length and quotes.

Read without libcst, so that the cache key can name them in a run that
parses nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cio_fix.files import read_regular_file, resolve_or_absolute

# The values of ruff's `quote-style` and `inline-quotes` settings.
QUOTES = {"single": "'", "double": '"'}
DOUBLE = QUOTES["double"]

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


class FormatterSettings:
    """The formatter settings that apply to each file of a project, each folder read once.

    A file takes black's settings from the nearest pyproject.toml with a
    `[tool.black]` table at or above its folder, up to the top of the git
    work tree, as black finds them since version 24.2. Without one, a black hook
    in the `.pre-commit-config.yaml` of the project root gives black's
    defaults. Without that either, fixed code is laid out at the line length
    and with the quotes of the nearest ruff configuration at or above the
    file's folder, as ruff finds it, so that `ruff format` does not join
    the lines again.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        # Read when the first file needs it: a file with black settings of
        # its own does not.
        self._black_hook: bool | None = None
        self._by_folder: dict[Path, BlackSettings] = {}
        self._black_tables: dict[Path, dict[str, Any] | None] = {}
        self._ruff_configurations: dict[Path, tuple[Path, dict[str, Any]] | None] = {}
        self._documents: dict[Path, dict[str, Any] | None] = {}

    def for_file(self, path: Path) -> BlackSettings:
        """Return the settings that lay out the fixed code of `path`."""
        folder = path.parent
        settings = self._by_folder.get(folder)
        if settings is None:
            settings = self._settings(resolve_or_absolute(folder))
            self._by_folder[folder] = settings
        return settings

    def _settings(self, folder: Path) -> BlackSettings:
        table = self._nearest(
            folder, self._black_tables, self._black_table, stop_at_work_tree_top=True
        )
        if table is not None:
            return _from_black_table(table)
        if self._black_hook is None:
            self._black_hook = _has_black_hook(self._root)
        if self._black_hook:
            return BlackSettings(enabled=True, string_normalization=True, quote=DOUBLE)
        found = self._nearest(
            folder,
            self._ruff_configurations,
            self._ruff_configuration,
            stop_at_work_tree_top=False,
        )
        if found is None:
            return BlackSettings()
        return BlackSettings(
            line_length=_extended(*found, _line_length, self._toml) or 88,
            quote=_extended(*found, _quote, self._toml) or None,
        )

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

    def _black_table(self, folder: Path) -> dict[str, Any] | None:
        return _tool_table(self._toml(folder / "pyproject.toml"), "black")

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


def _has_black_hook(root: Path) -> bool:
    """Tell whether the pre-commit configuration of the project root runs black."""
    try:
        text = read_regular_file(root / ".pre-commit-config.yaml").decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return "psf/black" in text


def _extended(
    path: Path,
    settings: dict[str, Any],
    read: Callable[[dict[str, Any]], Any],
    load: Callable[[Path], dict[str, Any] | None],
) -> Any:
    """Return what `read` finds in ruff's `settings` or in those they `extend`.

    `load` reads a TOML file, or returns None when it cannot.
    """
    seen = {path}
    while True:
        value = read(settings)
        extend = settings.get("extend")
        if value is not None or not isinstance(extend, str):
            return value
        path = path.parent / Path(extend).expanduser()
        document = load(path)
        if path in seen or document is None:
            return None
        seen.add(path)
        # In an extended pyproject.toml, the settings are under [tool.ruff].
        table = _tool_table(document, "ruff") if path.name == "pyproject.toml" else None
        settings = table if table is not None else document


def _line_length(settings: dict[str, Any]) -> int | None:
    value = settings.get("line-length")
    return value if type(value) is int and value > 0 else None


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
