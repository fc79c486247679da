"""Annotated helpers in annotated modules: which modules count, and the code written."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading

import libcst as cst
import pytest
from libcst.helpers import get_full_name_for_node

from cio_fix.annotations import format_def
from cio_fix.edits import helper_rank

from conftest import FIXTURES, run_cli

# Fixed files of annotated modules, with the Python that ruff checks them for.
ANNOTATED_FIXTURES = [
    ("CIO304/annotated_module.expected.py", "py39"),
    ("CIO304/annotated_async_client.expected.py", "py39"),
    ("CIO304/annotated_python38/app.expected.py", "py38"),
    ("CIO304/annotated_python37/app.expected.py", "py37"),
    ("CIO304/annotated_python37_async/routes.expected.py", "py37"),
    ("CIO304/annotated_type_checking_import.expected.py", "py310"),
    ("CIO304/annotated_type_checking_postponed.expected.py", "py310"),
    ("CIO304/annotated_type_checking_async.expected.py", "py310"),
    ("CIO601/annotated_factories.expected.py", "py39"),
]

VIEW = """\
import os

from customerio import CustomerIO
from flask import Flask, request

app = Flask(__name__)
{extra}

@app.post("/orders")
def order_created(){returns}:
    cio = CustomerIO(os.environ["CUSTOMERIO_SITE_ID"], os.environ["CUSTOMERIO_API_KEY"])
    cio.track(customer_id=request.get_json()["user_id"], name="order_placed")
    return "ok"
"""


def _fixed(project, source: str, code: str) -> str:
    folder = project({"views.py": source})
    run_cli(["--apply", "--select", code, "."], folder)
    return (folder / "views.py").read_text(encoding="utf-8")


@pytest.mark.parametrize(("fixture", "python"), ANNOTATED_FIXTURES)
def test_fixed_fixture_passes_ruff_ann(fixture: str, python: str) -> None:
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--no-cache",
            "--select",
            "ANN,F,UP,TC004",
            "--target-version",
            python,
            "--line-length",
            "100",
            str(FIXTURES / fixture),
        ],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout


@pytest.mark.parametrize(("fixture", "python"), ANNOTATED_FIXTURES)
def test_fixed_fixture_compiles(fixture: str, python: str) -> None:
    source = (FIXTURES / fixture).read_text(encoding="utf-8")
    compile(source, fixture, "exec")


def test_parameter_annotations_alone_not_annotated(project) -> None:
    source = VIEW.format(extra="", returns="").replace(
        "def order_created()", "def order_created(user_id: int)"
    )
    fixed = _fixed(project, source, "CIO304")
    assert "def _customerio_in_background(method, /, *args, **kwargs):" in fixed
    assert "def finish(future):" in fixed


def test_one_unannotated_function_keeps_plain_helper(project) -> None:
    extra = "\n\ndef total(order):\n    return order.total\n"
    fixed = _fixed(project, VIEW.format(extra=extra, returns=" -> str"), "CIO304")
    assert "def _customerio_in_background(method, /, *args, **kwargs):" in fixed
    assert "Callable" not in fixed


def test_init_without_return_counts_as_annotated(project) -> None:
    extra = (
        "\n\nclass Order:\n    def __init__(self, total: int):\n"
        "        self.total = total\n"
    )
    fixed = _fixed(project, VIEW.format(extra=extra, returns=" -> str"), "CIO304")
    assert (
        "    method: Callable[..., object], /, *args: object, **kwargs: object" in fixed
    )
    assert "from collections.abc import Callable" in fixed


def test_annotation_name_taken_keeps_plain_helper(project) -> None:
    extra = "\nCallable = object\n"
    fixed = _fixed(project, VIEW.format(extra=extra, returns=" -> str"), "CIO304")
    assert "def _customerio_in_background(method, /, *args, **kwargs):" in fixed
    assert "from collections.abc import Callable" not in fixed


def test_existing_typing_import_reused(project) -> None:
    source = "from typing import Callable\n" + VIEW.format(extra="", returns=" -> str")
    fixed = _fixed(project, source, "CIO304")
    assert "method: Callable[..., object]" in fixed
    assert "collections.abc" not in fixed


TYPE_CHECKING_IMPORT = """\
from {module} import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
"""


def test_type_checking_import_reused_quoted(project) -> None:
    imports = TYPE_CHECKING_IMPORT.format(module="typing")
    fixed = _fixed(
        project, imports + VIEW.format(extra="", returns=" -> str"), "CIO304"
    )
    assert 'method: "Callable[..., object]"' in fixed
    assert fixed.count("from collections.abc import Callable") == 1


def test_type_checking_of_other_module_not_reused(project) -> None:
    # The flag of another module may be true when the module runs.
    imports = TYPE_CHECKING_IMPORT.format(module="settings")
    fixed = _fixed(
        project, imports + VIEW.format(extra="", returns=" -> str"), "CIO304"
    )
    assert "method: Callable[..., object]" in fixed
    assert fixed.count("from collections.abc import Callable") == 2


def test_factory_return_quoted_after_try_import(project) -> None:
    source = VIEW.format(extra="", returns=" -> str").replace(
        "from customerio import CustomerIO\n",
        "try:\n    from customerio import CustomerIO\nexcept ImportError:\n"
        "    from customerio.track import CustomerIO\n",
    )
    fixed = _fixed(project, source, "CIO601")
    assert 'def _customerio_client() -> "CustomerIO":' in fixed


def test_factory_return_plain_after_import(project) -> None:
    fixed = _fixed(project, VIEW.format(extra="", returns=" -> str"), "CIO601")
    assert "def _customerio_client() -> CustomerIO:" in fixed


def test_factory_unannotated_module_plain(project) -> None:
    fixed = _fixed(project, VIEW.format(extra="", returns=""), "CIO601")
    assert "def _customerio_client():" in fixed


PYTHON37_PROJECT = """\
[project]
name = "shop"
version = "1.0"
requires-python = ">=3.7"
"""


def test_python37_helper_cast_name_taken_plain(project) -> None:
    source = VIEW.format(extra="\ncast = object\n", returns=" -> str")
    folder = project({"views.py": source, "pyproject.toml": PYTHON37_PROJECT})
    run_cli(["--apply", "--select", "CIO304", "."], folder)
    fixed = (folder / "views.py").read_text(encoding="utf-8")

    assert "def _customerio_in_background(*args, **kwargs):" in fixed
    assert "    method, *args = args\n" in fixed


def _helpers_of(fixture: str) -> dict[str, object]:
    """Run the helpers of a fixed file with its standard-library imports, and nothing else."""
    module = cst.parse_module((FIXTURES / fixture).read_text(encoding="utf-8"))
    statements = [
        statement
        for statement in module.body
        if helper_rank(statement) is not None or _imports_standard_library(statement)
    ]
    namespace: dict[str, object] = {"__name__": "fixed"}
    exec(compile(module.with_changes(body=statements).code, fixture, "exec"), namespace)
    return namespace


def _imports_standard_library(statement: cst.BaseStatement) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    small = statement.body[0]
    if isinstance(small, cst.Import):
        imported = small.names[0].name
    elif isinstance(small, cst.ImportFrom) and small.module is not None:
        imported = small.module
    else:
        return False
    package = get_full_name_for_node(imported).split(".")[0]
    return package in sys.stdlib_module_names


def test_python37_thread_helper_passes_arguments() -> None:
    helpers = _helpers_of("CIO304/annotated_python37/app.expected.py")
    calls = []
    called = threading.Event()

    def track(*args: object, **kwargs: object) -> None:
        calls.append((args, kwargs))
        called.set()

    helpers["_customerio_in_background"](track, "user-1", name="paid", method="card")

    assert called.wait(10)
    assert calls == [(("user-1",), {"name": "paid", "method": "card"})]


def test_python37_task_helper_passes_arguments() -> None:
    helpers = _helpers_of("CIO304/annotated_python37_async/routes.expected.py")
    calls = []

    async def track(*args: object, **kwargs: object) -> None:
        calls.append((args, kwargs))

    async def request() -> None:
        helper = helpers["_customerio_in_background_task"]
        await helper(track, "user-1", name="placed", method="card")
        await asyncio.gather(*helpers["_customerio_tasks"])

    asyncio.run(request())

    assert calls == [(("user-1",), {"name": "placed", "method": "card"})]


@pytest.mark.parametrize(
    ("line_length", "expected"),
    [
        (88, "def run(a: int, b: int) -> None:"),
        (30, "def run(\n    a: int, b: int\n) -> None:"),
        (12, "def run(\n    a: int,\n    b: int,\n) -> None:"),
    ],
)
def test_format_def_layouts(line_length: int, expected: str) -> None:
    assert format_def("run", ["a: int", "b: int"], "None", line_length=line_length) == (
        expected
    )


def test_format_def_indented() -> None:
    laid_out = format_def("finish", ["future: Future[object]"], "None", indent="    ")
    assert laid_out == "    def finish(future: Future[object]) -> None:"
