"""The formatter settings of the target project: black's, else ruff's line length.

Read without libcst, so that the cache key can name them in a run that
parses nothing.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cio_fix.files import read_regular_file

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
        return BlackSettings(
            enabled=True,
            line_length=length if isinstance(length, int) and length > 0 else 88,
            string_normalization=not table.get("skip-string-normalization", False),
            magic_trailing_comma=not table.get("skip-magic-trailing-comma", False),
        )
    try:
        text = read_regular_file(root / ".pre-commit-config.yaml").decode("utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    if "psf/black" in text:
        return BlackSettings(enabled=True, string_normalization=True)
    return BlackSettings(line_length=_ruff_line_length(root) or 88)


def _black_table(pyproject: Path) -> dict[str, Any] | None:
    return _tool_table(_toml(pyproject), "black")


def _ruff_line_length(root: Path) -> int | None:
    """Return ruff's `line-length` for the project, found the way ruff finds it.

    A project without black but with ruff keeps its lines at ruff's limit,
    so that the code a fix lays out is not joined again by `ruff format`.
    The nearest folder at or above the project with a ruff configuration
    decides, and a configuration that `extend`s another one inherits its
    `line-length`.
    """
    # NOTE: ruff also applies a configuration below the project root to the
    # files under it; one line length for the whole project misses those.
    for folder in (root, *root.parents):
        found = _ruff_configuration(folder)
        if found is not None:
            return _extended_length(*found)
    return None


def _ruff_configuration(folder: Path) -> tuple[Path, dict[str, Any]] | None:
    """Return ruff's settings in `folder` and their file, in ruff's order of files."""
    for name in (".ruff.toml", "ruff.toml"):
        document = _toml(folder / name)
        if document is not None:
            return folder / name, document
    table = _tool_table(_toml(folder / "pyproject.toml"), "ruff")
    return (folder / "pyproject.toml", table) if table is not None else None


def _extended_length(path: Path, settings: dict[str, Any]) -> int | None:
    seen = {path}
    while True:
        length = _length(settings.get("line-length"))
        extend = settings.get("extend")
        if length is not None or not isinstance(extend, str):
            return length
        path = path.parent / Path(extend).expanduser()
        document = _toml(path)
        if path in seen or document is None:
            return None
        seen.add(path)
        # In an extended pyproject.toml, the settings are under [tool.ruff].
        table = _tool_table(document, "ruff") if path.name == "pyproject.toml" else None
        settings = table if table is not None else document


def _length(value: Any) -> int | None:
    return value if type(value) is int and value > 0 else None


def _toml(path: Path) -> dict[str, Any] | None:
    try:
        return tomllib.loads(read_regular_file(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None


def _tool_table(document: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    tool = document.get("tool") if document is not None else None
    table = tool.get(name) if isinstance(tool, dict) else None
    return table if isinstance(table, dict) else None
