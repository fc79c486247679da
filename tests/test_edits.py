"""The shared fix machinery: choosing fixes, the import helper, helper insertion and formatting."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import libcst as cst
import pytest

import cio_fix.style
from cio_fix import pipeline
from cio_fix.codemods import background, bulk, clients
from cio_fix.edits import (
    HELPER_ORDER,
    add_import,
    apply_fixes,
    choose_fixes,
    insert_statements,
    replace_nodes,
)
from cio_fix.formatting import format_fixed_file, format_statement
from cio_fix.metadata import parents
from cio_fix.model import AddImport, Fix, FixSafety, InsertStatements
from cio_fix.style import BlackSettings, FormatterSettings
from cio_fix.walk import find_all

from conftest import run_cli


def _add(source: str, add: AddImport) -> str:
    return add_import(cst.parse_module(source), add).code


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("x = 1\n", "import os\n\nx = 1\n"),
        ('"""Doc."""\nx = 1\n', '"""Doc."""\n\nimport os\n\nx = 1\n'),
        (
            '"""Doc."""\nfrom __future__ import annotations\n\nx = 1\n',
            '"""Doc."""\nfrom __future__ import annotations\n\nimport os\n\nx = 1\n',
        ),
        (
            "import json\nimport time\n\nx = 1\n",
            "import json\nimport os\nimport time\n\nx = 1\n",
        ),
        (
            "import time\n\nimport requests\n",
            "import os\nimport time\n\nimport requests\n",
        ),
        ("import requests\n\nx = 1\n", "import os\n\nimport requests\n\nx = 1\n"),
        ("import os\nx = 1\n", "import os\nx = 1\n"),
        ("import os.path\nx = 1\n", "import os.path\nx = 1\n"),
        (
            "# A comment about json.\nimport json\n",
            "# A comment about json.\nimport json\nimport os\n",
        ),
        (
            "#!/usr/bin/env python\nx = 1\n",
            "#!/usr/bin/env python\nimport os\n\nx = 1\n",
        ),
        # Two blank lines above a top-level class or function, as PEP 8 recommends.
        ("class A:\n    pass\n", "import os\n\n\nclass A:\n    pass\n"),
        (
            '"""Doc."""\n# About f.\ndef f():\n    pass\n',
            '"""Doc."""\n\nimport os\n\n\n# About f.\ndef f():\n    pass\n',
        ),
    ],
)
def test_add_import_plain(source: str, expected: str) -> None:
    assert _add(source, AddImport("os")) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import os\n\nx = 1\n", "import os\nfrom functools import cache\n\nx = 1\n"),
        ("from functools import wraps\n", "from functools import cache, wraps\n"),
        ("from functools import cache\n", "from functools import cache\n"),
        (
            "from functools import (\n    wraps,\n)\n",
            "from functools import cache\nfrom functools import (\n    wraps,\n)\n",
        ),
    ],
)
def test_add_import_from(source: str, expected: str) -> None:
    assert _add(source, AddImport("functools", "cache")) == expected


# A `__future__` import is a section of its own, as in isort and ruff.
FUTURE = "from __future__ import annotations\n"


@pytest.mark.parametrize(
    ("source", "add", "expected"),
    [
        (
            FUTURE + "\nfrom pydantic import BaseModel\n",
            AddImport("os"),
            FUTURE + "\nimport os\n\nfrom pydantic import BaseModel\n",
        ),
        (
            FUTURE + "from pydantic import BaseModel\n",
            AddImport("os"),
            FUTURE + "\nimport os\n\nfrom pydantic import BaseModel\n",
        ),
        (
            FUTURE + "\nfrom pydantic import BaseModel\n",
            AddImport("functools", "cache"),
            FUTURE
            + "\nfrom functools import cache\n\nfrom pydantic import BaseModel\n",
        ),
        (
            FUTURE + "\nimport sys\n\nfrom pydantic import BaseModel\n",
            AddImport("os"),
            FUTURE + "\nimport os\nimport sys\n\nfrom pydantic import BaseModel\n",
        ),
    ],
)
def test_add_import_after_future(source: str, add: AddImport, expected: str) -> None:
    assert _add(source, add) == expected


HELPER = AddImport("app.background", "in_background", first_party=frozenset({"app"}))
THIRD_PARTY = "import os\n\nfrom flask import Flask\n"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            THIRD_PARTY + "\nx = 1\n",
            THIRD_PARTY + "\nfrom app.background import in_background\n\nx = 1\n",
        ),
        (
            THIRD_PARTY + "\nfrom app import settings\nfrom app.tasks import run\n",
            THIRD_PARTY + "\nfrom app import settings\n"
            "from app.background import in_background\nfrom app.tasks import run\n",
        ),
        # `import x` lines come before `from x import y` lines.
        (
            THIRD_PARTY + "\nimport app.tasks\n",
            THIRD_PARTY
            + "\nimport app.tasks\nfrom app.background import in_background\n",
        ),
        # Modules compare without regard to case.
        (
            THIRD_PARTY + "\nfrom app.Zones import zone\n",
            THIRD_PARTY + "\nfrom app.background import in_background\n"
            "from app.Zones import zone\n",
        ),
        # Relative imports are a section of their own, after the first-party one.
        (
            THIRD_PARTY + "\nfrom . import settings\n",
            THIRD_PARTY + "\nfrom app.background import in_background\n\n"
            "from . import settings\n",
        ),
        (
            FUTURE + "\nfrom flask import Flask\n",
            FUTURE + "\nfrom flask import Flask\n\n"
            "from app.background import in_background\n",
        ),
    ],
)
def test_add_import_first_party_sorted(source: str, expected: str) -> None:
    assert _add(source, HELPER) == expected


@pytest.mark.parametrize(
    "source",
    [
        # Sections out of isort's order.
        "from app import settings\nfrom flask import Flask\n",
        # First-party imports out of order.
        "from flask import Flask\n\nfrom app.tasks import run\nfrom app import settings\n",
        # One line that imports two modules.
        "import flask, os\n\nfrom app import settings\n",
    ],
)
def test_add_import_first_party_order_unknown(source: str) -> None:
    assert _add(source, HELPER) == source + "from app.background import in_background\n"


def test_add_import_twice_is_once() -> None:
    module = cst.parse_module("x = 1\n")

    module = add_import(add_import(module, AddImport("os")), AddImport("os"))

    assert module.code == "import os\n\nx = 1\n"


@pytest.mark.parametrize(
    ("source", "on_import", "expected"),
    [
        ("x = 1\nimport os\n", False, "x = 1\nimport os\n"),
        ("x = 1\nimport os\n", True, "import os\n\nx = 1\nimport os\n"),
        ("import os\nx = 1\n", True, "import os\nx = 1\n"),
    ],
)
def test_add_import_below_code(source: str, on_import: bool, expected: str) -> None:
    assert _add(source, AddImport("os", on_import=on_import)) == expected


def test_add_import_from_below_code_not_joined() -> None:
    source = "x = 1\nfrom functools import wraps\n"

    added = _add(source, AddImport("functools", "cache", on_import=True))

    assert (
        added == "from functools import cache\n\nx = 1\nfrom functools import wraps\n"
    )


def test_insert_statements_after_names() -> None:
    source = "import os\n\nKEY = os.environ['K']\n\n\ndef handler():\n    pass\n"
    insert = InsertStatements(
        "helper", "def helper():\n    return KEY\n", frozenset({"KEY"})
    )

    code = insert_statements(cst.parse_module(source), insert).code

    assert code == (
        "import os\n\nKEY = os.environ['K']\n\n\ndef helper():\n    return KEY\n\n\n"
        "def handler():\n    pass\n"
    )


def _statement_above_helper(source: str) -> str:
    """Return the statement above the function that `insert_statements` adds to `source`."""
    insert = InsertStatements("helper", "def helper():\n    pass\n")
    body = insert_statements(cst.parse_module(source), insert).body
    position = next(
        index
        for index, statement in enumerate(body)
        if isinstance(statement, cst.FunctionDef)
    )
    return cst.Module(body=[body[position - 1]]).code.strip()


@pytest.mark.parametrize(
    ("source", "above"),
    [
        (
            "import os\ntry:\n    from customerio import CustomerIO\n"
            "except ImportError:\n    CustomerIO = None\n\nx = 1\n",
            "try:\n    from customerio import CustomerIO\n"
            "except ImportError:\n    CustomerIO = None",
        ),
        (
            "import sys\nif sys.version_info >= (3, 8):\n"
            "    from typing import Protocol\nelse:\n    Protocol = object\n\nx = 1\n",
            "if sys.version_info >= (3, 8):\n    from typing import Protocol\n"
            "else:\n    Protocol = object",
        ),
        (
            "import os\ntry: import ujson as json\nexcept ImportError: json = None\n"
            "\nx = 1\n",
            "try: import ujson as json\nexcept ImportError: json = None",
        ),
    ],
    ids=["try-fallback", "if-fallback", "one-line-blocks"],
)
def test_insert_statements_after_import_fallback(source: str, above: str) -> None:
    assert _statement_above_helper(source) == above


@pytest.mark.parametrize(
    "source",
    [
        "import os\ntry:\n    from customerio import CustomerIO\n"
        "except ImportError:\n    ENABLED = False\n\nx = 1\n",
        "import os\ntry:\n    from customerio import CustomerIO\n"
        "except ImportError:\n    CustomerIO = None\n    log()\n\nx = 1\n",
        "import os\nif DEBUG: x = 1\nelse:\n    import json\n\ny = 1\n",
    ],
    ids=["other-name", "call-in-fallback", "one-line-code-block"],
)
def test_insert_statements_before_code_in_block(source: str) -> None:
    assert _statement_above_helper(source) == "import os"


# A module that gets every helper: the CIO304 thread and task helpers, the
# CIO601 factory and the CIO603 throttle.
EVERY_HELPER = """\
import os

from async_customerio import AsyncCustomerIO
from customerio import CustomerIO
from flask import Flask, request

app = Flask(__name__)
acio = AsyncCustomerIO(os.environ["CIO_SITE_ID"], os.environ["CIO_API_KEY"])


@app.post("/signup")
def signup():
    cio = CustomerIO(os.environ["CIO_SITE_ID"], os.environ["CIO_API_KEY"])
    cio.track(customer_id=request.form["uid"], name="signed_up")
    return "ok"


@app.post("/orders")
async def order_created():
    await acio.track(customer_id=request.form["uid"], name="order_created")
    return "ok"


def backfill(users):
    cio = CustomerIO(os.environ["CIO_SITE_ID"], os.environ["CIO_API_KEY"])
    for user in users:
        cio.identify(id=user.id, email=user.email)
"""
HELPER_DEFINITIONS = [
    "def _customerio_in_background(",
    "async def _customerio_in_background_task(",
    "def _customerio_client(",
    "class _CustomerioThrottle:",
]


@pytest.mark.parametrize(
    "codes", list(itertools.permutations(["CIO304", "CIO601", "CIO603"])), ids="-".join
)
def test_helpers_same_order_rule_by_rule(project, codes: tuple[str, ...]) -> None:
    root = project({"together/app.py": EVERY_HELPER, "in_turn/app.py": EVERY_HELPER})
    run_cli(["--apply", "--unsafe-fixes", "together"], root)
    for code in codes:
        run_cli(["--apply", "--unsafe-fixes", "--select", code, "in_turn"], root)
    together = (root / "together" / "app.py").read_text(encoding="utf-8")
    in_turn = (root / "in_turn" / "app.py").read_text(encoding="utf-8")

    places = [together.find(definition) for definition in HELPER_DEFINITIONS]
    assert -1 not in places
    assert places == sorted(places)
    assert in_turn == together


def test_helper_order_names_every_helper() -> None:
    names = set(HELPER_ORDER)
    rule_names = [
        background.THREAD_HELPER,
        background.TASK_HELPER,
        *clients.CLIENT_NAMES.values(),
        bulk.HELPER_CLASS,
        bulk.HELPER_NAME,
    ]

    for name in rule_names:
        assert name in names


LONG = """\
from customerio import CustomerIO

cio = CustomerIO("3f9a0c1d2e4b5a69c7d1", "0a1b2c3d4e5f6a7b8c9d", timeout=5)
"""


def test_fixed_statement_formatted_when_too_long(project) -> None:
    root = project({"app.py": LONG})

    run_cli(["--apply", "."], root)

    assert (root / "app.py").read_text() == (
        "import os\n\nfrom customerio import CustomerIO\n\ncio = CustomerIO(\n"
        '    os.environ["CUSTOMERIO_SITE_ID"], os.environ["CUSTOMERIO_TRACK_API_KEY"], timeout=5\n'
        ")\n"
    )


def test_fixed_statement_uses_black_line_length(project) -> None:
    root = project(
        {"app.py": LONG, "pyproject.toml": "[tool.black]\nline-length = 120\n"}
    )

    run_cli(["--apply", "."], root)

    assert (root / "app.py").read_text().splitlines()[-1] == (
        'cio = CustomerIO(os.environ["CUSTOMERIO_SITE_ID"], os.environ["CUSTOMERIO_TRACK_API_KEY"], timeout=5)'
    )


def test_black_clean_file_formatted_whole() -> None:
    settings = BlackSettings(enabled=True, string_normalization=True)
    clean = 'x = "a"\n'
    messy = "x = 'a'\n"

    assert format_fixed_file(settings, clean, "x = ( 'b' )\n") == 'x = "b"\n'
    assert format_fixed_file(settings, messy, "x = ( 'b' )\n") == "x = ( 'b' )\n"
    assert format_fixed_file(BlackSettings(), clean, "x = ( 'b' )\n") == "x = ( 'b' )\n"


def _settings_in(folder: Path) -> BlackSettings:
    """Return the formatter settings of a file in `folder`, the project root."""
    return FormatterSettings(folder).for_file(folder / "app.py")


def test_black_settings_from_project(project) -> None:
    with_black = project({"pyproject.toml": "[tool.black]\nline-length = 100\n"})

    assert _settings_in(with_black) == BlackSettings(
        enabled=True, line_length=100, string_normalization=True, quote='"'
    )


def test_black_settings_from_pre_commit(project) -> None:
    root = project(
        {".pre-commit-config.yaml": "repos:\n- repo: https://github.com/psf/black\n"}
    )

    assert _settings_in(root) == BlackSettings(
        enabled=True, string_normalization=True, quote='"'
    )


@pytest.mark.parametrize(
    ("files", "length", "enabled"),
    [
        ({"pyproject.toml": "[tool.ruff]\nline-length = 120\n"}, 120, True),
        ({"ruff.toml": "line-length = 100\n"}, 100, True),
        (
            {
                ".ruff.toml": "line-length = 110\n",
                "pyproject.toml": "[tool.ruff]\nline-length = 120\n",
            },
            110,
            True,
        ),
        ({"pyproject.toml": "[tool.ruff]\nline-length = 0\n"}, 88, True),
        # A ruff.toml that cannot be parsed counts as missing.
        ({"ruff.toml": "line-length = [\n"}, 88, False),
    ],
    ids=["pyproject", "ruff-toml", "dot-ruff-toml-first", "invalid", "broken-toml"],
)
def test_black_settings_take_ruff_line_length(project, files, length, enabled) -> None:
    assert _settings_in(project(files)) == BlackSettings(
        enabled=enabled, line_length=length, ruff_layout=enabled
    )


def test_black_settings_ruff_from_parent_and_extend(project) -> None:
    root = project(
        {
            "ruff-base.toml": "line-length = 120\n",
            "pyproject.toml": '[tool.ruff]\nextend = "ruff-base.toml"\n',
            # A pyproject.toml without [tool.ruff] is passed by, as ruff does.
            "service/pyproject.toml": '[project]\nname = "service"\n',
            "other/ruff.toml": 'extend = "../ruff-base.toml"\nline-length = 100\n',
            "loop/ruff.toml": 'extend = "ruff.toml"\n',
        }
    )
    settings = FormatterSettings(root)

    assert settings.for_file(root / "service/app.py") == BlackSettings(
        enabled=True, line_length=120, ruff_layout=True
    )
    assert settings.for_file(root / "other/app.py") == BlackSettings(
        enabled=True, line_length=100, ruff_layout=True
    )
    assert settings.for_file(root / "loop/app.py") == BlackSettings(
        enabled=True, line_length=88, ruff_layout=True
    )


def test_black_settings_from_ruff_format_options(project) -> None:
    root = project(
        {
            "ruff-base.toml": "line-length = 120\n\n[format]\n"
            "skip-magic-trailing-comma = true\n",
            "pyproject.toml": '[tool.ruff]\nextend = "ruff-base.toml"\n\n'
            '[tool.ruff.format]\nquote-style = "single"\n',
            "kept/ruff.toml": 'extend = "../ruff-base.toml"\n\n[format]\n'
            "skip-magic-trailing-comma = false\n",
        }
    )
    settings = FormatterSettings(root)

    assert settings.for_file(root / "app.py") == BlackSettings(
        enabled=True,
        line_length=120,
        magic_trailing_comma=False,
        quote="'",
        ruff_layout=True,
    )
    assert settings.for_file(root / "kept/app.py") == BlackSettings(
        enabled=True, line_length=120, ruff_layout=True
    )


@pytest.mark.parametrize(
    ("configuration", "indent_width"),
    [
        ("[tool.ruff]\nindent-width = 2\n", 2),
        ('[tool.ruff.format]\nindent-style = "tab"\n', 4),
        (
            '[tool.ruff]\nindent-width = 8\n\n[tool.ruff.format]\nindent-style = "tab"\n',
            8,
        ),
    ],
    ids=["two-spaces", "tabs", "tabs-eight-columns"],
)
def test_ruff_indentation_not_formatted_whole(
    project, configuration, indent_width
) -> None:
    root = project({"pyproject.toml": configuration})

    settings = _settings_in(root)

    # black indents by 4 spaces only, so it would change every block.
    assert not settings.enabled
    assert settings.indent_width == indent_width


@pytest.mark.parametrize(
    ("hooks", "enabled"),
    [
        ("      - id: ruff\n      - id: ruff-format\n", True),
        ("      - id: ruff\n", False),
    ],
    ids=["format-hook", "lint-hook-only"],
)
def test_black_settings_from_ruff_format_hook(project, hooks, enabled) -> None:
    root = project(
        {
            ".pre-commit-config.yaml": "repos:\n"
            "  - repo: https://github.com/astral-sh/ruff-pre-commit\n"
            "    hooks:\n" + hooks
        }
    )

    assert _settings_in(root) == BlackSettings(enabled=enabled, ruff_layout=enabled)


def test_formatter_settings_nearest_black_table(project) -> None:
    root = project(
        {
            "pyproject.toml": "[tool.black]\nline-length = 100\n",
            "svc/pyproject.toml": "[tool.black]\nline-length = 120\n",
            # A pyproject.toml without [tool.black] is passed by, as black does.
            "lib/pyproject.toml": '[project]\nname = "lib"\n',
        }
    )
    settings = FormatterSettings(root)

    assert settings.for_file(root / "svc/deep/app.py").line_length == 120
    assert settings.for_file(root / "lib/app.py").line_length == 100
    assert settings.for_file(root / "app.py").line_length == 100


def test_formatter_settings_black_before_nearer_ruff(project) -> None:
    root = project(
        {
            "pyproject.toml": "[tool.black]\nline-length = 100\n",
            "svc/ruff.toml": "line-length = 120\n",
        }
    )

    settings = FormatterSettings(root).for_file(root / "svc/app.py")

    assert settings.enabled
    assert settings.line_length == 100


def test_formatter_settings_ruff_below_root(project) -> None:
    root = project(
        {
            "ruff.toml": "line-length = 100\n",
            "svc/pyproject.toml": "[tool.ruff]\nline-length = 120\n",
        }
    )
    settings = FormatterSettings(root)

    assert settings.for_file(root / "svc/app.py") == BlackSettings(
        enabled=True, line_length=120, ruff_layout=True
    )
    assert settings.for_file(root / "app.py") == BlackSettings(
        enabled=True, line_length=100, ruff_layout=True
    )


def test_formatter_settings_black_stops_at_work_tree(project) -> None:
    # black stops its search at the top of the work tree; ruff does not.
    root = project(
        {
            "pyproject.toml": "[tool.black]\nline-length = 100\n",
            "ruff.toml": "line-length = 120\n",
            "repo/app.py": "",
        }
    )
    (root / "repo/.git").mkdir()

    settings = FormatterSettings(root / "repo").for_file(root / "repo/app.py")

    assert settings == BlackSettings(enabled=True, line_length=120, ruff_layout=True)


def test_formatter_settings_read_each_file_once(project, monkeypatch) -> None:
    root = project(
        {
            "ruff.toml": "line-length = 100\n",
            "svc/pyproject.toml": '[project]\nname = "svc"\n',
        }
    )
    reads: list[Path] = []
    read_toml = cio_fix.style._toml

    def counted(path: Path) -> dict | None:
        reads.append(path)
        return read_toml(path)

    monkeypatch.setattr(cio_fix.style, "_toml", counted)
    settings = FormatterSettings(root)
    for name in ("svc/a.py", "svc/b.py", "svc/inner/c.py", "other/d.py", "e.py"):
        assert settings.for_file(root / name).line_length == 100

    assert reads
    assert len(reads) == len(set(reads))


BLACK_EXCLUDE_FILES = [
    "app.py",
    "legacy/app.py",
    "legacy_import.py",
    "a/legacy/b/app.py",
    "_build/app.py",
    "proto/models_pb2.py",
]


@pytest.mark.parametrize(
    ("setting", "excluded"),
    [
        # black's default excludes apply while `exclude` is not set.
        ('extend-exclude = "^/legacy/"', {"legacy/app.py", "_build/app.py"}),
        # `exclude` replaces the defaults. Matching the folder "/legacy/"
        # leaves out every file below it.
        ('exclude = "^/legacy/$"', {"legacy/app.py"}),
        ('exclude = ""', set()),
        (
            'exclude = "legacy"',
            {"legacy/app.py", "legacy_import.py", "a/legacy/b/app.py"},
        ),
        ('force-exclude = "legacy_"', {"legacy_import.py", "_build/app.py"}),
        (
            'extend-exclude = "_pb2\\\\.py$"',
            {"proto/models_pb2.py", "_build/app.py"},
        ),
        # A pattern over several lines is read in verbose mode.
        (
            'exclude = """\n^/(\n  legacy\n  | proto\n)/\n"""',
            {"legacy/app.py", "proto/models_pb2.py"},
        ),
        # black rejects an invalid pattern and formats no file.
        ('extend-exclude = "("', set(BLACK_EXCLUDE_FILES)),
        ('extend-exclude = ["legacy"]', set(BLACK_EXCLUDE_FILES)),
    ],
    ids=[
        "extend-exclude",
        "exclude-folder",
        "exclude-empty",
        "exclude-anywhere",
        "force-exclude",
        "file-pattern",
        "verbose",
        "invalid",
        "not-a-string",
    ],
)
def test_black_settings_exclude(project, setting, excluded) -> None:
    root = project({"pyproject.toml": f"[tool.black]\n{setting}\n"})
    settings = FormatterSettings(root)

    left_out = set()
    for name in BLACK_EXCLUDE_FILES:
        if not settings.for_file(root / name).enabled:
            left_out.add(name)

    assert left_out == excluded


def test_black_settings_excluded_file(project) -> None:
    root = project(
        {"pyproject.toml": '[tool.black]\nline-length = 100\nextend-exclude = "old"\n'}
    )

    settings = FormatterSettings(root).for_file(root / "old.py")

    assert settings == BlackSettings(line_length=100)


def test_black_settings_exclude_from_table_folder(project) -> None:
    # Patterns match the path from the folder of the [tool.black] table.
    root = project({"svc/pyproject.toml": '[tool.black]\nextend-exclude = "^/old/"\n'})
    settings = FormatterSettings(root)

    assert not settings.for_file(root / "svc/old/app.py").enabled
    assert settings.for_file(root / "svc/app.py").enabled
    assert settings.for_file(root / "svc/new/old/app.py").enabled


SINGLE_QUOTED_APP = """\
from customerio import CustomerIO

cio = CustomerIO('3f9a0c1d2e4b7a8c', '0a1b2c3d4e5f6a7b')
"""


def test_black_excluded_file_keeps_own_quotes(project) -> None:
    root = project(
        {
            "pyproject.toml": '[tool.black]\nextend-exclude = "^/legacy/"\n',
            "legacy/app.py": SINGLE_QUOTED_APP,
            "app.py": SINGLE_QUOTED_APP,
        }
    )

    run_cli(["--apply", "--select", "CIO101", "."], root)

    assert "os.environ['CUSTOMERIO_SITE_ID']" in (root / "legacy/app.py").read_text()
    assert 'os.environ["CUSTOMERIO_SITE_ID"]' in (root / "app.py").read_text()


def test_black_exclude_change_invalidates_cache(project) -> None:
    root = project(
        {"pyproject.toml": "[tool.black]\n", "legacy/app.py": SINGLE_QUOTED_APP}
    )

    formatted = run_cli(["--dry-run", "--select", "CIO101", "."], root)
    (root / "pyproject.toml").write_text('[tool.black]\nextend-exclude = "legacy"\n')
    excluded = run_cli(["--dry-run", "--select", "CIO101", "."], root)

    assert (root / ".cio_fix_cache").is_dir()
    assert 'os.environ["CUSTOMERIO_SITE_ID"]' in formatted.stdout
    assert "os.environ['CUSTOMERIO_SITE_ID']" in excluded.stdout


RUFF_PROJECT_APP = """\
from customerio import CustomerIO

cio = CustomerIO(SITE_ID, API_KEY)


def viewed(uid, kind, product, source):
    cio.track(uid, f"viewed_{kind}", data={"product": product, "source": source, "page": 1})
"""


def test_fixed_line_kept_within_ruff_limit(project) -> None:
    files = {
        "pyproject.toml": '[project]\ndependencies = ["customerio==3.1"]\n\n'
        "[tool.ruff]\nline-length = 120\n",
        "app.py": RUFF_PROJECT_APP,
    }
    root = project(files)
    run_cli(["--apply", "--select", "CIO301", "."], root)
    fixed = (root / "app.py").read_text()
    assert (
        '    cio.track(uid, "viewed", data={"product": product, "source": source'
        in fixed
    )
    assert max(len(line) for line in fixed.splitlines()) <= 120


def test_ruff_line_length_change_invalidates_cache(project) -> None:
    # The ruff configuration sits above the project root, as in a monorepo.
    files = {
        "service/pyproject.toml": '[project]\ndependencies = ["customerio==3.1"]\n',
        "ruff.toml": "line-length = 120\n",
        "service/app.py": RUFF_PROJECT_APP,
    }
    service = project(files) / "service"
    wide = run_cli(["--dry-run", "--select", "CIO301", "."], service)
    assert (service / ".cio_fix_cache").is_dir()
    (service.parent / "ruff.toml").write_text("line-length = 88\n")
    narrow = run_cli(["--dry-run", "--select", "CIO301", "."], service)
    assert '+    cio.track(uid, "viewed", data={' in wide.stdout
    assert "+    cio.track(\n" in narrow.stdout


def _services_with_own_formatters(project) -> Path:
    """Write a git repository whose services lay out code at different widths."""
    root = project(
        {
            "pyproject.toml": '[project]\ndependencies = ["customerio==3.1"]\n',
            "services/black/pyproject.toml": "[tool.black]\nline-length = 120\n",
            "services/black/app.py": RUFF_PROJECT_APP,
            # The line length comes from a folder that is not above the file.
            "services/ruff/ruff.toml": 'extend = "../../config/ruff.toml"\n',
            "config/ruff.toml": "line-length = 120\n",
            "services/ruff/app.py": RUFF_PROJECT_APP,
            "services/plain/app.py": RUFF_PROJECT_APP,
        }
    )
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


ONE_LINE_CALL = (
    '    cio.track(uid, "viewed", data={"product": product, "source": source'
)


@pytest.mark.parametrize(
    "targets",
    [
        ["."],
        ["services"],
        ["services/black/app.py", "services/ruff/app.py", "services/plain/app.py"],
    ],
)
def test_service_formatter_lays_out_fixes(project, targets) -> None:
    root = _services_with_own_formatters(project)

    result = run_cli(["--apply", "--select", "CIO301", *targets], root)
    black = (root / "services/black/app.py").read_text()
    ruff = (root / "services/ruff/app.py").read_text()
    plain = (root / "services/plain/app.py").read_text()

    assert result.exit_code == 0
    assert ONE_LINE_CALL in black
    assert ONE_LINE_CALL in ruff
    assert ONE_LINE_CALL not in plain
    assert "    cio.track(\n" in plain
    assert max(len(line) for line in plain.splitlines()) <= 88


def test_service_black_change_invalidates_cache(project) -> None:
    root = _services_with_own_formatters(project)
    service = root / "services/black"

    wide = run_cli(["--dry-run", "--select", "CIO301", "."], root)
    (service / "pyproject.toml").write_text("[tool.black]\nline-length = 88\n")
    narrow = run_cli(["--dry-run", "--select", "CIO301", "services/black"], root)
    (root / "config/ruff.toml").write_text("line-length = 88\n")
    ruff_narrow = run_cli(["--dry-run", "--select", "CIO301", "."], root)

    assert (root / ".cio_fix_cache").is_dir()
    assert f"+{ONE_LINE_CALL}" in wide.stdout
    assert f"+{ONE_LINE_CALL}" not in narrow.stdout
    assert "+    cio.track(\n" in narrow.stdout
    assert f"+{ONE_LINE_CALL}" not in ruff_narrow.stdout


def test_choose_fixes_defers_nested_fixes() -> None:
    module = cst.parse_module("track(a, b)\nidentify(c)\n")
    parent_of = parents(module)
    track = module.body[0].body[0].value
    identify = module.body[1].body[0].value
    whole = Fix(FixSafety.SAFE, {track: cst.Name("x")})
    inside = Fix(FixSafety.SAFE, {track.args[0]: cst.Arg(cst.Name("y"))})
    sibling = Fix(FixSafety.SAFE, {track.args[1]: cst.Arg(cst.Name("z"))})
    elsewhere = Fix(FixSafety.SAFE, {identify: cst.Name("w")})

    assert choose_fixes([whole, inside, elsewhere], parent_of) == [whole, elsewhere]
    assert choose_fixes([inside, whole, sibling], parent_of) == [inside, sibling]
    assert choose_fixes([inside, inside], parent_of) == [inside]


class _Swap(cst.CSTTransformer):
    """libcst's own transform of a node replacement, which apply_fixes must match."""

    def __init__(self, replacements: dict[int, object]) -> None:
        super().__init__()
        self.replacements = replacements

    def on_leave(self, original_node, updated_node):  # type: ignore[no-untyped-def]
        return self.replacements.get(id(original_node), updated_node)


def _call(module: cst.Module, name: str) -> cst.Call:
    return next(
        call
        for call in find_all(module, cst.Call)
        if isinstance(call.func, cst.Name) and call.func.value == name
    )


def _line(module: cst.Module, name: str) -> cst.SimpleStatementLine:
    parent_of = parents(module)
    return parent_of[parent_of[_call(module, name)]]  # type: ignore[return-value]


SOURCE = """\
import os


def first(a) -> int:
    a()  # keep
    b(1, 2)
    return c(3)


class Holder:
    def second(self):
        if d():
            e()
"""


def _two_lines() -> cst.FlattenSentinel:
    return cst.FlattenSentinel(
        [cst.parse_statement("x = 1\n"), cst.parse_statement("y = 2\n")]
    )


# Each case maps nodes of the parsed SOURCE to their replacements.
REPLACEMENT_CASES = {
    "statement removed": lambda m: {_line(m, "a"): cst.RemovalSentinel.REMOVE},
    "statement line emptied": lambda m: {
        _line(m, "e").body[0]: cst.RemovalSentinel.REMOVE
    },
    "statements spliced": lambda m: {_line(m, "b"): _two_lines()},
    "argument spliced": lambda m: {
        _call(m, "b").args[0]: cst.FlattenSentinel(
            [cst.Arg(cst.Name("x"), comma=cst.Comma()), cst.Arg(cst.Name("y"))]
        )
    },
    "optional child removed": lambda m: {
        next(iter(find_all(m, cst.Annotation))): cst.RemovalSentinel.REMOVE,
        _call(m, "c").args[0].comma: cst.RemovalSentinel.REMOVE,
    },
    "several functions": lambda m: {
        _call(m, "b").func: cst.Name("bb"),
        _call(m, "d"): cst.Name("dd"),
        _call(m, "e").func: cst.Name("ee"),
    },
    "replacement around replacement": lambda m: {
        _line(m, "b"): cst.parse_statement("z = 3\n"),
        _call(m, "b").func: cst.Name("bb"),
    },
}


@pytest.mark.parametrize("case", REPLACEMENT_CASES)
def test_apply_fixes_matches_libcst_transform(case: str) -> None:
    module = cst.parse_module(SOURCE)
    replacements = REPLACEMENT_CASES[case](module)
    expected = module.visit(
        _Swap({id(node): new for node, new in replacements.items()})
    )

    fixed = apply_fixes(module, [Fix(FixSafety.SAFE, replacements)])

    assert fixed.code == expected.code
    assert fixed.deep_equals(expected)


def test_wrapped_call_laid_out_at_black_line_length(project) -> None:
    app = (
        "import os\n"
        "from customerio import CustomerIO\n"
        "from flask import Flask\n\n"
        "app = Flask(__name__)\n"
        'cio = CustomerIO(os.environ["S"], os.environ["K"])\n\n\n'
        '@app.post("/plans/<plan>")\n'
        "def change_plan(plan):\n"
        '    user = {"id": "u1"}\n'
        '    cio.track(customer_id=user["id"], name="subscription_plan_changed_to_" + plan)\n'
        '    return "ok"\n'
    )
    files = {
        "pyproject.toml": '[project]\ndependencies = ["customerio>=3.0,<4"]\n\n'
        "[tool.black]\nline-length = 100\n",
        "app.py": app,
    }
    root = project(files)

    run_cli(["--apply", "--select", "CIO301,CIO304", "."], root)

    # Black at 100 columns keeps the arguments on one line of their own.
    assert (
        "    _customerio_in_background(\n"
        '        cio.track, customer_id=user["id"], name="subscription_plan_changed_to",'
        ' data={"plan": plan}\n'
        "    )\n"
    ) in (root / "app.py").read_text()


HANDLER_APP = """\
from customerio import CustomerIO
from flask import Flask

app = Flask(__name__)
cio = CustomerIO("3f9a0c1d2e4b5a69c7d1", KEY)


@app.post("/signup")
def signup(form):
    if form:
        if form["id"]:
            cio.track(customer_id=form["id"], name="signed_up", plan=form["p"])
    return "ok"
"""


def test_inserted_helper_fits_a_short_line_length(project) -> None:
    files = {
        "pyproject.toml": '[project]\ndependencies = ["customerio>=2,<3"]\n\n'
        "[tool.ruff]\nline-length = 79\n",
        "app.py": HANDLER_APP,
    }
    root = project(files)

    run_cli(["--apply", "--select", "CIO304", "."], root)

    fixed = (root / "app.py").read_text()
    assert ".add_done_callback(\n        finish\n    )\n" in fixed
    assert max(len(line) for line in fixed.splitlines()) <= 79


def test_tab_counts_four_columns_in_call_layout(project) -> None:
    files = {
        "pyproject.toml": '[project]\ndependencies = ["customerio>=2,<3"]\n\n'
        "[tool.ruff]\nline-length = 79\n",
        "app.py": HANDLER_APP.replace("    ", "\t"),
    }
    root = project(files)

    run_cli(["--apply", "--select", "CIO304", "."], root)

    fixed = (root / "app.py").read_text()
    # Three tabs are twelve columns, so the arguments do not fit one line.
    assert "\t\t\t_customerio_in_background(\n\t\t\t\tcio.track,\n" in fixed
    assert max(len(line.expandtabs(4)) for line in fixed.splitlines()) <= 79


VISIT_APP = """\
import os
from datetime import datetime

from customerio import CustomerIO
from flask import Flask, request

app = Flask(__name__)
cio = CustomerIO(os.environ["CIO_SITE_ID"], os.environ["CIO_API_KEY"])


@app.post("/visit")
def visit():
    uid = request.form["uid"]
    cio.track(customer_id=uid, name="visit", data={"at": datetime.now()})  # noqa: DTZ005
    return "ok"
"""


def test_directive_comment_kept_by_black_pass(project) -> None:
    files = {"pyproject.toml": "[tool.black]\nline-length = 100\n", "app.py": VISIT_APP}
    root = project(files)

    run_cli(["--apply", "--select", "CIO304", "."], root)

    # The file was black-clean, so black laid out the whole fixed file again.
    assert (
        "    _customerio_in_background(\n"
        '        cio.track, customer_id=uid, name="visit", data={"at": datetime.now()}'
        "  # noqa: DTZ005\n"
        "    )\n"
    ) in (root / "app.py").read_text()


def test_directive_comment_reason_after_apply(project) -> None:
    root = project({"app.py": VISIT_APP})
    args = ["--select", "CIO304", "--output-format", "json", "."]

    dry_run = run_cli(args, root)
    applied = run_cli(["--apply", *args], root)

    [reported] = dry_run.json["findings"]
    [left] = applied.json["findings"]
    assert reported["fix"] is None
    assert reported["message"].endswith(
        "(not fixed: the fixed statement does not fit on one line, and splitting it"
        " would move `# noqa: DTZ005` off the line of the code that it is about;"
        " fix it by hand)"
    )
    assert left["message"] == reported["message"]
    assert (root / "app.py").read_text() == VISIT_APP


LONG_CALL = (
    'client = CustomerIO(os.environ["CUSTOMERIO_SITE_ID"],'
    ' os.environ["CUSTOMERIO_TRACK_API_KEY"], region=region)\n'
)


def _format_in_block(code: str, indent: str) -> str:
    """Format `code` as a fixed statement of a block indented by `indent`, print the module."""
    statement = cst.parse_statement(code)
    original = cst.parse_statement("client = CustomerIO(site_id, api_key)\n")
    formatted = format_statement(statement, original, indent, "\t", BlackSettings())
    block = cst.IndentedBlock(body=[formatted], indent=indent)
    function = cst.FunctionDef(
        name=cst.Name("make"), params=cst.Parameters(), body=block
    )
    return cst.Module(body=[function], default_indent="\t").code


def test_format_statement_tab_indent() -> None:
    code = _format_in_block(LONG_CALL, "\t")

    assert code == (
        "def make():\n"
        "\tclient = CustomerIO(\n"
        '\t\tos.environ["CUSTOMERIO_SITE_ID"],\n'
        '\t\tos.environ["CUSTOMERIO_TRACK_API_KEY"],\n'
        "\t\tregion=region,\n"
        "\t)\n"
    )
    compile(code, "fixed.py", "exec")


def test_format_statement_top_level_tabs() -> None:
    # A statement that no block indents takes the module's tab for its lines.
    statement = cst.parse_statement(LONG_CALL)
    original = cst.parse_statement("client = CustomerIO(site_id, api_key)\n")

    formatted = format_statement(statement, original, "", "\t", BlackSettings())
    code = cst.Module(body=[formatted], default_indent="\t").code

    assert '\n\tos.environ["CUSTOMERIO_SITE_ID"],\n' in code
    assert "    " not in code


def test_format_statement_tab_keeps_string_text() -> None:
    call = LONG_CALL.replace("region=region", 'note="""first\n    second"""')

    code = _format_in_block(call, "\t")

    assert '\t\tnote="""first\n    second""",\n' in code
    compile(code, "fixed.py", "exec")


def test_format_statement_tab_counts_four_columns() -> None:
    # 19 tabs are 76 columns, which leaves black less than MIN_WIDTH of 88.
    statement = cst.parse_statement(LONG_CALL)
    original = cst.parse_statement("client = CustomerIO(site_id, api_key)\n")

    formatted = format_statement(statement, original, "\t" * 19, "\t", BlackSettings())

    assert formatted is statement


def test_format_statement_mixed_indent_unchanged() -> None:
    # Tabs and spaces in one indentation: which unit to write is unclear.
    statement = cst.parse_statement(LONG_CALL)
    original = cst.parse_statement("client = CustomerIO(site_id, api_key)\n")

    formatted = format_statement(statement, original, "\t    ", "\t", BlackSettings())

    assert formatted is statement


def test_format_statement_tab_function_header() -> None:
    header = (
        "def track_signup(customer_id, email, created_at, plan, source, campaign,"
        " referrer):\n    pass\n"
    )
    statement = cst.parse_statement(header)
    original = cst.parse_statement("def track_signup(customer_id):\n    pass\n")

    formatted = format_statement(statement, original, "\t", "\t", BlackSettings())
    code = cst.Module(body=[], default_indent="\t").code_for_node(formatted)

    assert code.startswith("def track_signup(\n\tcustomer_id, email,")
    assert "\n):\n" in code


def test_format_statement_ruff_indent_width() -> None:
    statement = cst.parse_statement(LONG_CALL)
    original = cst.parse_statement("client = CustomerIO(site_id, api_key)\n")
    settings = BlackSettings(indent_width=2)

    formatted = format_statement(statement, original, "  ", "  ", settings)
    code = cst.Module(body=[], default_indent="  ").code_for_node(formatted)

    assert code == (
        "client = CustomerIO(\n"
        '  os.environ["CUSTOMERIO_SITE_ID"],\n'
        '  os.environ["CUSTOMERIO_TRACK_API_KEY"],\n'
        "  region=region,\n"
        ")\n"
    )


def test_format_statement_tab_counts_indent_width() -> None:
    # 10 tabs of 8 columns leave black 8 of 88 columns, less than MIN_WIDTH.
    statement = cst.parse_statement(LONG_CALL)
    original = cst.parse_statement("client = CustomerIO(site_id, api_key)\n")
    settings = BlackSettings(indent_width=8)

    formatted = format_statement(statement, original, "\t" * 10, "\t", settings)

    assert formatted is statement


LOGGED_HELPER = """\
def _log_failure(method, error):
    logging.getLogger(__name__).error(
        "Customer.io call %s failed: %s",
        method.__name__,
        type(error).__name__,
    )
"""


def test_helper_joined_without_magic_trailing_comma() -> None:
    module = cst.parse_module("import logging\n\nx = 1\n")
    fix = Fix(
        FixSafety.SAFE,
        inserts=(InsertStatements("logged", LOGGED_HELPER),),
    )

    exploded = apply_fixes(module, [fix], BlackSettings(line_length=120)).code
    joined = apply_fixes(
        module, [fix], BlackSettings(line_length=120, magic_trailing_comma=False)
    ).code

    assert LOGGED_HELPER in exploded
    assert (
        '    logging.getLogger(__name__).error("Customer.io call %s failed: %s",'
        " method.__name__, type(error).__name__)\n"
    ) in joined


def test_replace_nodes_inside_long_chain() -> None:
    # 1,200 adjacent literals nest deeper than Python's recursion limit.
    code = "x = (\n" + "".join(f'    "<p>{n}</p>"\n' for n in range(1200)) + ")\n"
    module = cst.parse_module(code)
    last = find_all(module, cst.SimpleString)[-1]

    with pipeline._stack_budget():
        replaced = replace_nodes(module, {last: last.with_changes(value='"end"')})

    assert replaced.code == code.replace('"<p>1199</p>"', '"end"')
    assert module.code == code


def test_replace_nodes_shared_node_both_places() -> None:
    shared = cst.SimpleString('"a"')
    line = cst.SimpleStatementLine([cst.Expr(shared)])
    module = cst.Module(body=[line, line.with_changes(body=[cst.Expr(shared)])])

    replaced = replace_nodes(module, {shared: cst.SimpleString("'a'")})

    assert replaced.code == "'a'\n'a'\n"


def test_replace_nodes_nothing_to_replace() -> None:
    module = cst.parse_module("x = 1\n")

    assert replace_nodes(module, {}) is module
