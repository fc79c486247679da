"""New string literals follow the quotes of the file, or of the project's formatter."""

from __future__ import annotations

import black
import libcst as cst
import pytest

from cio_fix.customerio import build_index
from cio_fix.metadata import code_of, parents
from cio_fix.quotes import (
    FileLiterals,
    f_string_with_quote,
    needs_python_312,
    requote_replacements,
    with_quote,
)
from cio_fix.style import FormatterSettings
from cio_fix.walk import find_all

from conftest import run_cli

SINGLE_QUOTED_APP = """\
import time
from customerio import CustomerIO

cio = CustomerIO('3f9a0c1d2e4b5a69c7d1', '0a1b2c3d4e5f6a7b8c9d')


def checkout(user):
    cio.track(customer_id=user['id'], name=f'bought_{str(user["sku"])}')
    return 'ok'
"""

REQUIREMENTS = {"requirements.txt": "customerio==3.1\n"}


def literals_of(code: str) -> FileLiterals:
    return build_index(cst.parse_module(code), "app", False).literals


def test_single_quoted_file_gets_single_quotes(project) -> None:
    root = project({"app.py": SINGLE_QUOTED_APP, **REQUIREMENTS})

    run_cli(["--apply", "--unsafe-fixes", "."], root)

    fixed = (root / "app.py").read_text()
    assert (
        "os.environ['CUSTOMERIO_SITE_ID'], os.environ['CUSTOMERIO_TRACK_API_KEY']"
        in fixed
    )
    # The value taken out of the f-string had double quotes only because
    # the f-string's own quote was single.
    assert "name='bought', data={'value': str(user['sku'])}" in fixed
    assert '"' not in fixed


def test_value_text_keeps_f_string_quotes(project) -> None:
    app = SINGLE_QUOTED_APP.replace('{str(user["sku"])}', '{user["sku"]}')
    root = project({"app.py": app, **REQUIREMENTS})

    run_cli(["--apply", "--select", "CIO301", "."], root)

    # The fix sends the text of a value of unknown type with the
    # placeholder as the name wrote it.
    fixed = (root / "app.py").read_text()
    assert """name='bought', data={'sku': f'{user["sku"]}'}""" in fixed


def test_tied_file_gets_double_quotes(project) -> None:
    app = SINGLE_QUOTED_APP.replace("return 'ok'", 'return "ok"').replace(
        "'0a1b2c3d4e5f6a7b8c9d'", '"0a1b2c3d4e5f6a7b8c9d"'
    )
    root = project({"app.py": app, **REQUIREMENTS})

    run_cli(["--apply", "--select", "CIO301", "."], root)

    fixed = (root / "app.py").read_text()
    assert 'name="bought", data={"value": str(user["sku"])}' in fixed


@pytest.mark.parametrize(
    ("files", "quote"),
    [
        ({"pyproject.toml": "[tool.black]\n"}, '"'),
        ({"pyproject.toml": "[tool.black]\nskip-string-normalization = true\n"}, None),
        ({"ruff.toml": '[format]\nquote-style = "single"\n'}, "'"),
        ({"ruff.toml": '[format]\nquote-style = "double"\n'}, '"'),
        ({"ruff.toml": '[format]\nquote-style = "preserve"\n'}, None),
        (
            {
                "pyproject.toml": "[tool.ruff.lint.flake8-quotes]\n"
                'inline-quotes = "single"\n'
            },
            "'",
        ),
        ({"ruff.toml": '[flake8-quotes]\ninline-quotes = "single"\n'}, "'"),
        (
            {
                "ruff-base.toml": '[format]\nquote-style = "single"\n',
                "ruff.toml": 'extend = "ruff-base.toml"\n',
            },
            "'",
        ),
        (
            {
                "ruff-base.toml": '[format]\nquote-style = "single"\n',
                "ruff.toml": 'extend = "ruff-base.toml"\n'
                '[format]\nquote-style = "preserve"\n',
            },
            None,
        ),
        ({"ruff.toml": "line-length = 100\n"}, None),
    ],
    ids=[
        "black",
        "black-skip-string-normalization",
        "ruff-format-single",
        "ruff-format-double",
        "ruff-format-preserve",
        "flake8-quotes",
        "flake8-quotes-before-ruff-0.2",
        "extended",
        "preserve-ends-extend",
        "ruff-without-quotes",
    ],
)
def test_quote_from_the_project_formatter(project, files, quote) -> None:
    root = project(files)

    assert FormatterSettings(root).for_file(root / "app.py").quote == quote


def test_configured_double_quotes_win_over_the_file(project) -> None:
    files = {
        "app.py": SINGLE_QUOTED_APP,
        "ruff.toml": '[format]\nquote-style = "double"\n',
        **REQUIREMENTS,
    }
    root = project(files)

    run_cli(["--apply", "--select", "CIO301", "."], root)

    assert 'data={"value": str(user["sku"])}' in (root / "app.py").read_text()


def test_file_quote_counts_free_literals() -> None:
    literals = literals_of(
        "a = 'x'\n"
        'b = "it\'s"\n'
        'c = "say \\"hi\\""\n'
        "d = f'{e[\"k\"]}'\n"
        '"""Docstring."""\n'
    )

    # Only `'x'` counts, so single quotes win.
    assert literals.quote(None) == "'"
    assert literals.quote('"') == '"'


@pytest.mark.parametrize(
    "code",
    [
        # A literal inside an f-string cannot take the f-string's quote
        # before Python 3.12.
        "x = f'{d[\"k\"]}'\n",
        # Swapping would need an escape.
        'x = "it\'s"\n',
        'x = "say \\"hi\\""\n',
        # Docstrings of helpers stay triple double-quoted.
        'x = """Docstring."""\n',
        # The file already has this literal: a fix moved it, the user wrote it.
        'x = "kept"\n',
    ],
    ids=["in-f-string", "apostrophe", "escaped-quote", "triple", "user-literal"],
)
def test_with_quote_keeps_fixed_literals(code) -> None:
    module = cst.parse_module(code)
    original = literals_of('y = "kept"\n')

    assert code_of(with_quote(module, "'", original)) == code


def test_with_quote_swaps_new_literals_and_keeps_prefixes() -> None:
    module = cst.parse_module('x = os.environ["KEY"] + rb"raw"\n')

    swapped = with_quote(module, "'", literals_of(""))

    assert code_of(swapped) == "x = os.environ['KEY'] + rb'raw'\n"


def test_fix_inside_f_string_takes_the_other_quote(project) -> None:
    app = (
        "import os\n"
        "from customerio import CustomerIO\n\n"
        "site = f\"{os.getenv('CIO_SITE_ID', '3f9a0c1d2e4b5a69')}\"\n"
        'cio = CustomerIO(site, os.environ["CUSTOMERIO_TRACK_API_KEY"])\n'
    )
    root = project({"app.py": app, **REQUIREMENTS})

    result = run_cli(["--apply", "--output-format", "json", "."], root)

    assert result.json["errors"] == []
    assert "site = f\"{os.environ['CIO_SITE_ID']}\"\n" in (root / "app.py").read_text()


def test_requote_replacements_in_and_out_of_f_strings() -> None:
    module = cst.parse_module("a = f\"{os.getenv('K')}\"\nb = f'{row[\"m\"]}'\n")
    parent_of = parents(module)
    getenv = find_all(module.body[0], cst.Call)[0]
    inner = find_all(module.body[1], cst.FormattedString)[0]
    subscript = find_all(inner, cst.Subscript)[0]
    replacements = {
        # Written inside a double-quoted f-string.
        getenv: cst.parse_expression('os.environ["K"]'),
        # Moved out of the f-string whose quote forced its own.
        inner: subscript,
    }

    requote_replacements(replacements, parent_of, '"')

    assert code_of(replacements[getenv]) == "os.environ['K']"
    assert code_of(replacements[inner]) == 'row["m"]'


def test_value_text_black_clean(project) -> None:
    # black leaves the name's single quotes, because its braces contain
    # the double quote.
    app = (
        "from customerio import CustomerIO\n\n"
        'cio = CustomerIO("site", "key")\n\n\n'
        "def checkout(user):\n"
        """    cio.track(customer_id=user["id"], name=f'bought_{user["sku"]}')\n"""
    )
    assert black.format_str(app, mode=black.Mode()) == app
    files = {"app.py": app, "pyproject.toml": "[tool.black]\n", **REQUIREMENTS}
    root = project(files)

    run_cli(["--apply", "--select", "CIO301", "."], root)

    fixed = (root / "app.py").read_text()
    assert """name="bought", data={"sku": f"{user['sku']}"}""" in fixed
    assert black.format_str(fixed, mode=black.Mode()) == fixed


def test_value_text_own_quote_report_only(project) -> None:
    app = SINGLE_QUOTED_APP.replace('{str(user["sku"])}', "{user['it\\'s']}")
    files = {
        "app.py": app,
        "pyproject.toml": '[project]\nrequires-python = ">=3.8"\n',
        **REQUIREMENTS,
    }
    root = project(files)

    result = run_cli(["--output-format", "json", "--select", "CIO301", "."], root)

    [finding] = result.json["findings"]
    assert finding["fix"] is None
    assert "needs Python 3.12, and pyproject.toml declares 3.8" in finding["message"]


@pytest.mark.parametrize(
    ("code", "quote", "expected"),
    [
        ("f'{order_id}'", '"', 'f"{order_id}"'),
        ("rf'{order_id}'", '"', 'rf"{order_id}"'),
        ("f'{row[\"sku\"]:>5}'", '"', "f\"{row['sku']:>5}\""),
        ("f\"{row['sku']}\"", "'", "f'{row[\"sku\"]}'"),
        ("f'{row[\"sku\"]}'", "'", "f'{row[\"sku\"]}'"),
        ('f"""{row["sku"]}"""', '"', "f\"{row['sku']}\""),
        # Python 3.12 syntax in, code that older Pythons read out.
        ("f'{row['sku']}'", '"', "f\"{row['sku']}\""),
        # `=` copies the code in the braces to the text.
        ("f'{row[\"sku\"]=}'", '"', None),
        ("f'{row[\"sku\"]=!r}'", "'", "f'{row[\"sku\"]=!r}'"),
        # The literal's own text has the other quote.
        ("f'{row[\"it's\"]}'", '"', None),
        ('f"{row[\'say \\"hi\\"\']}"', "'", None),
        ("f'{row[b\"sku\"]}'", '"', "f\"{row[b'sku']}\""),
        ('f\'{row["""sku"""]}\'', '"', None),
        ("f'{row[f\"{key}\"]}'", '"', None),
        ("f'{amount:\">9}'", '"', None),
        ('f"""{row[\n    "sku"\n]}"""', "'", None),
    ],
)
def test_f_string_with_quote(code, quote, expected) -> None:
    f_string = cst.parse_expression(code)
    assert isinstance(f_string, cst.FormattedString)

    requoted = f_string_with_quote(f_string, quote)

    written = None if requoted is None else code_of(requoted)
    assert written == expected


@pytest.mark.parametrize(
    ("code", "needed"),
    [
        ("f'{row[\"sku\"]}'", False),
        ('f"""{row["sku"]}"""', False),
        ("f'{row['sku']}'", True),
        ("f'{row[\"\\n\"]}'", True),
        ("f'{row[f\"{key}\"]}'", False),
    ],
)
def test_needs_python_312(code, needed) -> None:
    f_string = cst.parse_expression(code)
    assert isinstance(f_string, cst.FormattedString)

    assert needs_python_312(f_string) is needed
