"""Format the code that fixes write with black, in the project's own black style."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libcst as cst

from cio_fix.files import read_regular_file
from cio_fix.metadata import code_of

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# Black formats a nested statement at a shorter width. Below this width its
# output reads worse than the long line, so the statement is left as it is.
MIN_WIDTH = 40


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
    """Return ruff's `line-length`, read where ruff looks for it first.

    A project without black but with ruff keeps its lines at ruff's limit,
    so that the code a fix lays out is not joined again by `ruff format`.
    """
    for name in (".ruff.toml", "ruff.toml"):
        document = _toml(root / name)
        if document is not None:
            return _length(document.get("line-length"))
    table = _tool_table(_toml(root / "pyproject.toml"), "ruff")
    return _length(table.get("line-length")) if table is not None else None


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


def format_fixed_file(
    settings: BlackSettings, original_code: str, new_code: str
) -> str:
    """Run black over a fixed file when the project uses black and the file was black-clean."""
    if not settings.enabled or settings.format(original_code) != original_code:
        return new_code
    formatted = settings.format(new_code)
    return formatted if formatted is not None else new_code


def _max_line(code: str) -> int:
    return max((len(line) for line in code.splitlines()), default=0)


def _header_only(function: cst.FunctionDef) -> cst.FunctionDef:
    body = cst.SimpleStatementSuite(body=[cst.Expr(cst.Ellipsis())])
    return function.with_changes(body=body, decorators=(), leading_lines=())


def _statement_code(statement: cst.SimpleStatementLine | cst.FunctionDef) -> str:
    """Return the code of a statement, or of a function's header only."""
    if isinstance(statement, cst.FunctionDef):
        return code_of(_header_only(statement))
    return code_of(statement.with_changes(leading_lines=()))


def format_statement(
    statement: cst.SimpleStatementLine | cst.FunctionDef,
    original: cst.SimpleStatementLine | cst.FunctionDef,
    indent: str,
    settings: BlackSettings,
) -> cst.SimpleStatementLine | cst.FunctionDef:
    """Format a fixed statement (or a function header) with black when the fix made it too long.

    A statement that was as long before the fix, code indented with tabs
    (black would write spaces), and a machine without black keep what the
    fix wrote.
    """
    if "\t" in indent:
        return statement
    code = _statement_code(statement)
    if len(indent) + _max_line(code) <= settings.line_length:
        return statement
    if _max_line(code) <= _max_line(_statement_code(original)):
        return statement

    width = settings.line_length - len(indent)
    if width < MIN_WIDTH:
        return statement
    formatted = settings.format(code, width)
    if formatted is None:
        return statement
    try:
        parsed = cst.parse_statement(formatted)
    except cst.ParserSyntaxError:
        return statement
    if isinstance(statement, cst.FunctionDef) and isinstance(parsed, cst.FunctionDef):
        return statement.with_changes(
            params=parsed.params,
            whitespace_before_params=parsed.whitespace_before_params,
        )
    if isinstance(statement, cst.SimpleStatementLine) and isinstance(
        parsed, cst.SimpleStatementLine
    ):
        return parsed.with_changes(leading_lines=statement.leading_lines)
    return statement
