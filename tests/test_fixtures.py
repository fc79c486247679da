"""Every rule fixture: `tests/fixtures/CODE/NAME.py` and its `NAME.expected.py`.

- `NAME.py` alone: the rule reports nothing there and the file stays byte-identical.
- `NAME.py` with `NAME.expected.py`: the rule reports at least one finding,
  and `cio-fix --apply --unsafe-fixes --select CODE` turns the input into
  the expected file (a copy of the input for a report-only case). A second
  apply changes nothing.
- `NAME.toml`: the `[tool.cio-fix]` table for that case (written as the
  project's pyproject.toml), which may go on with other tables such as
  `[tool.ruff]`; `NAME.requirements.txt`: the project's requirements.txt,
  for cases that depend on the declared SDK version; `NAME.select.txt`:
  codes that the runs select besides CODE, one a line, for cases where the
  fixes of several rules meet on one call.
- A folder `NAME/`: a project of several files; each `X.expected.py` in it
  is the expected content of `X.py` after the fix.
- A case named `ruff_format_*` is formatted by `ruff format` with its
  project's settings, before the fix and after it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cio_fix.rules import all_rules

from conftest import FIXTURES, run_cli


def _cases() -> list[pytest.param]:
    cases = []
    for code_folder in sorted(FIXTURES.iterdir()):
        if not code_folder.is_dir():
            continue
        for entry in sorted(code_folder.iterdir()):
            if entry.name.endswith(".expected.py") or entry.name.startswith("."):
                continue
            if entry.is_dir() or entry.suffix == ".py":
                cases.append(
                    pytest.param(
                        code_folder.name, entry, id=f"{code_folder.name}/{entry.stem}"
                    )
                )
    return cases


def _ruff_format_cases() -> list[pytest.param]:
    return [case for case in _cases() if case.values[1].name.startswith("ruff_format_")]


def _prepare(code: str, entry: Path, workdir: Path) -> dict[Path, bytes | None]:
    """Copy a fixture into `workdir`; return each file with its expected bytes (None: unchanged)."""
    expected: dict[Path, bytes | None] = {}
    if entry.is_dir():
        for source in sorted(entry.rglob("*")):
            if source.is_dir() or source.name.endswith(".expected.py"):
                continue
            target = workdir / source.relative_to(entry)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            twin = source.with_name(source.name[: -len(".py")] + ".expected.py")
            if source.suffix == ".py":
                expected[target] = twin.read_bytes() if twin.exists() else None
        return expected

    target = workdir / entry.name
    shutil.copyfile(entry, target)
    twin = entry.with_name(entry.stem + ".expected.py")
    expected[target] = twin.read_bytes() if twin.exists() else None
    config = entry.with_suffix(".toml")
    if config.exists():
        (workdir / "pyproject.toml").write_text(
            "[tool.cio-fix]\n" + config.read_text(encoding="utf-8"), encoding="utf-8"
        )
    requirements = entry.with_name(entry.stem + ".requirements.txt")
    if requirements.exists():
        shutil.copyfile(requirements, workdir / "requirements.txt")
    return expected


def _selected(code: str, entry: Path) -> str:
    """Return the `--select` value of a case: CODE and the codes of `NAME.select.txt`."""
    codes = [code]
    also = entry.with_name(entry.stem + ".select.txt")
    if also.exists():
        codes.extend(also.read_text(encoding="utf-8").split())
    return ",".join(codes)


@pytest.mark.parametrize(("code", "entry"), _cases())
def test_fixture(code: str, entry: Path, tmp_path: Path) -> None:
    expected = _prepare(code, entry, tmp_path)
    originals = {path: path.read_bytes() for path in expected}
    selected = _selected(code, entry)

    checked = run_cli(["--select", selected, "--output-format", "json", "."], tmp_path)
    codes = [finding["code"] for finding in checked.json["findings"]]
    assert checked.json["errors"] == []
    # The fix passes re-check only the rules whose declared fix safety the
    # run allows, so a fix must have the safety its rule declares. A fix of
    # a safe rule (CIO103, CIO301, CIO302) is unsafe instead when its
    # message gives the reason.
    declared = all_rules()[code].fix_safety
    for finding in checked.json["findings"]:
        if finding["code"] == code and finding["fix"] is not None:
            assert declared is not None, f"{code} declares no fix"
            if "(unsafe: " in finding["message"]:
                assert finding["fix"] == "unsafe"
            else:
                assert finding["fix"] == declared.value, f"{code} declares {declared}"
    if all(value is None for value in expected.values()):
        assert codes == [], f"{entry.name} must not report {code}"
    else:
        assert code in codes, f"{entry.name} must report {code}"

    run_cli(["--apply", "--unsafe-fixes", "--select", selected, "."], tmp_path)
    for path, wanted in expected.items():
        after = path.read_bytes()
        if wanted is None:
            assert after == originals[path], f"{path.name} must stay byte-identical"
        else:
            assert (
                after.decode() == wanted.decode()
            ), f"{path.name} differs from its expected file"

    again = {path: path.read_bytes() for path in expected}
    run_cli(["--apply", "--unsafe-fixes", "--select", selected, "."], tmp_path)
    for path in expected:
        assert path.read_bytes() == again[path], f"a second apply changed {path.name}"


def _ruff_format_check(folder: Path) -> subprocess.CompletedProcess[str]:
    """Run `ruff format --check` over `folder`, with the settings of its project."""
    return subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(("code", "entry"), _ruff_format_cases())
def test_fixture_stays_ruff_formatted(code: str, entry: Path, tmp_path: Path) -> None:
    _prepare(code, entry, tmp_path)

    before = _ruff_format_check(tmp_path)
    run_cli(["--apply", "--unsafe-fixes", "--select", code, "."], tmp_path)
    after = _ruff_format_check(tmp_path)

    assert before.returncode == 0, before.stdout + before.stderr
    assert after.returncode == 0, after.stdout + after.stderr
