"""Format the code that fixes write with black, in the project's own black style."""

from __future__ import annotations

import libcst as cst

from cio_fix.metadata import code_of
from cio_fix.pragmas import formatter_counts_comment, may_end_with_ruff_pragma
from cio_fix.style import BlackSettings
from cio_fix.walk import find_all

# Black formats a nested statement at a shorter width. Below this width its
# output reads worse than the long line, so the statement is left as it is.
MIN_WIDTH = 40
# Black indents each continuation line inside brackets by this unit.
BLACK_INDENT = "    "


def format_fixed_file(
    settings: BlackSettings, original_code: str, new_code: str
) -> str:
    """Run black over a fixed file when the project uses black and the file was black-clean.

    A file whose lines end in several ways is never black-clean, because
    black (26.10) ends every line like the first, so it keeps its endings.
    """
    if not settings.enabled or settings.format(original_code) != original_code:
        return new_code
    formatted = settings.format(new_code)
    if formatted is None:
        return new_code
    if settings.ruff_layout and rewrites_ruff_pragma_line(new_code, formatted):
        # black counts the pragma comments that `ruff format` leaves out of
        # a line's width, so it would split lines that ruff keeps whole.
        return new_code
    return formatted


def rewrites_ruff_pragma_line(code: str, formatted: str) -> bool:
    """Tell whether black's output changed a line of `code` that may end with a ruff pragma."""
    formatted_lines = set(formatted.splitlines())
    changed = (line for line in code.splitlines() if line not in formatted_lines)
    return any(may_end_with_ruff_pragma(line) for line in changed)


def _max_line(code: str, tab_width: int) -> int:
    lines = code.splitlines()
    return max((len(line.expandtabs(tab_width)) for line in lines), default=0)


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
    unit: str,
    settings: BlackSettings,
) -> cst.SimpleStatementLine | cst.FunctionDef:
    """Format a fixed statement (or a function header) with black when the fix made it too long.

    `indent` is the indentation of the statement and `unit` the module's
    indentation step. In code indented with tabs, black's continuation
    lines are indented with tabs as well, and under a ruff `indent-width`
    other than 4 by that many spaces. A tab counts as `indent_width`
    columns, as ruff counts it. A statement that was as long before the
    fix, code that mixes tabs and spaces in its indentation, and a machine
    without black keep what the fix wrote.

    NOTE: black decides where to split with 4 columns a step, so under a
    smaller `indent-width` it may split a statement that `ruff format`
    keeps on fewer lines.
    """
    tabs = "\t" in indent or "\t" in unit
    if tabs and (unit != "\t" or indent.strip("\t")):
        return statement
    tab_width = settings.indent_width
    trailing = _uncounted_trailing(statement, settings)
    if trailing is not None:
        # `ruff format` lays out the statement as if the comment were not
        # there, then puts it after the last bracket.
        statement = _without_comment(statement)
        original = _without_comment(original)
    code = _statement_code(statement)
    indent_width = len(indent.expandtabs(tab_width))
    if indent_width + _max_line(code, tab_width) <= settings.line_length:
        return _with_trailing(statement, trailing)
    if _max_line(code, tab_width) <= _max_line(_statement_code(original), tab_width):
        return _with_trailing(statement, trailing)

    width = settings.line_length - indent_width
    if width < MIN_WIDTH:
        return _with_trailing(statement, trailing)
    formatted = settings.format(code, width)
    if formatted is None:
        return _with_trailing(statement, trailing)
    try:
        parsed = cst.parse_statement(formatted)
    except cst.ParserSyntaxError:
        return _with_trailing(statement, trailing)
    step = "\t" if tabs else " " * settings.indent_width
    if step != BLACK_INDENT:
        parsed = _reindented(parsed, step)
    if isinstance(statement, cst.FunctionDef) and isinstance(parsed, cst.FunctionDef):
        return statement.with_changes(
            params=parsed.params,
            whitespace_before_params=parsed.whitespace_before_params,
        )
    if isinstance(statement, cst.SimpleStatementLine) and isinstance(
        parsed, cst.SimpleStatementLine
    ):
        laid_out = parsed.with_changes(leading_lines=statement.leading_lines)
        return _with_trailing(laid_out, trailing)
    return _with_trailing(statement, trailing)


def _uncounted_trailing(
    statement: cst.SimpleStatementLine | cst.FunctionDef, settings: BlackSettings
) -> cst.TrailingWhitespace | None:
    """Return the end of a statement's line when the formatter does not count its comment."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return None
    trailing = statement.trailing_whitespace
    if trailing.comment is None:
        return None
    if formatter_counts_comment(trailing.comment.value, settings.ruff_layout):
        return None
    return trailing


def _without_comment(
    statement: cst.SimpleStatementLine | cst.FunctionDef,
) -> cst.SimpleStatementLine | cst.FunctionDef:
    """Return a simple statement without the comment that ends its line."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return statement
    trailing = statement.trailing_whitespace.with_changes(
        whitespace=cst.SimpleWhitespace(""), comment=None
    )
    return statement.with_changes(trailing_whitespace=trailing)


def _with_trailing(
    statement: cst.SimpleStatementLine | cst.FunctionDef,
    trailing: cst.TrailingWhitespace | None,
) -> cst.SimpleStatementLine | cst.FunctionDef:
    """Put back the comment that `_without_comment` took from the end of a statement."""
    if trailing is None or not isinstance(statement, cst.SimpleStatementLine):
        return statement
    return statement.with_changes(trailing_whitespace=trailing)


def _reindented(statement: cst.BaseStatement, step: str) -> cst.BaseStatement:
    """Turn black's four-space steps at the start of continuation lines into `step`.

    Only the whitespace that starts a line inside brackets changes, which
    Python ignores, so the statement means the same. The text of strings
    is never whitespace of the tree, so it keeps its spaces.
    """
    # Imported here, because `cio_fix.edits` imports this module.
    from cio_fix.edits import replace_nodes

    replacements: dict[cst.CSTNode, cst.CSTNode] = {}
    for node in find_all(statement, cst.ParenthesizedWhitespace, cst.EmptyLine):
        if isinstance(node, cst.ParenthesizedWhitespace):
            # Replacing it replaces its comment lines, so it gets theirs too.
            replacements[node] = node.with_changes(
                empty_lines=[_reindented_line(line, step) for line in node.empty_lines],
                last_line=_reindented_whitespace(node.last_line, step),
            )
        else:
            replacements[node] = _reindented_line(node, step)
    return replace_nodes(statement, replacements)


def _reindented_line(line: cst.EmptyLine, step: str) -> cst.EmptyLine:
    # A comment line inside brackets.
    return line.with_changes(whitespace=_reindented_whitespace(line.whitespace, step))


def _reindented_whitespace(
    whitespace: cst.SimpleWhitespace, step: str
) -> cst.SimpleWhitespace:
    value = whitespace.value
    steps = (len(value) - len(value.lstrip(" "))) // len(BLACK_INDENT)
    rest = value[steps * len(BLACK_INDENT) :]
    return cst.SimpleWhitespace(step * steps + rest)
