"""Write the string literals that fixes add with the quotes the file uses.

Fixes write new literals with double quotes (`os.environ["CUSTOMERIO_API_KEY"]`,
`data={"email": ...}`). In a file written with single quotes those would
stand out in the diff, and a linter that checks quotes would report them.
"""

from __future__ import annotations

from collections import Counter

import libcst as cst

from cio_fix.walk import find_all

SINGLE = "'"
DOUBLE = '"'


class FileLiterals:
    """The one-line string literals of a file outside f-strings, as the index walk finds them."""

    def __init__(self) -> None:
        # How many literals use each quote, of those whose text left the
        # choice of quote free.
        self.quotes: Counter[str] = Counter()
        # The code of every literal, quotes and prefix included.
        self.code: set[str] = set()

    def add(self, literal: cst.SimpleString) -> None:
        self.code.add(literal.value)
        if len(literal.quote) == 1 and _free_to_swap(literal):
            self.quotes[literal.quote] += 1

    def quote(self, configured: str | None) -> str:
        """Return the quote for new literals: the configured one, else the file's usual one.

        A file with as many literals of each quote, or none, gets double
        quotes, as black and ruff's formatter write them.
        """
        if configured is not None:
            return configured
        return SINGLE if self.quotes[SINGLE] > self.quotes[DOUBLE] else DOUBLE


def with_quote(module: cst.Module, quote: str, original: FileLiterals) -> cst.Module:
    """Return `module` with each literal the fixes wrote in double quotes written with `quote`.

    A literal counts as written by the fixes when the original file has no
    literal with its code outside f-strings: a literal of the user's that a
    fix moved keeps its quotes. Literals inside f-strings keep theirs,
    because before Python 3.12 an f-string cannot hold its own quote.
    Triple-quoted strings (the docstrings of helpers) stay as they are, and
    so does a literal whose text holds a quote character.
    """
    if quote == DOUBLE:
        return module
    in_f_strings = {
        id(literal)
        for f_string in find_all(module, cst.FormattedString)
        for literal in find_all(f_string, cst.SimpleString)
    }
    targets = {
        id(literal)
        for literal in find_all(module, cst.SimpleString)
        if literal.quote == DOUBLE
        and id(literal) not in in_f_strings
        and _free_to_swap(literal)
        and literal.value not in original.code
    }
    if not targets:
        return module
    return module.visit(_Requote(targets, quote))


def _free_to_swap(literal: cst.SimpleString) -> bool:
    """Tell whether the literal's text holds no quote character, escaped or not."""
    body = literal.value[len(literal.prefix) + len(literal.quote) : -len(literal.quote)]
    return SINGLE not in body and DOUBLE not in body


class _Requote(cst.CSTTransformer):
    def __init__(self, targets: set[int], quote: str) -> None:
        super().__init__()
        self.targets = targets
        self.quote = quote

    def leave_SimpleString(
        self, original_node: cst.SimpleString, updated_node: cst.SimpleString
    ) -> cst.SimpleString:
        if id(original_node) not in self.targets:
            return updated_node
        body = original_node.value[len(original_node.prefix) + 1 : -1]
        return updated_node.with_changes(
            value=f"{original_node.prefix}{self.quote}{body}{self.quote}"
        )
