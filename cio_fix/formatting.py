"""Format the code that fixes write with black, in the project's own black style."""

from __future__ import annotations

import libcst as cst

from cio_fix.metadata import code_of
from cio_fix.style import BlackSettings

# Black formats a nested statement at a shorter width. Below this width its
# output reads worse than the long line, so the statement is left as it is.
MIN_WIDTH = 40


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
