"""Bad input gets one clear line, the run goes on, and nothing is written to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli

GOOD = "import time\nfrom customerio import CustomerIO\ncio = CustomerIO('s', 'k')\ncio.identify(id=1, created_at=int(time.time() * 1000))\n"


def _errors(root: Path, *args: str) -> tuple[int, list[dict], Path]:
    result = run_cli(["--apply", "--output-format", "json", *args], root)
    return result.exit_code, result.json["errors"], root


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "py2.py",
            b"import customerio\nprint 'hello'\n",
            "invalid Python 3 syntax at line 2",
        ),
        ("latin.py", b"import customerio\nname = '\xe9'\n", "cannot decode as utf-8"),
        ("blob.py", b"customerio\x00\x00\x00\xff", "binary file"),
    ],
)
def test_bad_input_reported_and_run_goes_on(
    project, name: str, content: bytes, expected: str
) -> None:
    root = project({"good.py": GOOD, name: content})

    exit_code, errors, _ = _errors(root, ".")

    assert exit_code == 2
    assert len(errors) == 1
    assert errors[0]["path"] == name
    assert expected in errors[0]["message"]
    assert (root / name).read_bytes() == content
    assert "int(time.time())" in (root / "good.py").read_text()


def test_bad_input_python2_text_line(project) -> None:
    root = project({"py2.py": b"import customerio\nprint 'hello'\n"})

    result = run_cli(["."], root)

    assert result.stderr.strip().startswith(
        "py2.py: error: invalid Python 3 syntax at line 2"
    )
    assert "Python 2" in result.stderr


def test_bad_input_unreadable_file(project, monkeypatch) -> None:
    root = project({"secret.py": GOOD, "good.py": GOOD})
    unreadable = (root / "secret.py").resolve()
    read_bytes = Path.read_bytes

    # Root reads files whatever their mode, so the denial is simulated.
    def deny(path: Path) -> bytes:
        if path.resolve() == unreadable:
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", deny)
    exit_code, errors, _ = _errors(root, ".")
    monkeypatch.undo()

    assert exit_code == 2
    assert errors == [
        {
            "path": "secret.py",
            "message": "cannot read: Permission denied; check the file's permissions",
        }
    ]
    assert (root / "secret.py").read_text() == GOOD
    assert "int(time.time())" in (root / "good.py").read_text()


def test_bad_input_missing_path(project) -> None:
    root = project({"good.py": GOOD})

    exit_code, errors, _ = _errors(root, "missing.py", "good.py")

    assert exit_code == 2
    assert errors == [
        {
            "path": "missing.py",
            "message": "path not found; check the spelling or the folder",
        }
    ]
    assert "int(time.time())" in (root / "good.py").read_text()


def test_bad_input_invalid_pyproject(project) -> None:
    root = project({"good.py": GOOD, "pyproject.toml": "[tool.cio-fix\nselect = 1\n"})

    result = run_cli(["."], root)

    assert result.exit_code == 2
    assert "pyproject.toml: invalid TOML" in result.stderr
    assert (root / "good.py").read_text() == GOOD


def test_bad_input_unknown_config_key(project) -> None:
    root = project(
        {"good.py": GOOD, "pyproject.toml": "[tool.cio-fix]\nselekt = ['CIO1']\n"}
    )

    result = run_cli(["."], root)

    assert result.exit_code == 2
    assert "unknown key 'selekt' in [tool.cio-fix]" in result.stderr


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("select = 'CIO1'", "select must be a list of strings"),
        ("sdk-version = 4", "sdk-version must be 1, 2 or 3"),
        (
            "env = { site-id = 'not a name' }",
            "env.site-id must be an environment variable name",
        ),
        ("env = { token = 'X' }", "unknown key env.token"),
        ("select = ['CIO9']", "unknown rule selector 'CIO9'"),
    ],
)
def test_bad_input_invalid_config_value(project, setting: str, message: str) -> None:
    root = project({"good.py": GOOD, "pyproject.toml": f"[tool.cio-fix]\n{setting}\n"})

    result = run_cli(["."], root)

    assert result.exit_code == 2
    assert message in result.stderr


def test_bad_input_exit_zero_still_reports(project) -> None:
    root = project({"py2.py": b"import customerio\nprint 'hello'\n"})

    result = run_cli(["--exit-zero", "."], root)

    assert result.exit_code == 0
    assert "py2.py: error:" in result.stderr
