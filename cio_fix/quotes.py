"""Write the string literals that fixes add with the quotes the file uses.

Fixes write new literals with double quotes (`os.environ["CUSTOMERIO_API_KEY"]`,
`data={"email": ...}`). In a file written with single quotes those would
stand out in the diff, and a linter that checks quotes would report them.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping
from typing import Any, TypeVar

import libcst as cst

from cio_fix.metadata import code_of
from cio_fix.walk import find_all

_Node = TypeVar("_Node", bound=cst.CSTNode)

SINGLE = "'"
DOUBLE = '"'


class FileLiterals:
    """The string literals of a file outside f-strings, as the index walk finds them.

    The walk only keeps each literal's code: every index build walks the
    module, also in the fix passes, and only a file with fixes needs its
    quote.
    """

    def __init__(self) -> None:
        # The code of every literal, quotes and prefix included.
        self.values: list[str] = []

    def add(self, literal: cst.SimpleString) -> None:
        self.values.append(literal.value)

    @functools.cached_property
    def code(self) -> frozenset[str]:
        return frozenset(self.values)

    def quote(self, configured: str | None) -> str:
        """Return the quote for new literals: the configured one, else the file's usual one.

        Only one-line literals whose text left the choice of quote free
        count. A file with as many literals of each quote, or none, gets
        double quotes, as black and ruff's formatter write them.
        """
        if configured is not None:
            return configured
        return self._usual_quote

    @functools.cached_property
    def _usual_quote(self) -> str:
        counts: Counter[str] = Counter()
        for value in self.values:
            body = value.lstrip("rRbBuU")
            quote = body[0]
            if (
                body[:3] != quote * 3
                and SINGLE not in body[1:-1]
                and DOUBLE not in body[1:-1]
            ):
                counts[quote] += 1
        return SINGLE if counts[SINGLE] > counts[DOUBLE] else DOUBLE


def with_quote(module: cst.Module, quote: str, original: FileLiterals) -> cst.Module:
    """Return `module` with each literal the fixes wrote in double quotes written with `quote`.

    A literal counts as written by the fixes when the original file has no
    literal with its code outside f-strings: a literal of the user's that a
    fix moved keeps its quotes. Literals inside f-strings keep theirs,
    because before Python 3.12 an f-string cannot hold its own quote.
    Triple-quoted strings (the docstrings of helpers) stay as they are, and
    so does a literal whose text contains a quote character.
    """
    if quote == DOUBLE:
        return module
    inside = _in_f_strings(module)
    targets = {
        id(literal): quote
        for literal in find_all(module, cst.SimpleString)
        if literal.quote == DOUBLE
        and id(literal) not in inside
        and _free_to_swap(literal)
        and literal.value not in original.code
    }
    if not targets:
        return module
    return _requoted(module, targets)


def requote_replacements(
    replacements: dict[cst.CSTNode, Any],
    parent_of: Mapping[cst.CSTNode, cst.CSTNode],
    quote: str,
) -> None:
    """Give the literals of a fix's replacements the quotes their new place needs.

    A literal that a fix writes inside an f-string takes the quote the
    f-string does not use, which Python before 3.12 requires. A literal
    that a fix moves out of an f-string (`row['metric']` out of
    `f"usage_{row['metric']}"`), whose quote the f-string chose, takes
    `quote`. The replacements change in place, before the fix is applied,
    so that every later pass and a parse of the fixed code see the same
    quotes.
    """
    for target, replacement in list(replacements.items()):
        if not isinstance(replacement, cst.CSTNode):
            continue
        targets: dict[int, str] = {}
        f_string_quote = inside_f_string(target, parent_of)
        if f_string_quote is not None:
            other = SINGLE if f_string_quote == DOUBLE else DOUBLE
            for literal in find_all(replacement, cst.SimpleString):
                if literal.quote == f_string_quote and _free_to_swap(literal):
                    targets[id(literal)] = other
        else:
            before = _in_f_strings(target)
            after = _in_f_strings(replacement) if before else set()
            for literal in find_all(replacement, cst.SimpleString) if before else ():
                if (
                    id(literal) in before
                    and id(literal) not in after
                    and literal.quote != quote
                    and len(literal.quote) == 1
                    and _free_to_swap(literal)
                ):
                    targets[id(literal)] = quote
        if targets:
            replacements[target] = _requoted(replacement, targets)


def f_string_with_quote(
    f_string: cst.FormattedString, quote: str
) -> cst.FormattedString | None:
    """Return a copy of an f-string that a fix writes, quoted with `quote`.

    The literals in its braces that used `quote` take the other quote,
    because before Python 3.12 the code in the braces cannot contain the
    f-string's own quote. None when a literal to swap contains a quote
    character or is triple-quoted, or when a placeholder with `=` would
    print the swapped code. None too when the code between the quotes
    would still contain `quote`, a backslash or a line break.
    """
    other = SINGLE if quote == DOUBLE else DOUBLE
    targets: dict[int, str] = {}
    for literal in find_all(f_string, cst.SimpleString):
        if quote not in literal.quote:
            continue
        if len(literal.quote) != 1 or not _free_to_swap(literal):
            return None
        targets[id(literal)] = other
    if targets and _prints_its_code(f_string):
        return None

    requoted = _requoted(f_string, targets) if targets else f_string
    requoted = requoted.with_changes(start=f_string.prefix + quote, end=quote)
    if not _one_line_without_own_quote(requoted):
        return None
    return requoted


def needs_python_312(f_string: cst.FormattedString) -> bool:
    """Tell whether the code in an f-string's braces has its quote or a backslash.

    Python 3.12 reads such an f-string. Older Pythons end the string at
    that quote and reject the backslash.
    """
    for placeholder in find_all(f_string, cst.FormattedStringExpression):
        code = code_of(placeholder.expression)
        if f_string.quote in code or "\\" in code:
            return True
    return False


def _prints_its_code(f_string: cst.FormattedString) -> bool:
    """Tell whether a placeholder has `=`, which copies the code in its braces."""
    placeholders = find_all(f_string, cst.FormattedStringExpression)
    return any(placeholder.equal is not None for placeholder in placeholders)


def _one_line_without_own_quote(f_string: cst.FormattedString) -> bool:
    """Tell whether the code between an f-string's quotes is one line without them.

    The code must have no backslash either. Python before 3.12 reads such
    code, and also a backslash in a format spec, which this check rejects.
    """
    code = code_of(f_string)
    between = code[len(f_string.start) : -len(f_string.end)]
    return not any(
        character in between for character in (f_string.quote, "\\", "\n", "\r")
    )


def _in_f_strings(node: cst.CSTNode) -> set[int]:
    """Return the ids of the literals inside the f-strings of `node`."""
    return {
        id(literal)
        for f_string in find_all(node, cst.FormattedString)
        for literal in find_all(f_string, cst.SimpleString)
    }


def _free_to_swap(literal: cst.SimpleString) -> bool:
    """Tell whether the literal's text contains no quote character, escaped or not."""
    body = literal.value[len(literal.prefix) + len(literal.quote) : -len(literal.quote)]
    return SINGLE not in body and DOUBLE not in body


def _requoted(node: _Node, targets: dict[int, str]) -> _Node:
    """Return `node` with the literals of `targets`, the new quote by the literal's id, requoted."""
    # Imported here, because `cio_fix.edits` imports `cio_fix.customerio`,
    # which imports this module.
    from cio_fix.edits import replace_nodes

    replacements = {}
    for literal in find_all(node, cst.SimpleString):
        quote = targets.get(id(literal))
        if quote is not None:
            body = literal.value[len(literal.prefix) + 1 : -1]
            value = f"{literal.prefix}{quote}{body}{quote}"
            replacements[literal] = literal.with_changes(value=value)
    return replace_nodes(node, replacements)


def inside_f_string(
    node: cst.CSTNode, parent_of: Mapping[cst.CSTNode, cst.CSTNode]
) -> str | None:
    """Return the quote of the innermost f-string around `node`, None outside one.

    A triple-quoted f-string gives None: before Python 3.12 its code may
    still use either quote on its own.
    """
    parent = parent_of.get(node)
    while parent is not None:
        if isinstance(parent, cst.FormattedString):
            return parent.quote if len(parent.quote) == 1 else None
        parent = parent_of.get(parent)
    return None
