"""`# noqa: CODE`, `# cio-fix: noqa` and `per-file-ignores`: what they silence."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess

import libcst as cst
import pytest

from cio_fix.metadata import parents
from cio_fix.suppressions import (
    EVERY_CODE,
    codes_in,
    file_codes,
    line_codes,
    statement_codes,
)

from conftest import FIXTURES, run_cli

ONLY_CIO = '[tool.cio-fix]\nselect = ["CIO103", "CIO301", "CIO304", "CIO401"]\n'

HANDLER = """\
import time

from customerio import CustomerIO
from flask import Flask

app = Flask(__name__)
cio = CustomerIO("site", "key")


@app.route("/view")
def view(user):
{body}
    return "ok"
"""


def _handler(*lines: str) -> str:
    return HANDLER.format(body="\n".join(f"    {line}" for line in lines))


def _codes(result) -> list[tuple[int, str]]:
    return [(item["line"], item["code"]) for item in result.json["findings"]]


def _json(root, *options: str):
    return run_cli(["--output-format", "json", "--no-cache", *options, "."], root)


# -- which comments count ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("comment", "codes"),
    [
        ("# noqa: CIO301", {"CIO301"}),
        ("# noqa:CIO301,CIO103", {"CIO301", "CIO103"}),
        ("# NOQA: cio301 CIO103", {"CIO301", "CIO103"}),
        ("# noqa: E501, CIO304", {"CIO304"}),
        ("# type: ignore[arg-type]  # noqa: CIO101", {"CIO101"}),
        ("# noqa", set()),
        ("# noqa: E501", set()),
        ("# see the noqa: CIO301 note", set()),
    ],
)
def test_codes_in_comment(comment: str, codes: set[str]) -> None:
    assert codes_in(comment) == codes


def test_file_directive_counts_only_own_line_comments() -> None:
    code = (
        '"""Docs.\n\n# cio-fix: noqa\n"""\n'
        "x = 1  # cio-fix: noqa: CIO301\n"
        "# cio-fix: noqa: CIO101, CIO304\n"
    )

    assert file_codes(code) == {"CIO101", "CIO304"}
    assert file_codes("# cio-fix: noqa\nx = 1\n") == {EVERY_CODE}
    assert file_codes("x = 1\n") == frozenset()
    assert file_codes("# cio-fix: noqa: CIO301 -- the B test\n") == {"CIO301"}
    assert file_codes("# cio-fix: noqa: typo\n") == frozenset()
    assert file_codes("x = 1\r# cio-fix: noqa\r") == {EVERY_CODE}


def test_file_directive_newer_syntax_docstring() -> None:
    # This Python's tokenizer cannot read the f-string (Python 3.12 syntax).
    code = '"""Docs.\n\n# cio-fix: noqa\n"""\nx = f"{d["("]}"\n'

    assert file_codes(code) == frozenset()


def _statement_codes(code: str, text: str) -> frozenset[str]:
    module = cst.parse_module(code)
    parent_of = parents(module)
    (node,) = [
        node for node in parent_of if isinstance(node, cst.Name) and node.value == text
    ]
    return statement_codes(node, parent_of)


@pytest.mark.parametrize(
    ("code", "codes"),
    [
        ("call(target)  # noqa: CIO301\n", {"CIO301"}),
        ("call(  # noqa: CIO301\n    target,\n)\n", {"CIO301"}),
        ("call(\n    target,  # noqa: CIO301\n)\n", {"CIO301"}),
        ("call(\n    target,\n)  # noqa: CIO301\n", {"CIO301"}),
        ("# noqa: CIO301\ncall(target)\n", set()),
        ("call(target)\n# noqa: CIO301\n", set()),
        ("with open(target) as f:  # noqa: CIO601\n    pass\n", {"CIO601"}),
        ("with open(target) as f:\n    pass  # noqa: CIO601\n", set()),
        ("if x:\n    call(target)  # noqa: CIO301\n", {"CIO301"}),
        ("if x:  # noqa: CIO301\n    call(target)\n", set()),
        ("if target: call(y)  # noqa: CIO301\n", {"CIO301"}),
        ("if x: call(target)  # noqa: CIO301\n", {"CIO301"}),
        ("def f(a=target):  # noqa: CIO601\n    pass\n", {"CIO601"}),
        ("@route(target)  # noqa: CIO601\ndef f():\n    pass\n", {"CIO601"}),
        (
            "match x:\n    case 1:\n        call(target)  # noqa: CIO301\n",
            {"CIO301"},
        ),
        (
            "match call(target):  # noqa: CIO301\n    case 1:\n        pass\n",
            {"CIO301"},
        ),
        (
            "def f():  # noqa: CIO301\n    match call(target):\n        case 1:\n            pass\n",
            set(),
        ),
    ],
)
def test_statement_codes(code: str, codes: set[str]) -> None:
    assert _statement_codes(code, "target") == codes


@pytest.mark.parametrize(
    "code",
    [
        "call(  # noqa: CIO301\n    target,\n    other,\n)\nnext_call()\n",
        "with open(target) as f:  # noqa: CIO601\n    pass\n",
        "if target: call(y)  # noqa: CIO301\nz = 1\n",
        "x = [\n    1,\n    target,\n]  # noqa: CIO103\n",
        "# noqa: CIO301\ncall(target)\n",
    ],
)
def test_line_codes_match_statement_codes(code: str) -> None:
    line = next(
        number
        for number, text in enumerate(code.splitlines(), start=1)
        if "target" in text
    )

    assert line_codes(code).get(line, frozenset()) == _statement_codes(code, "target")


# -- what the runs report and fix -------------------------------------------------------


def test_noqa_silences_only_the_codes_it_names(project) -> None:
    root = project(
        {
            "app.py": _handler(
                "cio.identify(id=user.id, created_at=int(time.time() * 1000))"
                "  # noqa: CIO103, CIO304",
            ),
            "pyproject.toml": ONLY_CIO,
        }
    )

    assert _codes(_json(root)) == [(12, "CIO401")]


def test_bare_noqa_silences_nothing(project) -> None:
    root = project(
        {
            "app.py": _handler(
                'cio.track(customer_id=user.id, name=f"a_{user.sku}")  # noqa',
                'cio.track(customer_id=user.id, name=f"b_{user.sku}")  # noqa: E501',
            ),
            "pyproject.toml": '[tool.cio-fix]\nselect = ["CIO301"]\n',
        }
    )

    assert _codes(_json(root)) == [(12, "CIO301"), (13, "CIO301")]


def test_noqa_multi_line_call(project) -> None:
    root = project(
        {
            "app.py": _handler(
                "cio.track(",
                "    customer_id=user.id,",
                '    name=f"viewed_{user.sku}",',
                ")  # noqa: CIO301",
                'cio.track(customer_id=user.id, name=f"liked_{user.sku}")',
            ),
            "pyproject.toml": '[tool.cio-fix]\nselect = ["CIO301"]\n',
        }
    )

    assert _codes(_json(root)) == [(16, "CIO301")]


def test_noqa_survives_other_rules_fixes(
    project,
) -> None:
    # CIO301 fixes the first name, and CIO304 wraps the handler's last event
    # for a background thread; the silenced name must come through both. The
    # first event stays on the request's thread, so that it arrives first.
    source = _handler(
        'cio.track(customer_id=user.id, name=f"liked_{user.sku}")',
        'cio.track(customer_id=user.id, name=f"viewed_{user.sku}")  # noqa: CIO301',
    )
    root = project(
        {
            "app.py": source,
            "pyproject.toml": ONLY_CIO,
            "requirements.txt": "customerio==1.6.1\n",
        }
    )

    result = run_cli(["--apply", "--no-cache", "."], root)
    fixed = (root / "app.py").read_text()

    assert result.exit_code == 1
    assert 'name=f"viewed_{user.sku}"' in fixed
    assert 'name="liked", user_sku=f"{user.sku}"' in fixed
    assert "_customerio_in_background(" in fixed
    assert [code for _, code in _codes(_json(root))] == ["CIO304"]


def test_file_directive_silences_the_whole_file(project) -> None:
    body = 'cio.track(customer_id=user.id, name=f"viewed_{user.sku}")'
    root = project(
        {
            "all.py": "# cio-fix: noqa\n" + _handler(body),
            "some.py": "# cio-fix: noqa: CIO304\n" + _handler(body),
            "pyproject.toml": ONLY_CIO,
        }
    )

    assert _codes(_json(root)) == [(13, "CIO301")]
    run_cli(["--apply", "--no-cache", "."], root)
    assert (root / "all.py").read_text() == "# cio-fix: noqa\n" + _handler(body)


def test_per_file_ignores(project) -> None:
    key = 'cio = CustomerIO("3f9a0c1d2e4b5a69c7d1", "0a1b2c3d4e5f6a7b8c9d")\n'
    header = "from customerio import CustomerIO\n\n"
    root = project(
        {
            "app.py": header + key,
            "tests/test_app.py": header + key,
            "scripts/seed.py": header + key,
            "pyproject.toml": (
                '[tool.cio-fix]\nselect = ["CIO101"]\n'
                "[tool.cio-fix.per-file-ignores]\n"
                '"tests/**" = ["CIO101"]\n'
                '"scripts/*.py" = ["CIO1"]\n'
            ),
        }
    )

    result = _json(root)

    assert {item["path"] for item in result.json["findings"]} == {"app.py"}
    assert run_cli(["--apply", "--no-cache", "."], root).exit_code == 0
    assert (root / "tests/test_app.py").read_text() == header + key


def test_per_file_ignores_dot_slash(project) -> None:
    key = 'cio = CustomerIO("3f9a0c1d2e4b5a69c7d1", "0a1b2c3d4e5f6a7b8c9d")\n'
    header = "from customerio import CustomerIO\n\n"
    root = project(
        {
            "scripts/seed.py": header + key,
            "app/scripts/seed.py": header + key,
            "pyproject.toml": (
                '[tool.cio-fix]\nselect = ["CIO101"]\n'
                "[tool.cio-fix.per-file-ignores]\n"
                '"./scripts/*" = ["CIO101"]\n'
            ),
        }
    )

    result = _json(root)

    assert result.exit_code == 1
    assert {item["path"] for item in result.json["findings"]} == {"app/scripts/seed.py"}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('per-file-ignores = ["tests"]', "per-file-ignores must be a table"),
        (
            '[tool.cio-fix.per-file-ignores]\n"tests/**" = "CIO101"',
            "must be a list of strings",
        ),
        (
            '[tool.cio-fix.per-file-ignores]\n"tests/**" = ["CIO9"]',
            "unknown rule selector 'CIO9'",
        ),
        (
            '[tool.cio-fix.per-file-ignores]\n"acme/{jobs,api}/*.py" = ["CIO1"]',
            "per-file-ignores pattern 'acme/{jobs,api}/*.py' uses braces",
        ),
        (
            '[tool.cio-fix.per-file-ignores]\n"./" = ["CIO1"]',
            "per-file-ignores pattern './' names the project root itself",
        ),
    ],
)
def test_per_file_ignores_errors_name_the_file(project, table, message) -> None:
    root = project(
        {
            "app.py": "from customerio import CustomerIO\n",
            "pyproject.toml": "[tool.cio-fix]\n" + table + "\n",
        }
    )

    result = run_cli(["."], root)

    assert result.exit_code == 2
    assert "pyproject.toml" in result.stderr
    assert message in result.stderr


MAILER = """\
from customerio import APIClient, SendEmailRequest

mailer = APIClient("app-key")


def send_receipt(user):
    request = SendEmailRequest(transactional_message_id="receipt", to=user.email)
    mailer.send_email(request){comment}
"""


def test_project_findings_noqa_with_cache(project) -> None:
    root = project(
        {
            "mailer.py": MAILER.format(comment=""),
            "pyproject.toml": '[tool.cio-fix]\nselect = ["CIO501"]\n',
        }
    )
    first = run_cli(["--output-format", "json", "."], root)
    (root / "mailer.py").write_text(MAILER.format(comment="  # noqa: CIO501"))

    second = run_cli(["--output-format", "json", "."], root)

    assert _codes(first) == [(8, "CIO501")]
    assert _codes(second) == []


def test_project_findings_per_file_ignores(project) -> None:
    root = project(
        {
            "mail/mailer.py": MAILER.format(comment=""),
            "pyproject.toml": (
                '[tool.cio-fix]\nselect = ["CIO501"]\n'
                '[tool.cio-fix.per-file-ignores]\n"mail/" = ["CIO5"]\n'
            ),
        }
    )

    assert _codes(_json(root)) == []


def test_silenced_key_is_still_masked(project) -> None:
    source = _handler(
        'local = CustomerIO("3f9a0c1d2e4b5a69c7d1", "0a1b2c3d4e5f6a7b8c9d")'
        "  # noqa: CIO101",
        "local.identify(id=user.id, created_at=int(time.time() * 1000))",
    )
    root = project(
        {
            "app.py": source,
            "pyproject.toml": '[tool.cio-fix]\nselect = ["CIO101", "CIO103"]\n',
        }
    )

    result = run_cli(["--dry-run", "--no-cache", "."], root)

    assert ": CIO103 " in result.stdout
    assert ": CIO101 " not in result.stdout
    assert "0a1b2c3d4e5f6a7b8c9d" not in result.stdout
    assert "0a1b****" in result.stdout


def test_fix_withheld_that_moves_silenced_code(project) -> None:
    # Hoisting the client would move the silenced key away from its comment.
    source = _handler(
        'local = CustomerIO("3f9a0c1d2e4b5a69c7d1", "0a1b2c3d4e5f6a7b8c9d")'
        "  # noqa: CIO101",
        'local.track(customer_id=user.id, name="viewed")',
    )
    root = project(
        {
            "app.py": source,
            "pyproject.toml": '[tool.cio-fix]\nselect = ["CIO101", "CIO601"]\n',
        }
    )

    result = run_cli(["--apply", "--no-cache", "."], root)

    assert "the fix would move code that a `# noqa` comment silences" in result.stdout
    assert (root / "app.py").read_text() == source


# -- --add-noqa ---------------------------------------------------------------------------


def _compiles(path) -> bool:
    try:
        compile(path.read_bytes(), str(path), "exec")
    except SyntaxError:
        return False
    return True


def test_add_noqa_silences_every_fixture(tmp_path) -> None:
    root = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, root)
    # A fixture with syntax newer than the Python running the tests (a PEP
    # 695 `type` statement before 3.12) can only be parsed by libcst here.
    compiled = {path for path in root.rglob("*.py") if _compiles(path)}
    before = _json(root, "--unsafe-fixes")

    # Hard-coded keys get comments only when CIO101 is named.
    added = run_cli(["--add-noqa", "--select", "ALL,CIO101", "--no-cache", "."], root)
    after = _json(root, "--unsafe-fixes")

    assert before.json["findings"]
    assert added.exit_code == 0
    assert added.stdout.startswith("Added ")
    assert after.json["findings"] == []
    assert after.json["errors"] == before.json["errors"]
    for path in root.rglob("*.py"):
        if path in compiled:
            compile(path.read_bytes(), str(path), "exec")
        else:
            cst.parse_module(path.read_bytes())


def test_add_noqa_joins_existing_comments(project) -> None:
    root = project(
        {
            "app.py": _handler(
                'cio.track(customer_id=user.id, name=f"a_{user.sku}")  # noqa: E501',
                'cio.track(customer_id=user.id, name=f"b_{user.sku}")  # the B page',
                "cio.track(",
                "    customer_id=user.id,",
                '    name=f"c_{user.sku}",',
                ")",
            ),
            "pyproject.toml": '[tool.cio-fix]\nselect = ["CIO301"]\n',
        }
    )

    result = run_cli(["--add-noqa", "--no-cache", "."], root)
    lines = (root / "app.py").read_text().splitlines()

    assert result.stdout.strip() == "Added 3 noqa comments to 1 file."
    assert lines[11].endswith("# noqa: E501, CIO301")
    assert lines[12].endswith("# the B page  # noqa: CIO301")
    assert lines[16] == "    )  # noqa: CIO301"


def test_add_noqa_keeps_bytes_elsewhere(project) -> None:
    source = _handler(
        'cio.track(customer_id=user.id, name=f"a_{user.sku}")',
    ).replace("\n", "\r\n")
    root = project(
        {
            "app.py": source.encode("utf-8"),
            "pyproject.toml": '[tool.cio-fix]\nselect = ["CIO301"]\n',
        }
    )

    run_cli(["--add-noqa", "--no-cache", "."], root)
    fixed = (root / "app.py").read_bytes()

    assert fixed == source.replace(
        'user.sku}")\r\n', 'user.sku}")  # noqa: CIO301\r\n'
    ).encode("utf-8")


def test_add_noqa_rejects_apply(project) -> None:
    root = project({"app.py": _handler("pass")})

    result = run_cli(["--add-noqa", "--apply", "."], root)

    assert result.exit_code == 2
    assert "--add-noqa" in result.stderr


def test_add_noqa_dry_run_shows_diff(project) -> None:
    source = _handler('cio.track(customer_id=user.id, name=f"a_{user.sku}")')
    root = project(
        {
            "b.py": source,
            "a.py": source,
            "pyproject.toml": '[tool.cio-fix]\nselect = ["CIO301"]\n',
        }
    )
    before = {name: (root / name).stat().st_mtime_ns for name in ("a.py", "b.py")}

    result = run_cli(["--add-noqa", "--dry-run", "--no-cache", "."], root)
    lines = result.stdout.splitlines()

    assert result.exit_code == 1
    for name in ("a.py", "b.py"):
        assert (root / name).read_text() == source
        assert (root / name).stat().st_mtime_ns == before[name]
    assert [line for line in lines if line.startswith(("---", "+++"))] == [
        "--- a/a.py",
        "+++ b/a.py",
        "--- a/b.py",
        "+++ b/b.py",
    ]
    assert (
        '+    cio.track(customer_id=user.id, name=f"a_{user.sku}")  # noqa: CIO301'
        in lines
    )
    assert lines[-1] == (
        "Would add 2 noqa comments to 2 files; run `cio-fix --add-noqa` without"
        " --dry-run to add them."
    )


def test_add_noqa_dry_run_diff_applies(project, tmp_path_factory) -> None:
    source = _handler(
        'cio.track(customer_id=user.id, name=f"a_{user.sku}")  # noqa: E501',
        "cio.track(",
        "    customer_id=user.id,",
        '    name=f"c_{user.sku}",',
        ")",
    )
    files = {
        "app.py": source,
        "pyproject.toml": '[tool.cio-fix]\nselect = ["CIO301"]\n',
    }
    root = project(files)
    written = tmp_path_factory.mktemp("written")
    for name, text in files.items():
        (written / name).write_text(text)

    dry_run = run_cli(["--add-noqa", "--dry-run", "--no-cache", "."], root)
    run_cli(["--add-noqa", "--no-cache", "."], written)
    patch = dry_run.stdout[
        dry_run.stdout.index("--- a/") : dry_run.stdout.rindex("\nWould")
    ]
    (root / "noqa.patch").write_text(patch + "\n")
    subprocess.run(["git", "apply", "noqa.patch"], cwd=root, check=True)

    assert "# noqa: E501, CIO301" in (written / "app.py").read_text()
    assert (root / "app.py").read_text() == (written / "app.py").read_text()


def test_add_noqa_dry_run_masks_keys(project) -> None:
    root = project(
        {
            "app.py": (
                "from customerio import CustomerIO\n\n"
                'cio = CustomerIO("3f9a0c1d2e4b5a69c7d1", "0a1b2c3d4e5f6a7b8c9d")\n'
            ),
        }
    )

    result = run_cli(
        ["--add-noqa", "--select", "CIO101", "--dry-run", "--no-cache", "."], root
    )

    assert result.exit_code == 1
    assert "# noqa: CIO101" in result.stdout
    assert "3f9a0c1d2e4b5a69c7d1" not in result.stdout
    assert "0a1b2c3d4e5f6a7b8c9d" not in result.stdout
    assert "3f9a****" in result.stderr
    assert "3f9a0c1d2e4b5a69c7d1" not in result.stderr
    assert "0a1b2c3d4e5f6a7b8c9d" not in result.stderr


def test_add_noqa_dry_run_json(project) -> None:
    source = _handler('cio.track(customer_id=user.id, name=f"a_{user.sku}")')
    root = project(
        {"app.py": source, "pyproject.toml": '[tool.cio-fix]\nselect = ["CIO301"]\n'}
    )

    result = run_cli(
        ["--add-noqa", "--dry-run", "--output-format", "json", "--no-cache", "."],
        root,
    )

    assert result.exit_code == 1
    assert result.json == {
        "version": 1,
        "added": 1,
        "files": ["app.py"],
        "hard_coded_keys": [],
        "errors": [],
    }
    assert (root / "app.py").read_text() == source


def test_add_noqa_dry_run_nothing_to_add(project) -> None:
    root = project(
        {
            "app.py": _handler("pass"),
            "pyproject.toml": '[tool.cio-fix]\nselect = ["CIO301"]\n',
        }
    )

    result = run_cli(["--add-noqa", "--dry-run", "--no-cache", "."], root)

    assert result.exit_code == 0
    assert result.stdout.strip() == "No noqa comment to add."


def test_add_noqa_counts_lines_as_python(project) -> None:
    # str.splitlines also breaks at U+2028 and NEL; Python and libcst do not.
    source = _handler(
        'help_text = "one\u2028two\x85three"',
        'cio.track(customer_id=user.id, name=f"a_{user.sku}")',
    )
    root = project(
        {"app.py": source, "pyproject.toml": '[tool.cio-fix]\nselect = ["CIO301"]\n'}
    )

    run_cli(["--add-noqa", "--no-cache", "."], root)
    fixed = (root / "app.py").read_text(encoding="utf-8")

    assert fixed == source.replace('user.sku}")\n', 'user.sku}")  # noqa: CIO301\n')
    assert _codes(_json(root)) == []


def test_add_noqa_match_header_once(project) -> None:
    source = (
        "from customerio import CustomerIO\n\n"
        'cio = CustomerIO("site", "key")\n\n\n'
        "def f(p):\n"
        '    match cio.track(customer_id=1, name=f"k_{p}"):\n'
        "        case _:\n"
        "            pass\n"
    )
    root = project(
        {"app.py": source, "pyproject.toml": '[tool.cio-fix]\nselect = ["CIO301"]\n'}
    )

    first = run_cli(["--add-noqa", "--no-cache", "."], root)
    second = run_cli(["--add-noqa", "--no-cache", "."], root)

    assert first.stdout.strip() == "Added 1 noqa comment to 1 file."
    assert second.stdout.strip() == "Added 0 noqa comments to 0 files."
    assert _codes(_json(root)) == []


def test_add_noqa_json_output(project) -> None:
    root = project(
        {
            "app.py": _handler('cio.track(customer_id=user.id, name=f"a_{user.sku}")'),
            "pyproject.toml": '[tool.cio-fix]\nselect = ["CIO301"]\n',
        }
    )

    result = run_cli(["--add-noqa", "--output-format", "json", "."], root)

    assert result.json == {
        "version": 1,
        "added": 1,
        "files": ["app.py"],
        "hard_coded_keys": [],
        "errors": [],
    }


# A config class whose base class is in another module, so its keys are
# reported without a fix, and an event name that CIO301 reports.
KEYS_LEFT = {
    "base.py": "class BaseConfig:\n    pass\n",
    "production.py": (
        "from base import BaseConfig\n\n\n"
        "class ProductionConfig(BaseConfig):\n"
        '    CUSTOMERIO_SITE_ID = "9c1e5a7b3d2f4e6a8b0c"\n'
        '    CUSTOMERIO_API_KEY = "e4f2a9c7b1d3e5f7a9b2c4d6e8f0a1b3"\n'
    ),
    "app.py": _handler('cio.track(customer_id=user.id, name=f"a_{user.sku}")'),
}


def _key_warning(line: int, state: str, key: str) -> str:
    return (
        f"cio-fix: warning: production.py:{line}:26: CIO101 {state} {key}, and it"
        " stays in the source and its version control history; read it from the"
        " environment and rotate it in Customer.io"
    )


def test_add_noqa_leaves_keys_reported(project) -> None:
    root = project(KEYS_LEFT)

    result = run_cli(["--add-noqa", "--no-cache", "."], root)
    after = _json(root)

    assert result.exit_code == 1
    assert result.stdout.strip() == "Added 2 noqa comments to 1 file."
    assert result.stderr.splitlines() == [
        _key_warning(
            5,
            "left without a noqa comment:",
            "Customer.io Track API site ID is hard-coded (9c1e****)",
        ),
        _key_warning(
            6,
            "left without a noqa comment:",
            "Customer.io Track API key is hard-coded (e4f2****)",
        ),
        "cio-fix: warning: --add-noqa does not silence hard-coded keys, so every run"
        " reports them until they are gone; to keep one on purpose, write"
        " `# noqa: CIO101` by hand or run `cio-fix --add-noqa --select CIO101`",
    ]
    assert (root / "production.py").read_text() == KEYS_LEFT["production.py"]
    assert "# noqa: CIO301" in (root / "app.py").read_text()
    assert _codes(after) == [(5, "CIO101"), (6, "CIO101")]


def test_add_noqa_dry_run_keys_exit_one(project) -> None:
    root = project({"production.py": KEYS_LEFT["production.py"], "base.py": ""})

    result = run_cli(["--add-noqa", "--dry-run", "--no-cache", "."], root)

    assert result.exit_code == 1
    assert result.stdout.strip() == "No noqa comment to add."
    assert len(result.stderr.splitlines()) == 3


@pytest.mark.parametrize("option", ["--select", "--extend-select"])
def test_add_noqa_select_silences_keys(project, option: str) -> None:
    root = project(KEYS_LEFT)

    result = run_cli(["--add-noqa", option, "ALL,CIO101", "--no-cache", "."], root)
    lines = (root / "production.py").read_text().splitlines()

    assert result.exit_code == 0
    assert result.stdout.strip() == "Added 4 noqa comments to 2 files."
    assert result.stderr.splitlines() == [
        _key_warning(
            5, "silenced, but", "Customer.io Track API site ID is hard-coded (9c1e****)"
        ),
        _key_warning(
            6, "silenced, but", "Customer.io Track API key is hard-coded (e4f2****)"
        ),
    ]
    assert lines[4].endswith("  # noqa: CIO101")
    assert lines[5].endswith("  # noqa: CIO101")
    assert _codes(_json(root)) == []


@pytest.mark.parametrize("select", [[], ["--select", "CIO101"]])
def test_add_noqa_json_lists_keys(project, select) -> None:
    root = project({"production.py": KEYS_LEFT["production.py"], "base.py": ""})

    result = run_cli(
        ["--add-noqa", *select, "--output-format", "json", "--no-cache", "."], root
    )
    keys = result.json["hard_coded_keys"]

    assert [(key["line"], key["code"]) for key in keys] == [
        (5, "CIO101"),
        (6, "CIO101"),
    ]
    assert [key["silenced"] for key in keys] == [bool(select), bool(select)]
    assert "(9c1e****)" in keys[0]["message"]
    assert "9c1e5a7b3d2f4e6a8b0c" not in result.stdout


def test_add_noqa_not_through_link_outside(project, tmp_path_factory) -> None:
    from cio_fix.config import load_config
    from cio_fix.engine import run
    from cio_fix.suppressions import add_directives

    outside = tmp_path_factory.mktemp("outside") / "other.py"
    source = _handler('cio.track(customer_id=user.id, name=f"a_{user.sku}")')
    outside.write_text(source)
    root = project({"app.py": source, "pyproject.toml": "[tool.cio-fix]\n"})
    result = run([root], load_config(root).with_options(cache=False))
    # The file becomes a link out of the project after the run.
    (root / "app.py").unlink()
    (root / "app.py").symlink_to(outside)

    added = add_directives(result)

    assert added.directives == 0
    assert added.errors
    assert outside.read_text() == source


def test_add_noqa_fifo_in_place_reported(project) -> None:
    from cio_fix.config import load_config
    from cio_fix.engine import run
    from cio_fix.suppressions import add_directives

    source = _handler('cio.track(customer_id=user.id, name=f"a_{user.sku}")')
    root = project({"app.py": source, "pyproject.toml": "[tool.cio-fix]\n"})
    result = run([root], load_config(root).with_options(cache=False))
    # Another process puts a FIFO in the file's place after the run.
    (root / "app.py").unlink()
    os.mkfifo(root / "app.py")

    def timed_out(signum, frame):
        raise TimeoutError("add_directives waited on the FIFO")

    # A read that waits on the FIFO would otherwise stop the test suite.
    previous = signal.signal(signal.SIGALRM, timed_out)
    signal.alarm(30)
    try:
        added = add_directives(result)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)

    assert added.directives == 0
    assert [error.message for error in added.errors] == [
        "no noqa comment added: not a regular file"
    ]


def test_fix_of_silenced_call_in_place(project) -> None:
    # CIO301 rewrites the call that `# noqa: CIO304` silences; the new call
    # stays in the statement, next to its comment.
    root = project(
        {
            "app.py": _handler(
                'cio.track(customer_id=user.id, name=f"a_{user.sku}")  # noqa: CIO304'
            ),
            "pyproject.toml": ONLY_CIO,
            "requirements.txt": "customerio==3.2.0\n",
        }
    )

    run_cli(["--apply", "--no-cache", "."], root)
    fixed = (root / "app.py").read_text()

    assert 'name="a", data={"user_sku": f"{user.sku}"}' in fixed
    assert "    )  # noqa: CIO304\n" in fixed
    assert _codes(_json(root)) == []
