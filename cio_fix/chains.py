"""Read long chains of implicitly joined strings, of `+` and of `and`/`or` with a loop.

libcst nests such a chain one node per link: `"a" "b" "c"` is
`ConcatenatedString("a", ConcatenatedString("b", "c"))`, and `a + b + c`
is `BinaryOperation(BinaryOperation(a, +, b), +, c)`. An inline email
body of 500 adjacent literals, which CPython compiles, is 500 levels
deep, so code that calls itself once per link goes past Python's
recursion limit (1,000 frames by default). The walks, the printing and
the rules read these chains with the functions here instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

# The field through which a node of each type nests the next link of its
# chain: implicit concatenation nests to the right, and `+`, `and` and `or`
# nest to the left, because they group from the left.
CHAIN_FIELDS: dict[type[cst.CSTNode], str] = {
    cst.ConcatenatedString: "right",
    cst.BinaryOperation: "left",
    cst.BooleanOperation: "left",
}


def joined_strings(
    node: cst.ConcatenatedString,
) -> list[cst.SimpleString | cst.FormattedString]:
    """Return the string literals that an implicit concatenation joins, left to right."""
    strings = []
    part: cst.BaseString = node
    while type(part) is cst.ConcatenatedString:
        strings.append(part.left)  # type: ignore[attr-defined]
        part = part.right  # type: ignore[attr-defined]
    strings.append(part)
    return strings  # type: ignore[return-value]


def operands(
    node: cst.BinaryOperation | cst.BooleanOperation,
    operators: Sequence[type[cst.CSTNode]] = (),
) -> list[cst.BaseExpression]:
    """Return the operands of a chain of operators, left to right (`a`, `b` and `c` of `a + b - c`).

    The chain continues through each left operand of the node's type whose
    operator is one of `operators`, by default the type of the node's own
    operator, also in parentheses. A right operand is one operand, even
    when it is an operation itself (`b * c` in `a + b * c`).
    """
    kinds = tuple(operators) or (type(node.operator),)
    kind = type(node)
    # Right to left, because the chain nests to the left.
    found = []
    current: cst.BaseExpression = node
    while type(current) is kind and type(current.operator) in kinds:  # type: ignore[attr-defined]
        found.append(current.right)  # type: ignore[attr-defined]
        current = current.left  # type: ignore[attr-defined]
    found.append(current)
    found.reverse()
    return found
