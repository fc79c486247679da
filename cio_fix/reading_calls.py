"""Calls that are known to leave the objects they are given unchanged.

CIO304 reads them to tell a call that may change what a handler sends
from one that only reads it, in handlers and in the methods they call.
"""

from __future__ import annotations

import re

import libcst as cst

from cio_fix.customerio import dotted_name

LOGGING_RECEIVER = re.compile(r"(?:^|\.)(?:log|logger|logging|_logger|LOGGER|LOG)$")

# Functions that never change the objects they are given, by the last part
# of their name (`json.dumps`, `flask.jsonify`).
READING_FUNCTIONS = frozenset(
    {
        "HttpResponse",
        "JSONResponse",
        "JsonResponse",
        "Response",
        "TemplateResponse",
        "all",
        "any",
        "bool",
        "copy",
        "deepcopy",
        "dict",
        "dumps",
        "enumerate",
        "float",
        "format",
        "frozenset",
        "hash",
        "id",
        "int",
        "isinstance",
        "iter",
        "jsonify",
        "len",
        "list",
        "max",
        "min",
        "print",
        "redirect",
        "render",
        "render_template",
        "repr",
        "set",
        "sorted",
        "str",
        "sum",
        "tuple",
        "type",
        "url_for",
        "vars",
        "zip",
    }
)
# Methods of dicts, lists and strings that only read the object.
READING_METHODS = frozenset(
    {
        "copy",
        "count",
        "dict",
        "endswith",
        "format",
        "get",
        "index",
        "items",
        "keys",
        "json",
        "lower",
        "model_dump",
        "split",
        "startswith",
        "strip",
        "upper",
        "values",
    }
)
# Methods of loggers: a call of one only formats its arguments.
LOGGING_METHODS = frozenset(
    {"critical", "debug", "error", "exception", "info", "log", "warning"}
)


STRING_NODES = (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)


def only_reads(call: cst.Call) -> bool:
    """Tell whether a call is known to leave the objects it is given as they are."""
    func = call.func
    if is_logging_call(call):
        return True
    if isinstance(func, cst.Attribute) and func.attr.value in LOGGING_METHODS:
        return True
    # A method of a string (`", ".join(tags)`) builds a new string.
    if isinstance(func, cst.Attribute) and isinstance(func.value, STRING_NODES):
        return True
    name = dotted_name(func)
    return name is not None and name.rpartition(".")[2] in READING_FUNCTIONS


def is_logging_call(node: cst.BaseExpression) -> bool:
    if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
        return False
    receiver = dotted_name(node.func.value)
    return receiver is not None and LOGGING_RECEIVER.search(receiver) is not None
