"""The formatter settings of the target project: black's, else ruff's line length and quotes.

Read without libcst, so that the cache key can name them in a run that
parses nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cio_fix.files import read_regular_file

# The values of ruff's `quote-style` and `inline-quotes` settings.
QUOTES = {"single": "'", "double": '"'}
DOUBLE = QUOTES["double"]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class BlackSettings:
    """The black options of the target project, and whether it uses black at all."""

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


def black_settings(root: Path) -> BlackSettings:
    """Read `[tool.black]` from the project, or find a black hook in its pre-commit config.

    A project without black lays out fixed code at ruff's line length, if
    it configures one.
    """
    table = _black_table(root / "pyproject.toml")
    if table is not None:
        length = table.get("line-length", 88)
        normalization = not table.get("skip-string-normalization", False)
        return BlackSettings(
            enabled=True,
            line_length=length if isinstance(length, int) and length > 0 else 88,
            string_normalization=normalization,
            magic_trailing_comma=not table.get("skip-magic-trailing-comma", False),
            quote=DOUBLE if normalization else None,
        )
    try:
        text = read_regular_file(root / ".pre-commit-config.yaml").decode("utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    if "psf/black" in text:
        return BlackSettings(enabled=True, string_normalization=True, quote=DOUBLE)
    return BlackSettings(
        line_length=_ruff_setting(root, _line_length) or 88,
        quote=_ruff_setting(root, _quote) or None,
    )


def _black_table(pyproject: Path) -> dict[str, Any] | None:
    return _tool_table(_toml(pyproject), "black")


def _ruff_setting(root: Path, read: Callable[[dict[str, Any]], Any]) -> Any:
    """Return what `read` finds in ruff's settings for the project, found the way ruff finds them.

    A project without black but with ruff keeps its lines at ruff's limit,
    so that the code a fix lays out is not joined again by `ruff format`,
    and its quotes as `ruff format` or ruff's quote rule want them. The
    nearest folder at or above the project with a ruff configuration
    decides, and a configuration that `extend`s another one inherits its
    settings.
    """
    # NOTE: ruff also applies a configuration below the project root to the
    # files under it; one setting for the whole project misses those.
    for folder in (root, *root.parents):
        found = _ruff_configuration(folder)
        if found is not None:
            return _extended(*found, read)
    return None


def _ruff_configuration(folder: Path) -> tuple[Path, dict[str, Any]] | None:
    """Return ruff's settings in `folder` and their file, in ruff's order of files."""
    for name in (".ruff.toml", "ruff.toml"):
        document = _toml(folder / name)
        if document is not None:
            return folder / name, document
    table = _tool_table(_toml(folder / "pyproject.toml"), "ruff")
    return (folder / "pyproject.toml", table) if table is not None else None


def _extended(
    path: Path, settings: dict[str, Any], read: Callable[[dict[str, Any]], Any]
) -> Any:
    seen = {path}
    while True:
        value = read(settings)
        extend = settings.get("extend")
        if value is not None or not isinstance(extend, str):
            return value
        path = path.parent / Path(extend).expanduser()
        document = _toml(path)
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
