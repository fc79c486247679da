"""The contracts that CI integrations rely on: multi-gitter, pre-commit, the GitHub Action."""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONSOLE_SCRIPT = Path(sys.executable).parent / "cio-fix"

APP = """import time

from customerio import CustomerIO

cio = CustomerIO("3f9a0c1d2e4b7a8c", "0a1b2c3d4e5f6a7b")


def signup(user):
    cio.identify(id=user.id, email=user.email, created_at=int(time.time() * 1000))


def bounced(customer_id):
    cio.suppress(customer_id)
"""
# `os` is bound to something else, so CIO101 reports the key without a fix.
UNFIXABLE = """from customerio import CustomerIO

os = "linux"
legacy = CustomerIO("3f9a0c1d2e4b7a8c", "9e8d7c6b5a4f3e2d")
"""


@pytest.fixture(autouse=True)
def isolated_git(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path_factory.mktemp("home") / "gitconfig"
    config.write_text(
        "[user]\n\tname = Test Developer\n\temail = developer@example.invalid\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "file")
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_COLOR", "1")


def git(cwd: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=True
    )
    return completed.stdout.strip()


def clone_with(tmp_path: Path, files: dict[str, str]) -> Path:
    """A committed repository with `files`, as multi-gitter's fresh clone would be."""
    work = tmp_path / "repository"
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(work))
    for name, text in files.items():
        (work / name).write_text(text, encoding="utf-8")
    git(work, "add", "--all")
    git(work, "commit", "--quiet", "-m", "Start")
    return work


def cio_fix(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CONSOLE_SCRIPT), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_multi_gitter_exit_zero_with_findings_left(tmp_path: Path) -> None:
    work = clone_with(tmp_path, {"app.py": APP, "legacy.py": UNFIXABLE})

    completed = cio_fix(work, "--apply", "--exit-zero")

    assert completed.returncode == 0, completed.stderr
    assert git(work, "status", "--porcelain") == "M app.py"


def test_multi_gitter_edits_in_place(tmp_path: Path) -> None:
    work = clone_with(tmp_path, {"app.py": APP})
    (work / "app.py").chmod(0o640)

    cio_fix(work, "--apply", "--exit-zero")

    fixed = (work / "app.py").read_text(encoding="utf-8")
    assert 'os.environ["CUSTOMERIO_SITE_ID"]' in fixed
    assert "created_at=int(time.time())" in fixed
    assert stat.S_IMODE((work / "app.py").stat().st_mode) == 0o640
    # The results cache is the only other entry, and it ignores itself in git.
    assert sorted(path.name for path in work.iterdir()) == [
        ".cio_fix_cache",
        ".git",
        "app.py",
    ]


def test_multi_gitter_untouched_repository(tmp_path: Path) -> None:
    work = clone_with(tmp_path, {"main.py": "print('no Customer.io here')\n"})

    completed = cio_fix(work, "--apply", "--exit-zero")

    assert completed.returncode == 0
    assert git(work, "status", "--porcelain") == ""


def test_apply_exit_status_findings_left(tmp_path: Path) -> None:
    work = clone_with(tmp_path, {"app.py": APP, "legacy.py": UNFIXABLE})

    completed = cio_fix(work, "--apply")

    assert completed.returncode == 1


def test_apply_exit_status_all_fixed(tmp_path: Path) -> None:
    work = clone_with(tmp_path, {"app.py": APP})

    completed = cio_fix(work, "--apply")

    assert completed.returncode == 0, completed.stdout


def test_apply_exit_zero_keeps_config_error(tmp_path: Path) -> None:
    work = clone_with(
        tmp_path, {"app.py": APP, "pyproject.toml": "[tool.cio-fix]\nselect = 'CIO1'\n"}
    )

    completed = cio_fix(work, "--apply", "--exit-zero")

    assert completed.returncode == 2
    assert git(work, "status", "--porcelain") == ""


def test_apply_exit_non_zero_on_fix(tmp_path: Path) -> None:
    work = clone_with(tmp_path, {"app.py": APP})

    first = cio_fix(work, "--apply", "--exit-non-zero-on-fix")
    second = cio_fix(work, "--apply", "--exit-non-zero-on-fix")

    assert first.returncode == 1
    assert second.returncode == 0


def pre_commit_hooks() -> dict[str, dict]:
    hooks = yaml.safe_load(
        (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    )
    return {hook["id"]: hook for hook in hooks}


def run_hook(
    hook: dict, work: Path, files: list[str]
) -> subprocess.CompletedProcess[str]:
    """Run a hook the way pre-commit does: the entry, its args, then the file names."""
    command = shlex.split(hook["entry"]) + list(hook.get("args", [])) + files
    assert command[0] == "cio-fix"
    return subprocess.run(
        [str(CONSOLE_SCRIPT), *command[1:]],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_pre_commit_hook_declaration() -> None:
    hooks = pre_commit_hooks()

    assert set(hooks) == {"cio-fix", "cio-fix-check"}
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook["types"] == ["python"]
        assert hook["require_serial"] is True


def test_pre_commit_hooks_skip_excluded_files(tmp_path: Path) -> None:
    work = clone_with(
        tmp_path,
        {
            "pyproject.toml": '[tool.cio-fix]\nextend-exclude = ["legacy.py"]\n',
            "legacy.py": APP,
            "app.py": APP,
        },
    )

    check = run_hook(pre_commit_hooks()["cio-fix-check"], work, ["legacy.py"])
    fixer = run_hook(pre_commit_hooks()["cio-fix"], work, ["legacy.py", "app.py"])

    assert check.returncode == 0
    assert fixer.returncode == 1
    assert (work / "legacy.py").read_text(encoding="utf-8") == APP
    assert (work / "app.py").read_text(encoding="utf-8") != APP


def test_pre_commit_fixer_fails_when_it_changed_files(tmp_path: Path) -> None:
    work = clone_with(tmp_path, {"app.py": APP})

    completed = run_hook(pre_commit_hooks()["cio-fix"], work, ["app.py"])

    assert completed.returncode == 1
    assert "created_at=int(time.time())" in (work / "app.py").read_text(
        encoding="utf-8"
    )


def test_pre_commit_fixer_passes_when_clean(tmp_path: Path) -> None:
    work = clone_with(tmp_path, {"app.py": APP})
    hook = pre_commit_hooks()["cio-fix"]
    run_hook(hook, work, ["app.py"])

    completed = run_hook(hook, work, ["app.py"])

    assert completed.returncode == 0, completed.stdout


def test_pre_commit_fixer_fails_on_unfixable(tmp_path: Path) -> None:
    work = clone_with(tmp_path, {"legacy.py": UNFIXABLE})

    completed = run_hook(pre_commit_hooks()["cio-fix"], work, ["legacy.py"])

    assert completed.returncode == 1
    assert git(work, "status", "--porcelain") == ""


def test_pre_commit_check_hook_changes_nothing(tmp_path: Path) -> None:
    work = clone_with(tmp_path, {"app.py": APP})

    completed = run_hook(pre_commit_hooks()["cio-fix-check"], work, ["app.py"])

    assert completed.returncode == 1
    assert git(work, "status", "--porcelain") == ""


def action() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def run_step(document: dict) -> dict:
    return next(
        step for step in document["runs"]["steps"] if step.get("name") == "Run cio-fix"
    )


def test_action_is_composite_with_inputs() -> None:
    document = action()

    assert document["runs"]["using"] == "composite"
    assert set(document["inputs"]) == {
        "paths",
        "select",
        "ignore",
        "unsafe-fixes",
        "pr-branch",
        "pr-base",
        "pr-title",
        "pr-labels",
        "exit-zero",
        "token",
        "python-version",
    }


def test_action_inputs_only_through_environment() -> None:
    step = run_step(action())

    assert "${{" not in step["run"]
    for value in step["env"].values():
        name = re.fullmatch(r"\$\{\{ inputs\.([a-z-]+) \}\}", value)
        assert name is not None, value
        assert name.group(1) in action()["inputs"]


def action_arguments(tmp_path: Path, inputs: dict[str, str]) -> list[str]:
    """Run the action's script with a stand-in `cio-fix` that records its arguments."""
    completed = run_action_script(tmp_path, inputs, cio_fix_status=0)
    assert completed.returncode == 0
    return (tmp_path / "arguments").read_text(encoding="utf-8").splitlines()


def run_action_script(
    tmp_path: Path, inputs: dict[str, str], cio_fix_status: int
) -> subprocess.CompletedProcess[str]:
    """Run the action's script with a stand-in `cio-fix` that exits with `cio_fix_status`."""
    document = action()
    step = run_step(document)
    values = {
        name: str(spec.get("default", "")) for name, spec in document["inputs"].items()
    }
    values.update(inputs)
    environment = {"PATH": f"{tmp_path}:{os.environ['PATH']}"}
    for variable, expression in step["env"].items():
        name = re.fullmatch(r"\$\{\{ inputs\.([a-z-]+) \}\}", expression).group(1)
        environment[variable] = values[name]
    record = tmp_path / "arguments"
    stand_in = tmp_path / "cio-fix"
    stand_in.write_text(
        f'#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > {record}\n'
        f"exit {cio_fix_status}\n",
        encoding="utf-8",
    )
    stand_in.chmod(0o755)

    return subprocess.run(
        ["bash", "-c", step["run"]],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_action_default_arguments(tmp_path: Path) -> None:
    arguments = action_arguments(tmp_path, {"token": "not-used"})

    assert arguments == ["--apply", "--pr", "--", "."]


@pytest.mark.parametrize(
    ("exit_zero", "cio_fix_status", "step_status"),
    [
        ("true", 0, 0),
        ("true", 1, 0),
        ("true", 2, 2),
        ("true", 130, 130),
        ("false", 1, 1),
        ("false", 2, 2),
    ],
)
def test_action_exit_zero_passes_only_findings(
    tmp_path: Path, exit_zero: str, cio_fix_status: int, step_status: int
) -> None:
    # A file that cio-fix could not read or parse (status 2) fails the job
    # even with exit-zero, because it may hide a pitfall.
    completed = run_action_script(
        tmp_path, {"token": "not-used", "exit-zero": exit_zero}, cio_fix_status
    )

    assert completed.returncode == step_status


def test_action_every_input_passed(tmp_path: Path) -> None:
    arguments = action_arguments(
        tmp_path,
        {
            "token": "not-used",
            "paths": "src\nscripts tools",
            "select": "CIO1,CIO3",
            "ignore": "CIO303",
            "unsafe-fixes": "true",
            "pr-branch": "bots/cio",
            "pr-base": "develop",
            "pr-title": "Fix it; now",
            "pr-labels": "customer.io, automated\nbot",
            "exit-zero": "false",
        },
    )

    assert arguments == [
        "--apply",
        "--pr",
        "--unsafe-fixes",
        "--select",
        "CIO1,CIO3",
        "--ignore",
        "CIO303",
        "--pr-branch",
        "bots/cio",
        "--pr-base",
        "develop",
        "--pr-title",
        "Fix it; now",
        "--pr-label",
        "customer.io",
        "--pr-label",
        "automated",
        "--pr-label",
        "bot",
        "--",
        "src",
        "scripts",
        "tools",
    ]


def test_action_token_reaches_cio_fix(tmp_path: Path) -> None:
    step = run_step(action())

    assert step["env"]["GITHUB_TOKEN"] == "${{ inputs.token }}"
    assert action()["inputs"]["token"]["default"] == "${{ github.token }}"


def docs_yaml_blocks() -> list[object]:
    text = (ROOT / "docs" / "bots.md").read_text(encoding="utf-8")
    return [
        yaml.safe_load(block)
        for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    ]


def test_docs_workflow_uses_existing_inputs() -> None:
    inputs = set(action()["inputs"])
    uses = []
    for block in docs_yaml_blocks():
        if not isinstance(block, dict) or "jobs" not in block:
            continue
        for job in block["jobs"].values():
            uses.extend(
                step for step in job["steps"] if "cio-fix@" in step.get("uses", "")
            )

    assert uses
    for step in uses:
        assert set(step.get("with", {})) <= inputs


def test_docs_workflow_scheduled_with_permissions() -> None:
    workflows = [
        block
        for block in docs_yaml_blocks()
        if isinstance(block, dict) and "jobs" in block
    ]

    # PyYAML reads the key `on` as the boolean True (YAML 1.1).
    assert "schedule" in workflows[0][True]
    assert workflows[0]["permissions"] == {
        "contents": "write",
        "pull-requests": "write",
    }


def test_docs_pre_commit_config_names_hook() -> None:
    configs = [
        block
        for block in docs_yaml_blocks()
        if isinstance(block, dict) and "repos" in block
    ]

    hook_ids = {
        hook["id"]
        for config in configs
        for repo in config["repos"]
        for hook in repo["hooks"]
    }
    assert hook_ids <= set(pre_commit_hooks())
