"""Whole-file formatting of fixed files, and the line endings a fix writes."""

from __future__ import annotations

from cio_fix.formatting import format_fixed_file
from cio_fix.style import BlackSettings

from conftest import run_cli

# A black project's file whose lines end with \r\n and \n, with
# hard-coded keys. Black would write every line with the first ending.
MIXED_ENDINGS_APP = (
    b"from customerio import CustomerIO\r\n"
    b"\n"
    b'CIO = CustomerIO("3f9a0c1d2e4b7a8c", "0a1b2c3d4e5f6a7b")\n'
    b"X = 1\r\n"
)
MIXED_ENDINGS_FIXED = (
    b"import os\r\n"
    b"\r\n"
    b"from customerio import CustomerIO\r\n"
    b"\n"
    b"CIO = CustomerIO(\n"
    b'    os.environ["CUSTOMERIO_SITE_ID"], os.environ["CUSTOMERIO_TRACK_API_KEY"]\n'
    b")\n"
    b"X = 1\r\n"
)


def test_formatting_mixed_line_endings_kept(project) -> None:
    root = project({"pyproject.toml": "[tool.black]\n", "app.py": MIXED_ENDINGS_APP})

    run_cli(["--apply", "--select", "CIO101", "."], root)

    assert (root / "app.py").read_bytes() == MIXED_ENDINGS_FIXED


# A handler whose call CIO304 moves to a background helper, which the fix
# inserts between lines that end with \n and \r\n.
MIXED_ENDINGS_HANDLER = (
    b"from customerio import CustomerIO\r\n"
    b"from flask import Flask\n"
    b"\n"
    b"app = Flask(__name__)\r\n"
    b'cio = CustomerIO("site", "key")\n'
    b"\n"
    b"\r\n"
    b'@app.post("/signup")\n'
    b"def signup(user):\r\n"
    b"    cio.identify(id=user.id)\n"
    b'    return "ok"\r\n'
)


def test_formatting_mixed_line_endings_diff(project) -> None:
    root = project({"app.py": MIXED_ENDINGS_HANDLER})

    result = run_cli(["--dry-run", "--select", "CIO304", "."], root)

    removed = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("-") and not line.startswith("---")
    ]
    assert removed == ["-    cio.identify(id=user.id)"]


def test_formatting_mixed_line_endings_helper(project) -> None:
    root = project({"app.py": MIXED_ENDINGS_HANDLER})

    run_cli(["--apply", "--select", "CIO304", "."], root)

    lines = (root / "app.py").read_bytes().splitlines(keepends=True)
    # The helper goes after the blank line that ends with \n, and takes its ending.
    helper = lines[lines.index(b"from flask import Flask\n") + 2 :]
    helper = helper[: helper.index(b"app = Flask(__name__)\r\n")]
    assert helper
    assert not any(line.endswith(b"\r\n") for line in helper)
    assert lines[-2:] == [
        b"    _customerio_in_background(cio.identify, id=user.id)\n",
        b'    return "ok"\r\n',
    ]


def test_formatting_mixed_line_endings_second_run(project) -> None:
    root = project({"pyproject.toml": "[tool.black]\n", "app.py": MIXED_ENDINGS_FIXED})

    result = run_cli(["--dry-run", "--output-format", "json", "."], root)

    assert result.json["changed_files"] == []


def test_formatting_mixed_line_endings_not_formatted_whole() -> None:
    settings = BlackSettings(enabled=True, string_normalization=True)
    original = "x = 1\r\ny = 2\n"
    fixed = "x = 1\r\ny = ( 2 )\n"

    # black would write `\r\n` on every line, so the file stays as fixed.
    assert format_fixed_file(settings, original, fixed) == fixed


def test_formatting_ruff_pragma_line_kept_whole() -> None:
    # The code fits in 88 columns, and the directive makes the line longer.
    original = "x = 1\n"
    fixed = "x = 1\n" + "value = compute(" + "a" * 60 + ")  # noqa: E501\n"
    ruff = BlackSettings(enabled=True, ruff_layout=True)
    black = BlackSettings(enabled=True)

    # black would split the line, which `ruff format` keeps whole.
    assert format_fixed_file(ruff, original, fixed) == fixed
    assert format_fixed_file(black, original, fixed) != fixed
