"""Every rule documents itself, and the README's rule table matches the rules."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from cio_fix.config import RULE_CODES
from cio_fix.rules import all_rules

ROOT = Path(__file__).parent.parent
HEADINGS = (
    "What it does:",
    "Why is this bad?",
    "Example:",
    "Use instead:",
    "Fix safety:",
)


@pytest.mark.parametrize("code", sorted(all_rules()))
def test_rule_docs_have_five_headings(code: str) -> None:
    documentation = all_rules()[code].documentation()

    positions = [documentation.find(heading) for heading in HEADINGS]

    assert -1 not in positions, f"{code} lacks one of {HEADINGS}"
    assert positions == sorted(positions), f"{code} has its headings out of order"


@pytest.mark.parametrize("code", sorted(all_rules()))
def test_rule_docs_name_and_summary(code: str) -> None:
    rule = all_rules()[code]

    assert rule.name and rule.name == rule.name.lower()
    assert rule.summary


def test_rule_codes_list_matches_registry() -> None:
    assert set(all_rules()) == set(RULE_CODES)


def test_rule_docs_readme_table_is_current() -> None:
    script = runpy.run_path(str(ROOT / "scripts" / "rule_table.py"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    assert script["replace_table"](readme) == readme, "run `make readme`"


def test_rule_docs_cio601_environment_read_once() -> None:
    # A process that rotates its keys by changing its own environment must
    # learn that the fixed code reads the environment at the first request only.
    documentation = " ".join(all_rules()["CIO601"].documentation().split())

    assert "the factory reads it once, at the first request" in documentation
    assert "keeps sending the old keys until it restarts" in documentation


def test_rule_docs_cio304_tests_run_calls_inline() -> None:
    # After the fix, a test that checks the call right after the request can
    # run before the worker thread sends it, so the docs must say how to wait.
    documentation = " ".join(all_rules()["CIO304"].documentation().split())

    assert "a test that checks the Customer.io call right after" in documentation
    assert (
        'monkeypatch.setattr(shop.views, "_customerio_in_background", call_now)'
        in documentation
    )
    assert "replace `_customerio_in_background_task`" in documentation


def _section(documentation: str, heading: str) -> str:
    """Return the first code line under `heading` in a rule's documentation."""
    after = documentation.split(heading, 1)[1]
    return next(line.strip() for line in after.splitlines() if line.strip())


@pytest.mark.parametrize("code", ["CIO301", "CIO302"])
def test_rule_docs_example_fixed_as_shown(code: str, project) -> None:
    from conftest import run_cli

    documentation = all_rules()[code].documentation()
    example = _section(documentation, "Example:")
    expected = _section(documentation, "Use instead:")
    root = project(
        {
            "requirements.txt": "customerio==3.1.0\n",
            "app.py": (
                "from customerio import CustomerIO\n"
                'cio = CustomerIO("site", "key")\n\n\n'
                "def handler(uid, user, product):\n"
                f"    {example}\n"
            ),
        }
    )

    result = run_cli(["--apply", "--no-cache", "--select", code, "."], root)

    assert result.exit_code == 0
    # A fixed line longer than the line length is split, so spaces do not count.
    fixed = "".join((root / "app.py").read_text().split())
    assert "".join(expected.split()) in fixed
