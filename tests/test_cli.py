"""The command line as users and other tools call it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import cio_fix.engine
import cio_fix.suppressions
from cio_fix.checker import (
    LOSES_COMMENT,
    MOVES_PRAGMA,
    UNENCODABLE,
    _message_in_fixed_file,
)
from cio_fix.cli import main
from cio_fix.config import load_config
from cio_fix.model import Finding, has_note, with_note
from cio_fix.report import quoted_path

from conftest import CliResult, run_cli

PITFALLS = """\
import time

from customerio import CustomerIO

cio = CustomerIO("3f9a0c1d2e4b5a69c7d1", "0a1b2c3d4e5f6a7b8c9d")


def signed_up(user):
    cio.identify(id=user.id, email=user.email, created_at=int(time.time() * 1000))
"""

# The contract tests run the first two rules only, so that a new rule does
# not change the counts they check.
FIRST_RULES = '[tool.cio-fix]\nselect = ["CIO101", "CIO103"]\n'

CLEAN = """\
import os

from customerio import CustomerIO

cio = CustomerIO(os.environ["CUSTOMERIO_SITE_ID"], os.environ["CUSTOMERIO_TRACK_API_KEY"])
"""


def test_cli_dry_run_writes_nothing(project) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": FIRST_RULES})
    before = (root / "app.py").stat()

    result = run_cli(["--dry-run", "."], root)

    assert result.exit_code == 1
    assert (root / "app.py").read_text() == PITFALLS
    assert (root / "app.py").stat().st_mtime_ns == before.st_mtime_ns
    assert (
        "+    cio.identify(id=user.id, email=user.email, created_at=int(time.time()))"
        in result.stdout
    )


def test_cli_diff_of_file_outside_working_directory(project) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": FIRST_RULES, "sub/x.txt": ""})
    app = (root / "app.py").resolve().as_posix()

    result = run_cli(["--dry-run", ".."], root / "sub")

    assert f"--- {app}" in result.stdout
    assert f"+++ {app}" in result.stdout
    assert "a//" not in result.stdout


def test_cli_default_is_dry_run(project) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": FIRST_RULES})

    result = run_cli([], root)

    assert result.exit_code == 1
    assert (root / "app.py").read_text() == PITFALLS


def test_cli_apply_writes_and_second_apply_is_noop(project) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": FIRST_RULES})

    first = run_cli(["--apply", "."], root)
    fixed = (root / "app.py").read_text()
    mtime = (root / "app.py").stat().st_mtime_ns
    second = run_cli(["--apply", "."], root)

    assert first.exit_code == 0
    assert "created_at=int(time.time())" in fixed
    assert 'os.environ["CUSTOMERIO_SITE_ID"]' in fixed
    assert second.exit_code == 0
    assert (root / "app.py").read_text() == fixed
    assert (root / "app.py").stat().st_mtime_ns == mtime


def test_cli_finding_lines_and_summary(project) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": FIRST_RULES})

    result = run_cli(["--no-diff", "."], root)
    lines = result.stdout.splitlines()

    assert lines[0].startswith(
        "app.py:5:18: CIO101 [*] Customer.io Track API site ID is hard-coded"
    )
    assert lines[2].startswith(
        "app.py:9:59: CIO103 [*] `created_at` is sent in milliseconds"
    )
    assert (
        lines[-1]
        == "Found 3 findings. 3 fixable with `cio-fix --apply`. 1 file would be changed."
    )


def test_cli_apply_summary_counts_fixed(project) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": FIRST_RULES})

    result = run_cli(["--apply", "--no-diff", "."], root)

    assert (
        result.stdout.splitlines()[-1]
        == "Found 3 findings (3 fixed, 0 remaining). 1 file changed."
    )


def test_cli_clean_project_exits_zero(project) -> None:
    root = project({"app.py": CLEAN, "other.py": "print('no Customer.io here')\n"})

    result = run_cli(["."], root)

    assert result.exit_code == 0
    assert result.stdout.strip() == "No Customer.io pitfalls found (2 files checked)."


def test_cli_json_shape(project) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": FIRST_RULES})

    document = run_cli(["--output-format", "json", "."], root).json

    assert document["version"] == 1
    assert document["changed_files"] == ["app.py"]
    assert document["errors"] == []
    finding = document["findings"][2]
    assert finding == {
        "code": "CIO103",
        "name": "millisecond-timestamp",
        "severity": "error",
        "path": "app.py",
        "line": 9,
        "column": 59,
        "end_line": 9,
        "end_column": 82,
        "message": finding["message"],
        "fix": "safe",
        "applied": False,
    }


def test_cli_json_applied_after_apply(project) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": FIRST_RULES})

    document = run_cli(["--apply", "--output-format", "json", "."], root).json

    assert [finding["applied"] for finding in document["findings"]] == [
        True,
        True,
        True,
    ]
    assert document["changed_files"] == ["app.py"]


def test_cli_secrets_never_shown(project) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": FIRST_RULES})
    secrets = ("3f9a0c1d2e4b5a69c7d1", "0a1b2c3d4e5f6a7b8c9d")

    text = run_cli(["."], root)
    document = run_cli(["--output-format", "json", "."], root)
    ignored = run_cli(["--select", "CIO103", "."], root)

    for secret in secrets:
        assert secret not in text.stdout + text.stderr
        assert secret not in document.stdout
        assert secret not in ignored.stdout
    assert '"3f9a****"' in text.stdout


def test_cli_select_and_ignore(project) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": FIRST_RULES})

    selected = run_cli(
        ["--select", "CIO103", "--output-format", "json", "."], root
    ).json
    prefix = run_cli(
        ["--select", "cio1", "--ignore", "CIO101", "--output-format", "json", "."], root
    ).json

    assert {finding["code"] for finding in selected["findings"]} == {"CIO103"}
    assert {finding["code"] for finding in prefix["findings"]} == {"CIO103"}


def test_cli_extend_select_adds_to_configuration(project) -> None:
    root = project(
        {"app.py": PITFALLS, "pyproject.toml": '[tool.cio-fix]\nselect = ["CIO103"]\n'}
    )

    result = run_cli(
        ["--extend-select", "CIO101", "--output-format", "json", "."], root
    ).json

    assert {finding["code"] for finding in result["findings"]} == {"CIO101", "CIO103"}


def test_cli_extend_select_yields_to_ignore(project) -> None:
    root = project(
        {"app.py": PITFALLS, "pyproject.toml": '[tool.cio-fix]\nignore = ["CIO101"]\n'}
    )

    result = run_cli(
        ["--select", "CIO103", "--extend-select", "CIO1", "--output-format", "json"]
        + ["."],
        root,
    ).json

    assert {finding["code"] for finding in result["findings"]} == {"CIO103"}


@pytest.mark.parametrize("option", ["--select", "--extend-select"])
def test_cli_unknown_extend_selector_is_usage_error(project, option: str) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": FIRST_RULES})

    result = run_cli([option, "CIO999", "."], root)

    assert result.exit_code == 2
    assert f"unknown rule selector 'CIO999' in {option}" in result.stderr


def test_cli_unknown_selector_is_usage_error(project) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": FIRST_RULES})

    result = run_cli(["--select", "CIO999", "."], root)

    assert result.exit_code == 2
    assert "unknown rule selector 'CIO999'" in result.stderr


@pytest.mark.parametrize("option", ["--select", "--extend-select"])
@pytest.mark.parametrize("selectors", ["", " , "])
def test_cli_empty_select_is_usage_error(project, option: str, selectors: str) -> None:
    root = project({"app.py": PITFALLS})

    result = run_cli([option, selectors, "."], root)

    assert result.exit_code == 2
    assert f"{option} names no rule" in result.stderr


@pytest.mark.parametrize(
    ("pyproject", "args"),
    [
        ("[tool.cio-fix]\nselect = []\n", []),
        ("", ["--select", "CIO7", "--ignore", "CIO701"]),
    ],
)
def test_cli_no_rule_left_is_usage_error(project, pyproject, args) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": pyproject})

    result = run_cli([*args, "."], root)

    assert result.exit_code == 2
    assert "no rule is left to run" in result.stderr


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        (
            '[tool.cio-fix]\nselct = ["CIO1"]\n',
            "unknown key 'selct' in [tool.cio-fix];",
        ),
        ("[tool.cio-fix\n", "invalid TOML: "),
        ("[tool.cio-fix]\njobs = 0\n", "[tool.cio-fix] jobs must be a whole number"),
    ],
)
def test_cli_json_config_error(project, pyproject, message) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": pyproject})

    result = run_cli(["--output-format", "json", "."], root)

    assert result.exit_code == 2
    assert result.json["findings"] == []
    assert result.json["changed_files"] == []
    (error,) = result.json["errors"]
    assert error["path"] == "pyproject.toml"
    assert error["message"].startswith(message)


def test_cli_json_nested_config_error(project) -> None:
    root = project(
        {
            "pyproject.toml": FIRST_RULES,
            "services/billing/pyproject.toml": "[tool.cio-fix]\nselct = []\n",
            "services/billing/app.py": PITFALLS,
        }
    )

    result = run_cli(["--output-format", "json", "."], root)

    assert result.exit_code == 2
    (error,) = result.json["errors"]
    assert error["path"] == "services/billing/pyproject.toml"
    assert error["message"].startswith("unknown key 'selct'")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--select", "CIO999"], "unknown rule selector 'CIO999' in --select;"),
        (["--select", ""], "--select names no rule;"),
        (["--select", "CIO7", "--ignore", "CIO701"], "no rule is left to run:"),
        (["--pr-body", "pr.md"], "--pr and --pr-body need --apply"),
        (["--apply", "--pr-title", "Fix"], "--pr-title needs --pr;"),
    ],
)
def test_cli_json_usage_error(project, args, message) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": FIRST_RULES})

    result = run_cli(["--output-format", "json", *args, "."], root)

    assert result.exit_code == 2
    assert result.stderr == ""
    assert result.json == {
        "version": 1,
        "findings": [],
        "changed_files": [],
        "errors": [{"path": ".", "message": result.json["errors"][0]["message"]}],
    }
    assert result.json["errors"][0]["message"].startswith(message)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pr-branch", "bots/cio"], "--pr-branch needs --pr;"),
        (["--pr-base", "main"], "--pr-base needs --pr;"),
        (
            ["--pr-title", "Fix", "--pr-label", "bot"],
            "--pr-title and --pr-label need --pr;",
        ),
        (["--pr-body", "pr.md", "--pr-base", "main"], "--pr-base needs --pr;"),
    ],
)
def test_cli_pr_options_need_pr(project, args, message) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": FIRST_RULES})

    result = run_cli(["--apply", *args, "."], root)

    assert result.exit_code == 2
    assert message in result.stderr
    assert (root / "app.py").read_text() == PITFALLS


def test_cli_pr_branch_counts_with_pr_body(project) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": FIRST_RULES})

    result = run_cli(
        ["--apply", "--pr-body", "pr.md", "--pr-branch", "bots/cio", "."], root
    )

    assert result.exit_code == 0, result.stderr
    assert (root / "pr.md").exists()


@pytest.mark.parametrize(
    ("args", "empty"),
    [
        (
            ["--list-events"],
            {"version": 1, "style": None, "projects": [], "events": [], "unread": []},
        ),
        (
            ["--add-noqa"],
            {"version": 1, "added": 0, "files": [], "hard_coded_keys": []},
        ),
    ],
)
def test_cli_json_config_error_other_outputs(project, args, empty) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": "[tool.cio-fix]\nx = 1\n"})

    result = run_cli(["--output-format", "json", *args, "."], root)

    assert result.exit_code == 2
    document = result.json
    errors = document.pop("errors")
    assert document == empty
    assert [error["path"] for error in errors] == ["pyproject.toml"]


@pytest.mark.parametrize("args", [[], ["--list-events"], ["--add-noqa"]])
@pytest.mark.parametrize(
    "nested_pyproject", ["[tool.cio-fix\n", '[tool.cio-fix]\njobs = "four"\n']
)
def test_cli_json_config_error_keeps_keys(project, args, nested_pyproject) -> None:
    # A tool that reads a key of the JSON object must find it in an error run too.
    root = project(
        {
            "good/pyproject.toml": FIRST_RULES,
            "good/app.py": PITFALLS,
            "bad/pyproject.toml": FIRST_RULES,
            "bad/app.py": PITFALLS,
            "bad/services/billing/pyproject.toml": nested_pyproject,
            "bad/services/billing/app.py": PITFALLS,
        }
    )

    good = run_cli(["--output-format", "json", *args, "."], root / "good")
    bad = run_cli(["--output-format", "json", *args, "."], root / "bad")

    assert good.exit_code != 2
    assert bad.exit_code == 2
    assert list(bad.json) == list(good.json)
    assert [error["path"] for error in bad.json["errors"]] == [
        "services/billing/pyproject.toml"
    ]


def test_cli_text_config_error_names_file(project) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": "[tool.cio-fix]\nx = 1\n"})

    result = run_cli(["."], root)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(
        f"cio-fix: error: {root / 'pyproject.toml'}: unknown key 'x'"
    )


def test_cli_exit_zero(project) -> None:
    root = project({"app.py": PITFALLS, "broken.py": "import customerio\nprint 'x'\n"})

    result = run_cli(["--exit-zero", "."], root)

    assert result.exit_code == 0


def test_cli_quiet_prints_findings_only(project) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": FIRST_RULES})

    result = run_cli(["--quiet", "."], root)

    assert len(result.stdout.splitlines()) == 3
    assert "Found" not in result.stdout


def test_cli_list_rules(project) -> None:
    result = run_cli(["--list-rules"], project({}))

    assert result.exit_code == 0
    assert any(
        line.startswith("CIO101  hardcoded-credential")
        for line in result.stdout.splitlines()
    )
    assert any(
        line.startswith("CIO103  millisecond-timestamp")
        for line in result.stdout.splitlines()
    )


def test_cli_help_names_path_argument(project) -> None:
    result = run_cli(["--help"], project({}))

    assert result.exit_code == 0
    assert "Usage: cio-fix [OPTIONS] [PATH]..." in result.stdout
    assert "  [PATH]...  Files or folders to check." in result.stdout
    # typer would print the Python type of the argument.
    assert "list[Path]" not in result.stdout
    assert "  --select CODES " in result.stdout


def test_cli_explain(project) -> None:
    result = run_cli(["--explain", "cio103"], project({}))

    assert result.exit_code == 0
    assert result.stdout.startswith("CIO103 millisecond-timestamp")
    for heading in (
        "What it does:",
        "Why is this bad?",
        "Example:",
        "Use instead:",
        "Fix safety:",
    ):
        assert heading in result.stdout


def test_cli_explain_unknown_code(project) -> None:
    result = run_cli(["--explain", "CIO999"], project({}))

    assert result.exit_code == 2
    assert "unknown rule code 'CIO999'" in result.stderr


def test_cli_version_does_not_import_libcst() -> None:
    code = (
        "import sys; from cio_fix.cli import main; sys.argv=['cio-fix','--version']\n"
    )
    code += (
        "try:\n    main()\nexcept SystemExit:\n    pass\nprint('libcst' in sys.modules)"
    )

    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert completed.stdout.splitlines() == ["cio-fix 0.1.0", "False"]


def test_cli_run_without_candidates_does_not_import_libcst(tmp_path: Path) -> None:
    (tmp_path / "plain.py").write_text("print('hello')\n")
    code = "import sys; from cio_fix.cli import main; sys.argv=['cio-fix','.']\n"
    code += (
        "try:\n    main()\nexcept SystemExit:\n    pass\nprint('libcst' in sys.modules)"
    )

    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )

    assert completed.stdout.splitlines()[-1] == "False"


def test_cli_python_module_entry_point(project) -> None:
    root = project({"app.py": PITFALLS, "pyproject.toml": FIRST_RULES})
    env = {**os.environ, "NO_COLOR": "1"}

    completed = subprocess.run(
        [sys.executable, "-m", "cio_fix", "--no-diff", "."],
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
    )

    assert completed.returncode == 1
    assert "CIO103" in completed.stdout


@pytest.mark.parametrize("encoding", ["cp1252", "ascii"])
def test_cli_output_escapes_what_stdout_cannot_encode(project, encoding) -> None:
    # A pipe on Windows is cp1252, and a C locale gives ASCII.
    root = project(
        {
            "caf\u00e9.py": (
                "import time\n\nfrom customerio import CustomerIO\n\n"
                'cio = CustomerIO("site", "key")\n'
                'cio.track("u1", "paid", who="Zo\u00eb \u5c71\u7530",'
                " created_at=int(time.time() * 1000))\n"
            ),
        }
    )
    env = {**os.environ, "NO_COLOR": "1", "PYTHONIOENCODING": encoding}

    completed = subprocess.run(
        [sys.executable, "-m", "cio_fix", "--select", "CIO103", "--no-cache", "."],
        capture_output=True,
        cwd=root,
        env=env,
    )

    stdout = completed.stdout.decode(encoding)
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr.decode(encoding)
    assert "\\u5c71\\u7530" in stdout
    assert "Found 1 finding" in stdout


@pytest.mark.parametrize(
    ("arguments", "pieces"),
    [
        (
            '"9c1e7b2a" "40f3d5e68a1b", "e5d4c3b2a19f\\x38e7d6c5b"',
            ["40f3d5e68a1b", "9c1e7b2a", "e5d4c3b2a19f"],
        ),
        (
            'f"9c1e7b2a40f3d5e68a1b", f"{\'e5d4c3b2a19f38e7d6c5\'}"',
            ["9c1e7b2a40f3d5e68a1b", "e5d4c3b2a19f38e7d6c5"],
        ),
    ],
    ids=["split_and_escaped", "formatted_strings"],
)
def test_cli_keys_masked_in_every_output(project, arguments, pieces) -> None:
    source = (
        "import time\nfrom customerio import CustomerIO\n"
        f"cio = CustomerIO({arguments})\n"
        "cio.identify(id=1, email='a@b.c', created_at=int(time.time() * 1000))\n"
    )
    root = project({"app.py": source, "pyproject.toml": FIRST_RULES})

    everything = run_cli(["."], root).stdout
    other_rule = run_cli(["--select", "CIO103", "."], root).stdout

    assert "9c1e****" in everything
    for output in (everything, other_rule):
        for piece in pieces:
            assert piece not in output


def test_cli_short_key_part_masked_only_as_written(project) -> None:
    source = (
        "from customerio import CustomerIO\n"
        'cio = CustomerIO("9c1e7b2a40f3d5e68a1b", "e5d4c3b2a19f38e7" "1000")\n'
        "LIMIT = 1000\n"
    )
    root = project({"app.py": source, "pyproject.toml": FIRST_RULES})

    output = run_cli(["--select", "CIO101", "."], root).stdout

    assert '"1000"' not in output
    assert "e5d4c3b2a19f38e7" not in output
    assert " LIMIT = 1000" in output


@pytest.mark.parametrize(
    "written",
    [
        "f\"9c1e{'7b2a40f3'}d5e68a1b\"",
        '(f"9c1e7b2a40f3"\n    f"d5e68a1b")',
        '"9c1e7b2a40f3\\\nd5e68a1b"',
        'f"9c1e7b2a40f3\\x64d5e68a1b"',
        "f\"{'9c1e'}{'7b2a'}{'40f3'}{'d5e6'}{'8a1b'}\"",
    ],
    ids=["text_and_field", "concatenated_lines", "backslash_line", "escape", "fields"],
)
def test_cli_key_parts_masked_in_diff(project, written) -> None:
    source = f"CUSTOMERIO_SITE_ID = {written}\n"
    root = project({"settings.py": source, "pyproject.toml": FIRST_RULES})

    output = run_cli(["--select", "CIO101", "."], root).stdout

    assert "-CUSTOMERIO_SITE_ID" in output
    for piece in ("7b2a", "40f3", "d5e6", "8a1b"):
        assert piece not in output


def test_cli_prints_emoji_codes_as_written(project) -> None:
    root = project(
        {
            "app.py": (
                "from customerio import CustomerIO\n\n"
                'cio = CustomerIO("site", "key")\n'
                'cio.track(customer_id=1, name="Reacted :smile:")\n'
            )
        }
    )

    text = run_cli(["--select", "CIO303", "--no-cache", "."], root)
    found = run_cli(
        ["--select", "CIO303", "--no-cache", "--output-format", "json", "."], root
    )

    assert ":smile:" in text.stdout
    assert "\N{SMILING FACE WITH OPEN MOUTH AND SMILING EYES}" not in text.stdout
    assert ":smile:" in found.json["findings"][0]["message"]


def test_cli_diff_applies_to_tabbed_code(project) -> None:
    tabbed = PITFALLS.replace("    cio.identify", "\tcio.identify")
    root = project({"app.py": tabbed})
    subprocess.run(["git", "init", "-q", "."], cwd=root, check=True)

    text = run_cli(["--select", "CIO103", "--no-cache", "--dry-run", "."], root)
    patch = text.stdout[text.stdout.index("--- a/") : text.stdout.rindex("\nFound")]
    (root / "fix.patch").write_text(patch + "\n", encoding="utf-8")
    subprocess.run(["git", "apply", "fix.patch"], cwd=root, check=True)

    assert "-\tcio.identify(" in patch
    assert "\tcio.identify(" in (root / "app.py").read_text(encoding="utf-8")
    assert "* 1000" not in (root / "app.py").read_text(encoding="utf-8")


# A file name with a line feed, whose second half looks like a finding.
SPOOFING_NAME = "a\nfake.py:1:1: CIO101 spoofed.py"
QUOTED_SPOOFING_NAME = '"a\\nfake.py:1:1: CIO101 spoofed.py"'


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("app/views.py", "app/views.py"),
        ("app/caf\u00e9.py", "app/caf\u00e9.py"),
        ("a\nb.py", '"a\\nb.py"'),
        ("a\tb.py", '"a\\tb.py"'),
        ('say "hi".py', '"say \\"hi\\".py"'),
        ("back\\slash.py", '"back\\\\slash.py"'),
        ("escape\x1b[31m.py", '"escape\\033[31m.py"'),
        ("next\x85line.py", '"next\\302\\205line.py"'),
        ("line\u2028separator.py", '"line\\342\\200\\250separator.py"'),
        ("latin\udce9.py", '"latin\\351.py"'),
        ("invoice\u202eyp.exe.py", '"invoice\\342\\200\\256yp.exe.py"'),
        ("mark\u200fname.py", '"mark\\342\\200\\217name.py"'),
        ("isolate\u2067name.py", '"isolate\\342\\201\\247name.py"'),
    ],
)
def test_quoted_path(name: str, shown: str) -> None:
    assert quoted_path(name) == shown


def test_cli_quotes_path_with_line_feed(project) -> None:
    root = project({SPOOFING_NAME: PITFALLS})

    text = run_cli(["--select", "CIO103", "--no-cache", "--dry-run", "."], root)

    lines = text.stdout.splitlines()
    assert lines[0].startswith(f"{QUOTED_SPOOFING_NAME}:9:")
    assert not any(line.startswith("fake.py") for line in lines)
    assert '--- "a/a\\nfake.py:1:1: CIO101 spoofed.py"' in lines
    assert '+++ "b/a\\nfake.py:1:1: CIO101 spoofed.py"' in lines


def test_cli_quoted_diff_applies(project) -> None:
    root = project({SPOOFING_NAME: PITFALLS})
    subprocess.run(["git", "init", "-q", "."], cwd=root, check=True)

    text = run_cli(["--select", "CIO103", "--no-cache", "--dry-run", "."], root)
    patch = text.stdout[text.stdout.index("--- ") : text.stdout.rindex("\nFound")]
    (root / "fix.patch").write_text(patch + "\n", encoding="utf-8")
    subprocess.run(["git", "apply", "fix.patch"], cwd=root, check=True)

    assert "* 1000" not in (root / SPOOFING_NAME).read_text(encoding="utf-8")


def test_cli_quotes_path_in_error(project) -> None:
    root = project({SPOOFING_NAME: "from customerio import CustomerIO\ndef (:\n"})

    text = run_cli(["--no-cache", "."], root)

    assert text.stderr.startswith(f"{QUOTED_SPOOFING_NAME}: error:")
    assert "\nfake.py" not in text.stderr


def test_cli_json_keeps_path_with_line_feed(project) -> None:
    root = project({SPOOFING_NAME: PITFALLS})

    found = run_cli(
        ["--select", "CIO103", "--no-cache", "--output-format", "json", "."], root
    )

    assert found.json["findings"][0]["path"] == SPOOFING_NAME


# An event name whose line break would start a line that reads as a finding.
SPOOFING_EVENT = '''\
from customerio import CustomerIO

cio = CustomerIO("site", "key")


def chose_plan(user_id, plan):
    cio.track(customer_id=user_id, name="""plan
settings.py:1:1: CIO101 spoofed %s""" % plan)
    cio.track(customer_id=user_id, name="plan_%s_%s" % (
        plan,
        user_id,
    ))
'''


def test_cli_message_quoting_code_stays_on_one_line(project) -> None:
    root = project(
        {"events.py": SPOOFING_EVENT, "requirements.txt": "customerio==2.1\n"}
    )

    text = run_cli(["--select", "CIO301", "--no-cache", "--no-diff", "."], root)

    lines = text.stdout.splitlines()
    assert lines[0].startswith(
        'events.py:7:41: CIO301 [*] event name """plan settings.py:1:1: CIO101'
    )
    assert lines[1].startswith(
        'events.py:9:41: CIO301 [*] event name "plan_%s_%s" % (plan, user_id,) is'
    )
    assert lines[2].startswith("Found 2 findings.")


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("event `a`", "event `a`"),
        ("`f(\n    a,\n    b,\n)` is", "`f(a, b,)` is"),
        ("`x +\r\n    y`", "`x + y`"),
        ("`[\n]`", "`[]`"),
        ("`a\u2028b`", "`a b`"),
        ("`\x1b[31mred`", "`\\x1b[31mred`"),
        ("`\u202eabc`", "`\\u202eabc`"),
    ],
)
def test_finding_message_on_one_line(message: str, shown: str) -> None:
    finding = Finding("CIO301", "name", message, Path("a.py"), 1, 1, 1, 2)
    finding.message += " (not fixed)"

    assert finding.message == shown + " (not fixed)"


@pytest.mark.parametrize(
    ("message", "noted"),
    [
        ("Send the identify first.", "Send the identify first (not fixed: why)."),
        ("move them into `data`", "move them into `data` (not fixed: why)"),
    ],
)
def test_finding_note_inside_full_stop(message: str, noted: str) -> None:
    assert with_note(message, "not fixed: why") == noted
    assert has_note(noted, "not fixed: why")
    assert not has_note(message, "not fixed: why")


@pytest.mark.parametrize(
    "reason",
    [
        LOSES_COMMENT,
        UNENCODABLE.format(encoding="latin-1"),
        MOVES_PRAGMA.format(comment="# noqa: S106"),
    ],
)
def test_fixed_file_message_keeps_reason(reason: str) -> None:
    original = Finding("CIO201", "name", "Send it first.", Path("a.py"), 3, 1, 3, 2)
    original.message = with_note(original.message, reason)
    found = Finding(
        "CIO201", "name", "Send it on line 4 first.", Path("a.py"), 5, 1, 5, 2
    )

    message = _message_in_fixed_file(original, found)

    assert message == f"Send it on line 4 first ({reason})."


# The change is within three lines of the BOM, so the hunk's context
# starts with it, and the latin-1 character is on the changed line.
ENCODED = """\
import time
from customerio import CustomerIO
cio = CustomerIO("site", "key")
cio.identify(id=1, created_at=int(time.time() * 1000))  # caf\xe9
"""


@pytest.mark.parametrize(
    "raw",
    [
        PITFALLS.replace("\n", "\r\n").encode(),
        PITFALLS.replace(
            "    cio.identify", '    page = "one\x0ctwo"\n    cio.identify'
        ).encode(),
        PITFALLS.replace(
            "    cio.identify", '    sep = "\u2028"\n    cio.identify'
        ).encode(),
        PITFALLS.rstrip("\n").encode(),
        b"\xef\xbb\xbf" + ENCODED.encode(),
        ("# -*- coding: latin-1 -*-\n" + ENCODED).encode("latin-1"),
    ],
    ids=[
        "crlf",
        "form_feed",
        "line_separator",
        "no_final_newline",
        "utf8_bom",
        "latin1",
    ],
)
def test_cli_diff_applies_with_git(project, raw) -> None:
    # git splits lines after a line feed only, and keeps carriage returns.
    # The console script runs in a process of its own, because typer's test
    # runner turns CRLF into LF in what it captures.
    root = project({"app.py": raw})
    subprocess.run(["git", "init", "-q", "."], cwd=root, check=True)

    output = subprocess.run(
        [sys.executable, "-m", "cio_fix", "--select", "CIO103", "--no-cache"]
        + ["--dry-run", "."],
        cwd=root,
        capture_output=True,
        check=False,
    ).stdout
    patch = output[output.index(b"--- a/") : output.rindex(b"\nFound")]
    (root / "fix.patch").write_bytes(patch + b"\n")
    subprocess.run(["git", "apply", "fix.patch"], cwd=root, check=True)

    fixed = (root / "app.py").read_bytes()
    assert fixed == raw.replace(b"time.time() * 1000", b"time.time()")


def test_cli_demo_matches_readme() -> None:
    # The README quotes the summary of `make demo`; it must stay true.
    repository = Path(__file__).resolve().parent.parent
    readme = (repository / "README.md").read_text(encoding="utf-8")
    quoted = next(line for line in readme.splitlines() if line.startswith("Found "))

    result = run_cli(
        ["--dry-run", "--exit-zero", "--no-cache", "examples/"], repository
    )

    assert result.stdout.rstrip().splitlines()[-1] == quoted


def test_cli_readme_configuration_examples_are_valid(tmp_path: Path) -> None:
    # Each TOML example of the README must load without an error.
    repository = Path(__file__).resolve().parent.parent
    readme = (repository / "README.md").read_text(encoding="utf-8")
    blocks = readme.split("```toml\n")[1:]
    assert blocks
    for block in blocks:
        table = block.split("```")[0]
        if not table.startswith("[tool.cio-fix"):
            continue
        if not table.startswith("[tool.cio-fix]"):
            table = "[tool.cio-fix]\n" + table
        (tmp_path / "pyproject.toml").write_text(table, encoding="utf-8")
        load_config(tmp_path)


SERVICE_APP = """\
import time

from customerio import CustomerIO

cio = CustomerIO("3f9a0c1d2e4b5a69c7d1", "0a1b2c3d4e5f6a7b8c9d")


def signed_up(user):
    cio.identify(id=user.id, email=user.email, created_at=int(time.time() * 1000))
"""


def _services(project, b_table: str = 'ignore = ["CIO103"]') -> Path:
    return project(
        {
            "services/a/pyproject.toml": '[tool.cio-fix]\nselect = ["CIO103"]\n',
            "services/a/app.py": SERVICE_APP,
            "services/b/pyproject.toml": f"[tool.cio-fix]\n{b_table}\n",
            "services/b/app.py": SERVICE_APP,
        }
    )


def _found(result: CliResult) -> set[tuple[str, str]]:
    return {(item["path"], item["code"]) for item in result.json["findings"]}


@pytest.mark.parametrize(
    "targets",
    [
        ["."],
        ["services"],
        ["services/a/app.py", "services/b/app.py"],
        ["services/b/app.py", "services/a/app.py"],
        ["services/b", "services/a"],
    ],
)
def test_cli_each_project_its_own_config(project, targets) -> None:
    root = _services(project)

    result = run_cli(["--output-format", "json", *targets], root)

    assert _found(result) == {
        ("services/a/app.py", "CIO103"),
        ("services/b/app.py", "CIO101"),
    }


def test_cli_nested_projects_keep_command_line(project) -> None:
    root = _services(project)

    result = run_cli(["--output-format", "json", "--select", "CIO101", "."], root)

    assert _found(result) == {
        ("services/a/app.py", "CIO101"),
        ("services/b/app.py", "CIO101"),
    }


NO_RULE_LEFT = (
    "services/b/pyproject.toml: warning: select and ignore (on the command line and"
    " in this file) leave no rule to run, so the files of this project were not"
    " checked"
)


@pytest.mark.parametrize("targets", [["."], ["services"], ["services/a", "services/b"]])
def test_cli_nested_project_without_rules_warned(project, targets) -> None:
    root = _services(project, b_table='select = ["CIO101"]')

    result = run_cli(["--output-format", "json", "--ignore", "CIO101", *targets], root)
    alone = run_cli(["--ignore", "CIO101", "services/b"], root)

    assert result.exit_code == 1
    assert result.json["errors"] == []
    assert result.stderr.strip() == NO_RULE_LEFT
    assert _found(result) == {("services/a/app.py", "CIO103")}
    assert alone.exit_code == 2
    assert "no rule is left to run" in alone.stderr


@pytest.mark.parametrize("mode", [[], ["--add-noqa"]])
def test_cli_nested_project_without_rules_exit_zero(project, mode) -> None:
    root = _services(project, b_table='select = ["CIO6"]\nignore = ["CIO6"]')

    result = run_cli([*mode, "--exit-zero", "."], root)

    assert result.exit_code == 0
    assert NO_RULE_LEFT in result.stderr


@pytest.mark.parametrize(
    "ignored",
    ['"CIO"', '"ALL"', '"CIO1", "CIO2", "CIO3", "CIO4", "CIO5", "CIO6", "CIO7"'],
)
@pytest.mark.parametrize("targets", [["."], ["services/b/app.py"]])
def test_cli_opted_out_project_passes_quietly(project, ignored, targets) -> None:
    # A pre-commit hook names only the staged files of a vendored project.
    root = _services(project, b_table=f"ignore = [{ignored}]")

    result = run_cli(["--no-diff", *targets], root)

    assert result.exit_code == (1 if targets == ["."] else 0)
    assert result.stderr == ""
    assert "services/b" not in result.stdout


def test_cli_nested_project_apply_and_cache(project) -> None:
    root = _services(project)

    first = run_cli(["--apply", "."], root)
    second = run_cli(["--apply", "--output-format", "json", "."], root)

    assert first.exit_code == 0
    assert "int(time.time())" in (root / "services/a/app.py").read_text()
    assert "CUSTOMERIO_SITE_ID" in (root / "services/b/app.py").read_text()
    assert (root / "services/a/.cio_fix_cache").is_dir()
    assert (root / "services/b/.cio_fix_cache").is_dir()
    assert second.json["findings"] == []


def test_cli_packaging_pyproject_stays_in_project(project) -> None:
    # A pyproject.toml without [tool.cio-fix] below the root does not start
    # a project of its own: the root's configuration applies there.
    root = project(
        {
            "pyproject.toml": '[tool.cio-fix]\nselect = ["CIO103"]\n',
            "lib/pyproject.toml": '[project]\nname = "lib"\n',
            "lib/app.py": SERVICE_APP,
        }
    )

    result = run_cli(["--output-format", "json", "."], root)

    assert _found(result) == {("lib/app.py", "CIO103")}


def _monorepo(project) -> Path:
    return project(
        {
            "pyproject.toml": '[tool.cio-fix]\nignore = ["CIO101"]\n',
            "lib/app.py": SERVICE_APP,
            "services/a/pyproject.toml": '[tool.cio-fix]\nselect = ["CIO103"]\n',
            "services/a/app.py": SERVICE_APP,
            "services/a/inner/pyproject.toml": '[tool.cio-fix]\nselect = ["CIO101"]\n',
            "services/a/inner/app.py": SERVICE_APP,
            "services/b/pyproject.toml": '[project]\nname = "b"\n',
            "services/b/app.py": SERVICE_APP,
        }
    )


@pytest.mark.parametrize(
    "targets",
    [
        ["."],
        ["services/a/app.py", "."],
        ["services/b/app.py", "lib/app.py", "services/a/inner/app.py"],
        ["services/a/inner/app.py", "lib/app.py", "services/b/app.py"],
    ],
)
def test_cli_monorepo_each_file_once(project, targets) -> None:
    root = _monorepo(project)

    result = run_cli(["--output-format", "json", "--no-cache", *targets], root)
    places = [
        (item["path"], item["code"], item["line"], item["column"])
        for item in result.json["findings"]
    ]
    found = {place[:2] for place in places}
    named = {Path(target).parent.as_posix() for target in targets}

    assert len(places) == len(set(places))
    assert [path for path in result.json["changed_files"]] == sorted(
        set(result.json["changed_files"])
    )
    # services/b has no [tool.cio-fix] table: the root's configuration applies.
    if "services/b" in named or "." in targets:
        assert ("services/b/app.py", "CIO103") in found
        assert ("services/b/app.py", "CIO101") not in found
    if "services/a/inner" in named or "." in targets:
        assert ("services/a/inner/app.py", "CIO101") in found
        assert ("services/a/inner/app.py", "CIO103") not in found


def test_cli_apply_skips_dot_slash_exclude(project) -> None:
    root = project(
        {
            "pyproject.toml": '[tool.cio-fix]\nextend-exclude = ["./legacy"]\n',
            "legacy/old.py": SERVICE_APP,
            "app.py": SERVICE_APP,
        }
    )

    result = run_cli(["--apply", "--no-cache", "."], root)

    assert result.exit_code == 0
    assert (root / "legacy/old.py").read_text() == SERVICE_APP
    assert (root / "app.py").read_text() != SERVICE_APP


def test_cli_changed_files_sorted_outside_cwd(project) -> None:
    # From a sibling folder, the nested project's files are kept as absolute
    # paths and the enclosing project's as `../mono/...`, but both show as
    # absolute paths.
    root = project(
        {
            "mono/pyproject.toml": '[tool.cio-fix]\nselect = ["CIO103"]\n',
            "mono/services/alpha/pyproject.toml": '[tool.cio-fix]\nselect = ["CIO103"]\n',
            "mono/services/alpha/app.py": SERVICE_APP,
            "mono/services/beta/app.py": SERVICE_APP,
        }
    )
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    alpha = (root / "mono/services/alpha/app.py").as_posix()
    beta = (root / "mono/services/beta/app.py").as_posix()

    result = run_cli(["--output-format", "json", "--no-cache", "../mono"], elsewhere)
    text = run_cli(["--dry-run", "--no-cache", "../mono"], elsewhere)

    assert [finding["path"] for finding in result.json["findings"]] == [alpha, beta]
    assert result.json["changed_files"] == [alpha, beta]
    assert text.stdout.index(f"--- {alpha}") < text.stdout.index(f"--- {beta}")


def test_cli_first_project_without_rules(project) -> None:
    root = _monorepo(project)

    first = run_cli(
        ["--output-format", "json", "--select", "CIO101", "lib/app.py", "services"],
        root,
    )
    second = run_cli(
        ["--output-format", "json", "--select", "CIO101", "services", "lib/app.py"],
        root,
    )
    nothing = run_cli(["--select", "CIO101", "lib/app.py"], root)

    assert first.json["findings"] == second.json["findings"]
    assert ("services/a/app.py", "CIO101") in _found(first)
    assert nothing.exit_code == 2
    assert "no rule is left to run" in nothing.stderr
    assert "pyproject.toml" in nothing.stderr


def test_cli_ignore_adds_to_configuration(project) -> None:
    root = project(
        {
            "pyproject.toml": '[tool.cio-fix]\nignore = ["CIO101"]\n',
            "app.py": SERVICE_APP,
        }
    )

    result = run_cli(["--output-format", "json", "--ignore", "CIO103", "."], root)

    assert _found(result) == set()


@pytest.mark.parametrize("target", [".", "svc/jobs"])
def test_cli_nested_project_reads_service_version(project, target) -> None:
    root = project(
        {
            "svc/requirements.txt": "customerio==3.2.0\n",
            "svc/pyproject.toml": "[tool.cio-fix]\n",
            "svc/jobs/pyproject.toml": '[tool.cio-fix]\nselect = ["CIO701"]\n',
            "svc/jobs/app.py": (
                "from customerio import CustomerIO\n\n"
                'cio = CustomerIO("site", "key")\n'
                'cio.track(customer_id=1, name="bought", price=3)\n'
            ),
        }
    )
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)

    result = run_cli(["--output-format", "json", "--no-cache", target], root)

    (finding,) = result.json["findings"]
    assert finding["fix"] == "safe"
    assert "svc/requirements.txt" in finding["message"]


SHARED_CLIENT = """\
import os

from customerio import CustomerIO

cio = CustomerIO(os.environ["CUSTOMERIO_SITE_ID"], os.environ["CUSTOMERIO_API_KEY"])
"""

WEB_VIEW = """\
from flask import Flask

from shared import analytics

app = Flask(__name__)


@app.post("/users/<int:user_id>/plan/<plan>")
def change_plan(user_id, plan):
    analytics.track(customer_id=user_id, name="plan_changed", plan=plan)
    return {"ok": True}
"""


def _shared_library_repository(project, web_table: str = "") -> Path:
    """Write a git repository whose service uses the client of a shared library.

    Neither package's pyproject.toml has `[tool.cio-fix]` unless
    `web_table` gives the service one.
    """
    root = project(
        {
            "libs/shared/pyproject.toml": (
                '[project]\nname = "shared"\ndependencies = ["customerio>=2,<3"]\n'
            ),
            "libs/shared/shared/__init__.py": (
                'from .cio import cio as analytics\n\n__all__ = ["analytics"]\n'
            ),
            "libs/shared/shared/cio.py": SHARED_CLIENT,
            "services/web/pyproject.toml": (
                '[project]\nname = "webapp"\nrequires-python = ">=3.10"\n'
                'dependencies = ["customerio>=2,<3", "flask"]\n' + web_table
            ),
            "services/web/webapp/__init__.py": "",
            "services/web/webapp/views.py": WEB_VIEW,
        }
    )
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


@pytest.mark.parametrize(
    ("folder", "targets"),
    [
        (".", []),
        (".", ["services", "libs"]),
        (".", ["services/web"]),
        (".", ["services/web/webapp/views.py"]),
        ("services/web", []),
        ("services/web", ["webapp/views.py"]),
    ],
)
def test_cli_shared_library_client_for_every_path(project, folder, targets) -> None:
    root = _shared_library_repository(project)
    cwd = root / folder

    result = run_cli(["--output-format", "json", "--no-cache", *targets], cwd)
    places = {
        ((cwd / item["path"]).resolve(), item["code"], item["line"])
        for item in result.json["findings"]
    }

    assert result.exit_code == 1
    assert places == {((root / "services/web/webapp/views.py"), "CIO304", 10)}


def test_cli_shared_library_apply_named_file(project) -> None:
    root = _shared_library_repository(project)
    views = root / "services/web/webapp/views.py"
    run_cli(["--apply", "--no-cache", "."], root)
    from_top = views.read_text()
    views.write_text(WEB_VIEW)

    result = run_cli(["--apply", "services/web/webapp/views.py"], root)

    assert result.exit_code == 0
    assert from_top != WEB_VIEW
    assert views.read_text() == from_top
    assert (root / "libs/shared/shared/cio.py").read_text() == SHARED_CLIENT
    # The cache belongs to the project root: the top of the work tree.
    assert (root / ".cio_fix_cache").is_dir()
    assert not (root / "services/web/.cio_fix_cache").exists()


@pytest.mark.parametrize(
    "targets", [["."], ["services/web"], ["services/web/webapp/tracking.py"]]
)
def test_cli_shared_library_beside_configured_service(project, targets) -> None:
    # A service with [tool.cio-fix] is a project of its own, named or not:
    # its configuration applies, and the library outside it is not read.
    root = _shared_library_repository(
        project, web_table='[tool.cio-fix]\nselect = ["CIO3"]\n'
    )
    (root / "services/web/webapp/tracking.py").write_text(
        "from customerio import CustomerIO\n\n"
        'cio = CustomerIO("site", "key")\n'
        'cio.track(customer_id=1, name="Plan Changed")\n'
    )

    result = run_cli(["--output-format", "json", *targets], root)

    assert _found(result) == {("services/web/webapp/tracking.py", "CIO303")}
    assert (root / "services/web/.cio_fix_cache").is_dir()


def test_cli_internal_error_exits_two(project, monkeypatch, capsys) -> None:
    root = project({"app.py": PITFALLS})
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, "argv", ["cio-fix", "--no-cache", "."])

    def crash(*args, **kwargs):
        raise RuntimeError("unexpected state")

    monkeypatch.setattr("cio_fix.engine.run", crash)
    with pytest.raises(SystemExit) as exit_info:
        main()

    # Exit status 1 means that findings remain, so a crash must not use it.
    assert exit_info.value.code == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line.startswith(
        "cio-fix: error: internal error (RuntimeError: unexpected state)"
    )


@pytest.mark.parametrize("arguments", [[], ["--list-events"], ["PROJECT"]])
def test_cli_deleted_working_directory(
    project, tmp_path_factory, monkeypatch, capsys, arguments
) -> None:
    root = project({"app.py": PITFALLS})
    deleted_folder = tmp_path_factory.mktemp("deleted")
    monkeypatch.chdir(deleted_folder)
    deleted_folder.rmdir()
    argv = [str(root) if argument == "PROJECT" else argument for argument in arguments]
    monkeypatch.setattr(sys, "argv", ["cio-fix", "--no-cache", *argv])

    with pytest.raises(SystemExit) as exit_info:
        main()

    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip() == (
        "cio-fix: error: the current folder no longer exists; cd into the project"
        " and run cio-fix again"
    )


def test_cli_json_deleted_working_directory(
    tmp_path_factory, monkeypatch, capsys
) -> None:
    deleted_folder = tmp_path_factory.mktemp("deleted")
    monkeypatch.chdir(deleted_folder)
    deleted_folder.rmdir()
    monkeypatch.setattr(sys, "argv", ["cio-fix", "--output-format", "json"])

    with pytest.raises(SystemExit) as exit_info:
        main()

    assert exit_info.value.code == 2
    (error,) = json.loads(capsys.readouterr().out)["errors"]
    assert error["path"] == "."
    assert error["message"].startswith("the current folder no longer exists;")


# -- Ctrl-C ---------------------------------------------------------------------------


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def _interrupt_write(monkeypatch, module, after: int) -> None:
    """Make write number `after` + 1 of `module` raise KeyboardInterrupt, as Ctrl-C would."""
    real = module.write_atomic
    calls = []

    def write(path, data, root=None, original=None):
        calls.append(path)
        if len(calls) > after:
            raise KeyboardInterrupt
        real(path, data, root, original)

    monkeypatch.setattr(module, "write_atomic", write)


THREE_FILES = {
    "a.py": PITFALLS,
    "b.py": PITFALLS,
    "c.py": PITFALLS,
    "pyproject.toml": FIRST_RULES,
}


@pytest.mark.parametrize("mode", [[], ["--apply"]])
def test_cli_interrupt_before_writes(project, monkeypatch, mode) -> None:
    root = project(THREE_FILES)
    monkeypatch.setattr("cio_fix.pipeline.check_candidates", _interrupt)

    result = run_cli([*mode, "--no-cache", "."], root)

    assert result.exit_code == 130
    assert result.stdout == ""
    expected = (
        "cio-fix: interrupted before any file was written"
        if mode
        else ("cio-fix: interrupted")
    )
    assert result.stderr.strip() == expected
    for name in ("a.py", "b.py", "c.py"):
        assert (root / name).read_text() == PITFALLS


def test_cli_interrupt_after_writes(project, monkeypatch, tmp_path_factory) -> None:
    whole_run = tmp_path_factory.mktemp("whole")
    (whole_run / "pyproject.toml").write_text(FIRST_RULES)
    (whole_run / "a.py").write_text(PITFALLS)
    assert run_cli(["--apply", "--no-cache", "."], whole_run).exit_code == 0
    fixed_text = (whole_run / "a.py").read_text()
    root = project(THREE_FILES)
    _interrupt_write(monkeypatch, cio_fix.engine, after=2)

    result = run_cli(["--apply", "--no-cache", "."], root)

    assert result.exit_code == 130
    assert result.stderr.strip() == (
        "cio-fix: interrupted after writing 2 files; each file is either unchanged or"
        " completely fixed, so running the same command again finishes the job"
    )
    contents = [(root / name).read_text() for name in ("a.py", "b.py", "c.py")]
    assert contents.count(fixed_text) == 2
    assert contents.count(PITFALLS) == 1
    assert list(root.glob(".cio-fix.*")) == []

    monkeypatch.undo()
    again = run_cli(["--apply", "--no-cache", "."], root)

    assert again.exit_code == 0
    for name in ("a.py", "b.py", "c.py"):
        assert (root / name).read_text() == fixed_text


def test_cli_interrupt_after_noqa_comment(project, monkeypatch) -> None:
    root = project(THREE_FILES)
    _interrupt_write(monkeypatch, cio_fix.suppressions, after=1)

    result = run_cli(["--add-noqa", "--no-cache", "."], root)

    assert result.exit_code == 130
    assert result.stderr.strip() == (
        "cio-fix: interrupted after writing 1 file; each file is either unchanged or"
        " has all its comments, so running the same command again finishes the job"
    )
    changed = [
        name
        for name in ("a.py", "b.py", "c.py")
        if (root / name).read_text() != PITFALLS
    ]
    assert len(changed) == 1


def test_cli_sigint_during_writes_through_main(project) -> None:
    root = project(THREE_FILES)
    # Ctrl-C comes right after the first file is replaced, through the
    # handler that main() installs.
    script = """
import os, signal, sys
import cio_fix.writer
from cio_fix.cli import main

real_replace = os.replace

def replace_then_interrupt(source, target):
    real_replace(source, target)
    os.kill(os.getpid(), signal.SIGINT)

cio_fix.writer.os.replace = replace_then_interrupt
sys.argv = ["cio-fix", "--apply", "--no-cache", "."]
main()
"""

    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        timeout=120,
    )

    assert completed.returncode == 130
    assert completed.stdout == ""
    assert completed.stderr.strip() == (
        "cio-fix: interrupted after writing 1 file; each file is either unchanged or"
        " completely fixed, so running the same command again finishes the job"
    )
    contents = [(root / name).read_text() for name in ("a.py", "b.py", "c.py")]
    assert contents.count(PITFALLS) == 2


# Runs the command line and sends SIGTERM to it when the temporary file of
# its second write is complete, before that file replaces the original.
SIGTERM_BEFORE_SECOND_REPLACE = """
import os, signal, sys
from cio_fix.cli import main

real_fsync = os.fsync
synced = []

def fsync_then_terminate(descriptor):
    real_fsync(descriptor)
    synced.append(descriptor)
    if len(synced) == 2:
        os.kill(os.getpid(), signal.SIGTERM)

os.fsync = fsync_then_terminate
sys.argv = ["cio-fix", sys.argv[1], "--no-cache", "."]
main()
"""


@pytest.mark.parametrize(
    ("option", "whole"),
    [("--apply", "completely fixed"), ("--add-noqa", "has all its comments")],
)
def test_cli_sigterm_during_writes(project, option, whole) -> None:
    root = project(THREE_FILES)

    completed = subprocess.run(
        [sys.executable, "-c", SIGTERM_BEFORE_SECOND_REPLACE, option],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        timeout=120,
    )

    assert completed.returncode == 143
    assert completed.stdout == ""
    assert completed.stderr.strip() == (
        "cio-fix: terminated after writing 1 file; each file is either unchanged or"
        f" {whole}, so running the same command again finishes the job"
    )
    assert sorted(path.name for path in root.iterdir()) == [
        "a.py",
        "b.py",
        "c.py",
        "pyproject.toml",
    ]
    contents = [(root / name).read_text() for name in ("a.py", "b.py", "c.py")]
    assert contents.count(PITFALLS) == 2


HARD_CODED_KEYS = (
    "from customerio import CustomerIO\n"
    'cio = CustomerIO("3f9a0c1d2e4b5a69c7d1", "0a1b2c3d4e5f6a7b8c9d")\n'
)


NODE_TRACKING = """\
const { TrackClient } = require("customerio-node");
const cio = new TrackClient(process.env.SITE_ID, process.env.API_KEY);
"""
NOT_PYTHON = (
    "{}: warning: not a Python file (no .py, .pyi or .pyw suffix and no python shebang"
    " line); not checked"
)


@pytest.mark.parametrize("text", [NODE_TRACKING, "const x = 1;\n"])
def test_cli_named_file_not_python(project, text) -> None:
    root = project({"pyproject.toml": FIRST_RULES, "web/track.js": text})

    result = run_cli(["web/track.js"], root)

    assert result.exit_code == 0
    assert result.stderr.splitlines() == [NOT_PYTHON.format("web/track.js")]
    assert "syntax" not in result.stderr
    assert result.stdout == "No Customer.io pitfalls found (0 files checked).\n"


def test_cli_named_file_not_python_json(project) -> None:
    root = project({"pyproject.toml": FIRST_RULES, "web/track.js": NODE_TRACKING})

    result = run_cli(["--output-format", "json", "web/track.js", "--no-cache"], root)

    assert result.exit_code == 0
    assert result.json["errors"] == []
    assert result.stderr.splitlines() == [NOT_PYTHON.format("web/track.js")]


def test_cli_not_python_next_to_python(project) -> None:
    root = project(
        {
            "pyproject.toml": FIRST_RULES,
            "web/track.js": NODE_TRACKING,
            "app.py": PITFALLS,
        }
    )

    result = run_cli(["--no-diff", "app.py", "web/track.js"], root)

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [NOT_PYTHON.format("web/track.js")]
    assert "app.py:5:18: CIO101" in result.stdout


def test_cli_named_python_script_checked(project) -> None:
    root = project(
        {
            "pyproject.toml": FIRST_RULES,
            "bin/sync": "#!/usr/bin/env python3\n" + HARD_CODED_KEYS,
        }
    )

    result = run_cli(["--no-diff", "bin/sync"], root)

    assert result.exit_code == 1
    assert result.stderr == ""
    assert "bin/sync:3:" in result.stdout


@pytest.mark.parametrize("output", [[], ["--output-format", "json"]])
def test_cli_folder_without_python_files(project, output) -> None:
    root = project({"pyproject.toml": FIRST_RULES, "web/track.js": NODE_TRACKING})

    result = run_cli([*output, "web"], root)

    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "cio-fix: warning: no Python files (.py, .pyi, .pyw) found in web; nothing was"
        " checked"
    ]


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        (
            {".gitignore": "lib/\n"},
            "1 ignored by git or a .gitignore file",
        ),
        (
            {"pyproject.toml": '[tool.cio-fix]\nextend-exclude = ["lib/"]\n'},
            "1 excluded by `exclude` or `extend-exclude` in pyproject.toml",
        ),
        (
            {
                ".gitignore": "lib/gen/\n",
                "pyproject.toml": '[tool.cio-fix]\nextend-exclude = ["lib/a*"]\n',
                "lib/gen/b.py": HARD_CODED_KEYS,
                "lib/gen/c.py": HARD_CODED_KEYS,
            },
            "1 excluded by `exclude` or `extend-exclude` in pyproject.toml, 2 ignored"
            " by git or a .gitignore file",
        ),
    ],
)
@pytest.mark.parametrize("in_git", [False, True])
def test_cli_folder_with_left_out_files(project, files, reason, in_git) -> None:
    root = project({**files, "lib/app.py": HARD_CODED_KEYS})
    if in_git:
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)

    result = run_cli(["--no-cache", "lib"], root)

    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        f"cio-fix: warning: every Python file in lib is left out ({reason}); nothing"
        " was checked"
    ]


LEFT_OUT = (
    "cio-fix: warning: every Python file in {} is left out ({}); nothing was checked"
)


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        # The service's own settings exclude its lib/, not the top's.
        (
            {
                "svc/pyproject.toml": '[tool.cio-fix]\nextend-exclude = ["lib/"]\n',
                "svc/lib/x.py": HARD_CODED_KEYS,
            },
            "1 excluded by `exclude` or `extend-exclude` in svc/pyproject.toml",
        ),
        (
            {".venv/lib/x.py": HARD_CODED_KEYS, "build/y.py": HARD_CODED_KEYS},
            "2 excluded by default",
        ),
        (
            {
                "env/pyvenv.cfg": "home = /usr/bin\n",
                "env/lib/python3.11/site-packages/x.py": HARD_CODED_KEYS,
                "env/bin/y.py": HARD_CODED_KEYS,
            },
            "2 in a virtual environment or site-packages folder",
        ),
        # An `exclude` that the project sets replaces the default list.
        (
            {
                "pyproject.toml": '[tool.cio-fix]\nexclude = ["build"]\n',
                "build/y.py": HARD_CODED_KEYS,
            },
            "1 excluded by `exclude` or `extend-exclude` in pyproject.toml",
        ),
        (
            {
                "pyproject.toml": '[tool.cio-fix]\nextend-exclude = ["stubs/"]\n',
                "stubs/x.pyi": "def track() -> None: ...\n",
            },
            "1 excluded by `exclude` or `extend-exclude` in pyproject.toml",
        ),
    ],
)
@pytest.mark.parametrize("in_git", [False, True])
def test_cli_left_out_reason_named(project, files, reason, in_git) -> None:
    root = project(files)
    if in_git:
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)

    result = run_cli(["--no-cache"], root)

    assert result.exit_code == 0
    assert result.stderr.splitlines() == [LEFT_OUT.format(".", reason)]


def test_cli_left_out_nested_repository(project) -> None:
    root = project({"inner/app/x.py": HARD_CODED_KEYS})
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "init", "-q"], cwd=root / "inner", check=True)

    result = run_cli(["--no-cache"], root)

    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        LEFT_OUT.format(".", "1 in a nested git repository or submodule")
    ]


def test_cli_left_out_submodule(project, tmp_path_factory) -> None:
    library = tmp_path_factory.mktemp("library")
    (library / "x.py").write_text(HARD_CODED_KEYS)
    git = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com"]
    subprocess.run(["git", "init", "-q"], cwd=library, check=True)
    subprocess.run([*git, "add", "x.py"], cwd=library, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "Add x"], cwd=library, check=True)
    root = project({"README.md": ""})
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    submodule = [*git, "-c", "protocol.file.allow=always", "submodule", "add"]
    subprocess.run(
        [*submodule, "-q", str(library), "vendor/library"], cwd=root, check=True
    )

    result = run_cli(["--no-cache"], root)

    assert (root / "vendor/library/x.py").is_file()
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        LEFT_OUT.format(".", "1 in a nested git repository or submodule")
    ]


@pytest.mark.parametrize("in_git", [False, True])
def test_cli_left_out_links_outside(project, tmp_path_factory, in_git) -> None:
    outside = tmp_path_factory.mktemp("outside") / "o.py"
    outside.write_text(HARD_CODED_KEYS)
    root = project({"README.md": ""})
    (root / "linked.py").symlink_to(outside)
    (root / "also_linked.py").symlink_to(outside)
    if in_git:
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)

    result = run_cli(["--no-cache"], root)

    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        LEFT_OUT.format(".", "2 symbolic links to files outside the folder")
    ]


def test_cli_left_out_broken_link(project) -> None:
    root = project({"README.md": ""})
    (root / "gone.py").symlink_to(root / "missing.py")

    result = run_cli(["--no-cache"], root)

    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        LEFT_OUT.format(".", "1 broken symbolic link or special file")
    ]


def test_cli_left_out_every_reason(project, tmp_path_factory) -> None:
    outside = tmp_path_factory.mktemp("outside") / "o.py"
    outside.write_text(HARD_CODED_KEYS)
    root = project(
        {
            "pyproject.toml": '[tool.cio-fix]\nextend-exclude = ["legacy/"]\n',
            ".gitignore": "gen/\n",
            "legacy/a.py": HARD_CODED_KEYS,
            "legacy/b.pyi": HARD_CODED_KEYS,
            "gen/c.py": HARD_CODED_KEYS,
            "dist/d.py": HARD_CODED_KEYS,
            "svc/pyproject.toml": '[tool.cio-fix]\nextend-exclude = ["lib/"]\n',
            "svc/lib/e.py": HARD_CODED_KEYS,
            "inner/f.py": HARD_CODED_KEYS,
        }
    )
    (root / "linked.py").symlink_to(outside)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "init", "-q"], cwd=root / "inner", check=True)

    result = run_cli(["--no-cache"], root)

    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        LEFT_OUT.format(
            ".",
            "2 excluded by `exclude` or `extend-exclude` in pyproject.toml,"
            " 1 excluded by `exclude` or `extend-exclude` in svc/pyproject.toml,"
            " 1 excluded by default, 1 in a nested git repository or submodule,"
            " 1 ignored by git or a .gitignore file, 1 symbolic link to a file"
            " outside the folder",
        )
    ]


@pytest.mark.parametrize(
    ("paths", "found"),
    [
        (["app/locked"], "the Python files in app/locked are unknown"),
        (["app"], "the Python files in app are unknown"),
    ],
)
def test_cli_left_out_folder_unlistable(project, monkeypatch, paths, found) -> None:
    root = project(
        {
            "pyproject.toml": '[tool.cio-fix]\nextend-exclude = ["app/locked"]\n',
            "app/locked/x.py": HARD_CODED_KEYS,
        }
    )
    locked = str(root / "app" / "locked")
    scandir = os.scandir

    # Root lists folders whatever their mode, so the denial is simulated.
    def deny(path):
        if os.path.abspath(path) == locked:
            raise PermissionError(13, "Permission denied", path)
        return scandir(path)

    monkeypatch.setattr(os, "scandir", deny)
    result = run_cli(["--no-cache", *paths], root)
    monkeypatch.undo()

    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "cio-fix: warning: cannot list folder app/locked (Permission denied), which"
        f" the run leaves out, so {found}; nothing was checked"
    ]


def test_cli_left_out_beside_unlistable_folder(project, monkeypatch) -> None:
    root = project(
        {
            "pyproject.toml": '[tool.cio-fix]\nextend-exclude = ["app/"]\n',
            "app/x.py": HARD_CODED_KEYS,
            "app/locked/y.py": HARD_CODED_KEYS,
        }
    )
    locked = str(root / "app" / "locked")
    scandir = os.scandir

    def deny(path):
        if os.path.abspath(path) == locked:
            raise PermissionError(13, "Permission denied", path)
        return scandir(path)

    monkeypatch.setattr(os, "scandir", deny)
    result = run_cli(["--no-cache"], root)
    monkeypatch.undo()

    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "cio-fix: warning: every Python file in . is left out (1 excluded by"
        " `exclude` or `extend-exclude` in pyproject.toml), and the left-out folder"
        " app/locked (Permission denied) cannot be listed; nothing was checked"
    ]


def test_cli_not_python_and_empty_folder(project) -> None:
    root = project(
        {"pyproject.toml": FIRST_RULES, "web/track.js": "", "docs/index.md": ""}
    )

    result = run_cli(["-q", "web/track.js", "docs"], root)

    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        NOT_PYTHON.format("web/track.js"),
        "cio-fix: warning: no Python files (.py, .pyi, .pyw) found in web/track.js, docs;"
        " nothing was checked",
    ]


def test_cli_force_exclude_all_named_no_warning(project) -> None:
    root = project(
        {
            "pyproject.toml": '[tool.cio-fix]\nextend-exclude = ["legacy/"]\n',
            "legacy/old.py": HARD_CODED_KEYS,
        }
    )

    result = run_cli(["--force-exclude", "legacy/old.py"], root)

    assert result.exit_code == 0
    assert result.stderr == ""


def test_cli_list_events_named_file_not_python(project) -> None:
    root = project({"pyproject.toml": FIRST_RULES, "web/track.js": NODE_TRACKING})

    result = run_cli(["--list-events", "web/track.js"], root)

    assert result.exit_code == 0
    assert result.stderr.splitlines() == [NOT_PYTHON.format("web/track.js")]
    assert result.stdout == "No event names found.\n"


def test_force_exclude_named_files(project) -> None:
    root = project(
        {
            "pyproject.toml": '[tool.cio-fix]\nextend-exclude = ["legacy/"]\n',
            "legacy/old.py": HARD_CODED_KEYS,
            "app/new.py": HARD_CODED_KEYS,
        }
    )
    hook = ["--apply", "--exit-non-zero-on-fix", "--no-diff", "--force-exclude"]
    result = run_cli([*hook, "legacy/old.py", "app/new.py"], root)

    assert result.exit_code == 1
    assert (root / "legacy" / "old.py").read_text(encoding="utf-8") == HARD_CODED_KEYS
    assert (root / "app" / "new.py").read_text(encoding="utf-8") != HARD_CODED_KEYS
    assert "legacy/old.py" not in result.stdout


def test_named_file_checked_without_force_exclude(project) -> None:
    root = project(
        {
            "pyproject.toml": '[tool.cio-fix]\nextend-exclude = ["legacy/"]\n',
            "legacy/old.py": HARD_CODED_KEYS,
        }
    )
    result = run_cli(["--no-diff", "legacy/old.py"], root)

    assert result.exit_code == 1
    assert "legacy/old.py:2:" in result.stdout


@pytest.mark.parametrize("in_git", [False, True], ids=["outside git", "in git"])
def test_force_exclude_gitignored_named_file(project, in_git: bool) -> None:
    root = project(
        {
            "pyproject.toml": "[project]\nname = 'hooked'\n",
            ".gitignore": "gen/\n",
            "gen/client.py": HARD_CODED_KEYS,
            "gen/.gitignore": "!client.py\n",
            ".venv/lib/site.py": HARD_CODED_KEYS,
            "app.py": HARD_CODED_KEYS,
        }
    )
    if in_git:
        subprocess.run(["git", "init", "-q", "."], cwd=root, check=True)
    named = ["gen/client.py", ".venv/lib/site.py", "app.py"]
    result = run_cli(["--no-diff", "--force-exclude", *named], root)

    assert result.exit_code == 1
    assert "app.py:2:" in result.stdout
    assert "gen/client.py" not in result.stdout
    assert ".venv/lib/site.py" not in result.stdout


def test_force_exclude_keeps_tracked_ignored_file(project) -> None:
    # git lists a tracked file that a .gitignore pattern matches, and so
    # does a folder walk through git.
    root = project({".gitignore": "generated.py\n", "generated.py": HARD_CODED_KEYS})
    subprocess.run(["git", "init", "-q", "."], cwd=root, check=True)
    subprocess.run(["git", "add", "-f", "generated.py"], cwd=root, check=True)
    named = run_cli(["--no-diff", "--force-exclude", "generated.py"], root)
    walked = run_cli(["--no-diff", "."], root)

    assert named.exit_code == 1
    assert "generated.py:2:" in named.stdout
    assert "generated.py:2:" in walked.stdout


def test_cli_add_noqa_error_lines(project) -> None:
    # 500 nested unary minus operators go past Python's recursion limit.
    terms = "-" * 500 + "1"
    root = project({"app.py": f"{PITFALLS}x = {terms}\n"})

    result = run_cli(["--add-noqa", "--no-cache", ".", "missing.py"], root)

    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(
        "app.py: error: not fully checked: nested too deeply to analyse (past"
        " Python's recursion limit) for CIO"
    )
    assert lines[0].endswith(
        "; the findings of the other rules get their noqa comments; exclude it if it"
        " is generated code"
    )
    assert (
        lines[1]
        == "missing.py: error: path not found; check the spelling or the folder"
    )
