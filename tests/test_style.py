"""Formatter settings: the files that ruff's include and exclude settings leave out of `ruff format`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cio_fix.ruff_excludes import InvalidGlob, glob_regex
from cio_fix.style import BlackSettings, FormatterSettings

from conftest import run_cli

RUFF_EXCLUDE_FILES = [
    "app.py",
    "legacy/app.py",
    "legacy_import.py",
    "a/legacy/b/app.py",
    "_build/app.py",
    "gen/one.py",
    "gen/inner/two.py",
    "proto/models_pb2.py",
]

# Each configuration with the files it leaves out. The comparison with
# ruff itself below checks each row.
RUFF_EXCLUDE_CASES = [
    # ruff's default excludes apply while `exclude` is not set.
    ({"pyproject.toml": "[tool.ruff]\n"}, {"_build/app.py"}),
    ({"pyproject.toml": "[tool.ruff]\nexclude = []\n"}, set()),
    # A name matches a file or folder of that name anywhere.
    (
        {"pyproject.toml": '[tool.ruff]\nextend-exclude = ["legacy"]\n'},
        {"legacy/app.py", "a/legacy/b/app.py", "_build/app.py"},
    ),
    (
        {"ruff.toml": 'extend-exclude = ["*_pb2.py", "leg*"]\n'},
        {
            "proto/models_pb2.py",
            "legacy/app.py",
            "legacy_import.py",
            "a/legacy/b/app.py",
            "_build/app.py",
        },
    ),
    # A path is relative to the folder of the configuration file.
    (
        {".ruff.toml": 'exclude = ["./legacy", "a/*/b"]\n'},
        {"legacy/app.py", "a/legacy/b/app.py"},
    ),
    ({"ruff.toml": 'exclude = ["/legacy"]\n'}, set()),
    # `*` matches `/` as well.
    (
        {"ruff.toml": 'exclude = ["gen/*.py", "**/legacy"]\n'},
        {"gen/one.py", "gen/inner/two.py", "legacy/app.py", "a/legacy/b/app.py"},
    ),
    (
        {"ruff.toml": 'exclude = ["{gen,proto}", "[!l]egacy"]\n'},
        {"gen/one.py", "gen/inner/two.py", "proto/models_pb2.py"},
    ),
    # `format.exclude` is matched against files, never against folders.
    (
        {"pyproject.toml": '[tool.ruff.format]\nexclude = ["legacy", "gen/*"]\n'},
        {"gen/one.py", "gen/inner/two.py", "_build/app.py"},
    ),
    (
        {"ruff.toml": '[format]\nexclude = ["app.py"]\n'},
        {"app.py", "legacy/app.py", "a/legacy/b/app.py", "_build/app.py"},
    ),
    # `include` names the files that a walk formats, by their path only.
    (
        {"ruff.toml": 'include = ["app.py", "gen/*.py"]\n'},
        set(RUFF_EXCLUDE_FILES) - {"app.py", "gen/one.py", "gen/inner/two.py"},
    ),
    (
        {
            "pyproject.toml": '[tool.ruff]\ninclude = []\nextend-include = ["*_pb2.py"]\n'
        },
        set(RUFF_EXCLUDE_FILES) - {"proto/models_pb2.py"},
    ),
    (
        {"ruff.toml": 'include = ["**/legacy/**"]\nextend-exclude = ["b"]\n'},
        set(RUFF_EXCLUDE_FILES) - {"legacy/app.py"},
    ),
    # ruff rejects an invalid glob or value and formats no file.
    (
        {"pyproject.toml": '[tool.ruff]\nextend-exclude = ["legacy["]\n'},
        set(RUFF_EXCLUDE_FILES),
    ),
    (
        {"ruff.toml": 'include = ["{app.py"]\n'},
        set(RUFF_EXCLUDE_FILES),
    ),
    (
        {"pyproject.toml": '[tool.ruff]\nextend-exclude = "legacy"\n'},
        set(RUFF_EXCLUDE_FILES),
    ),
]
RUFF_EXCLUDE_IDS = [
    "defaults",
    "exclude-empty",
    "extend-exclude-name",
    "name-globs",
    "relative-paths",
    "absolute-path",
    "star-crosses-folders",
    "choice-and-class",
    "format-exclude-files-only",
    "format-exclude-name",
    "include-paths",
    "extend-include",
    "include-and-exclude",
    "invalid-glob",
    "invalid-include",
    "not-a-list",
]


def _write_ruff_project(root: Path, files: dict[str, str]) -> None:
    for name in RUFF_EXCLUDE_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        # Not ruff-formatted, so that `ruff format --check` names each file it reads.
        (root / name).write_text("x = ( 1 )\n")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _left_out(root: Path) -> set[str]:
    settings = FormatterSettings(root)
    left_out = set()
    for name in RUFF_EXCLUDE_FILES:
        if not settings.for_file(root / name).enabled:
            left_out.add(name)
    return left_out


@pytest.mark.parametrize(
    ("files", "excluded"), RUFF_EXCLUDE_CASES, ids=RUFF_EXCLUDE_IDS
)
def test_style_ruff_excludes(tmp_path: Path, files, excluded) -> None:
    _write_ruff_project(tmp_path, files)

    assert _left_out(tmp_path) == excluded


def _ruff_read(root: Path) -> set[str]:
    """Return the unformatted files that `ruff format --check` reads in `root`."""
    checked = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache"]
        + ["--output-format", "concise", "."],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return {line.split(":")[0] for line in checked.stdout.splitlines()}


def _ruff_left_out(root: Path) -> set[str]:
    """Return the files of RUFF_EXCLUDE_FILES that `ruff format --check` does not read."""
    read = _ruff_read(root)
    return {name for name in RUFF_EXCLUDE_FILES if name not in read}


@pytest.mark.parametrize(
    ("files", "excluded"), RUFF_EXCLUDE_CASES, ids=RUFF_EXCLUDE_IDS
)
def test_style_ruff_excludes_match_ruff(tmp_path: Path, files, excluded) -> None:
    _write_ruff_project(tmp_path, files)

    assert _ruff_left_out(tmp_path) == excluded


def test_style_ruff_excludes_through_extend(tmp_path: Path) -> None:
    files = {
        # Each file's paths are relative to its own folder.
        "base/ruff.toml": 'extend-exclude = ["../legacy"]\n\n'
        '[format]\nexclude = ["gen/*"]\n',
        # `extend-exclude` adds up, and `format.exclude` replaces the base's.
        "pyproject.toml": '[tool.ruff]\nextend = "base/ruff.toml"\n'
        'extend-exclude = ["proto"]\n\n'
        '[tool.ruff.format]\nexclude = ["a/*"]\n',
    }
    _write_ruff_project(tmp_path, files)
    excluded = {"legacy/app.py", "proto/models_pb2.py", "a/legacy/b/app.py"}

    assert _left_out(tmp_path) == excluded | {"_build/app.py"}
    assert _ruff_left_out(tmp_path) == excluded | {"_build/app.py"}


def test_style_ruff_excludes_nested_configuration(tmp_path: Path) -> None:
    files = {
        "ruff.toml": 'extend-exclude = ["legacy"]\n',
        # The folder gen has a configuration of its own that excludes one
        # of its files. That of the folder a replaces the root's for the
        # folders below it, so a/legacy is formatted.
        "gen/ruff.toml": 'extend-exclude = ["one.py"]\n',
        "a/ruff.toml": "line-length = 100\n",
    }
    _write_ruff_project(tmp_path, files)
    excluded = {"legacy/app.py", "gen/one.py", "_build/app.py"}

    assert _left_out(tmp_path) == excluded
    assert _ruff_left_out(tmp_path) == excluded


def test_style_ruff_include_through_extend(tmp_path: Path) -> None:
    files = {
        # `include` is relative to the folder of the file that sets it, and
        # `extend-include` adds up over the files of the chain.
        "base/ruff.toml": 'include = ["../gen/*.py"]\nextend-include = ["*_pb2.py"]\n',
        "ruff.toml": 'extend = "base/ruff.toml"\nextend-include = ["a/legacy/**"]\n',
        # A nested configuration without `extend` keeps ruff's defaults.
        "legacy/ruff.toml": "line-length = 100\n",
    }
    _write_ruff_project(tmp_path, files)
    excluded = {"app.py", "legacy_import.py", "_build/app.py"}

    assert _left_out(tmp_path) == excluded
    assert _ruff_left_out(tmp_path) == excluded


def test_style_ruff_default_include_python_suffixes(tmp_path: Path) -> None:
    files = {
        "ruff.toml": "line-length = 100\n",
        "app.pyi": "x = ( 1 )\n",
        "app.pyw": "x = ( 1 )\n",
        "script": "#!/usr/bin/env python\nx = ( 1 )\n",
    }
    _write_ruff_project(tmp_path, files)
    settings = FormatterSettings(tmp_path)
    read = _ruff_read(tmp_path)

    # ruff's default `include` names `.py` and `.pyi` files only.
    assert settings.for_file(tmp_path / "app.pyi").enabled
    assert not settings.for_file(tmp_path / "app.pyw").enabled
    assert not settings.for_file(tmp_path / "script").enabled
    assert "app.pyi" in read
    assert "app.pyw" not in read
    assert "script" not in read


def test_style_ruff_excludes_from_work_tree_top(tmp_path: Path) -> None:
    files = {
        # The top of the work tree excludes two projects with cio-fix
        # configurations of their own, one with its own ruff settings too.
        "ruff.toml": 'extend-exclude = ["legacy", "gen"]\n',
        "legacy/pyproject.toml": "[tool.cio-fix]\n\n[tool.ruff]\nline-length = 100\n",
        "gen/pyproject.toml": "[tool.cio-fix]\n",
    }
    _write_ruff_project(tmp_path, files)
    subprocess.run(["git", "init", "-q", "."], cwd=tmp_path, check=True)

    for project in ("legacy", "gen"):
        settings = FormatterSettings(tmp_path / project)
        for name in RUFF_EXCLUDE_FILES:
            if name.startswith(project + "/"):
                assert not settings.for_file(tmp_path / name).enabled, name
    assert _ruff_left_out(tmp_path) == {
        "legacy/app.py",
        "gen/one.py",
        "gen/inner/two.py",
        "a/legacy/b/app.py",
        "_build/app.py",
    }


def test_style_ruff_excluded_file_settings(project) -> None:
    root = project(
        {
            "pyproject.toml": "[tool.ruff]\nline-length = 100\n"
            'extend-exclude = ["old.py"]\n\n'
            '[tool.ruff.format]\nquote-style = "single"\n'
        }
    )

    settings = FormatterSettings(root).for_file(root / "old.py")

    # ruff never formats the file, so it keeps its own quotes too.
    assert settings == BlackSettings(line_length=100, ruff_layout=True)


def test_style_ruff_format_hook_default_excludes(project) -> None:
    root = project(
        {
            ".pre-commit-config.yaml": "repos:\n"
            "  - repo: https://github.com/astral-sh/ruff-pre-commit\n"
            "    hooks:\n      - id: ruff-format\n"
        }
    )
    settings = FormatterSettings(root)

    assert settings.for_file(root / "app.py").enabled
    assert not settings.for_file(root / "site-packages/pkg/app.py").enabled


SINGLE_QUOTED_APP = """\
from customerio import CustomerIO

cio = CustomerIO('3f9a0c1d2e4b7a8c', '0a1b2c3d4e5f6a7b')
"""


def test_style_ruff_excluded_file_not_formatted_whole(project) -> None:
    root = project(
        {
            "ruff.toml": '[format]\nexclude = ["legacy/*"]\nquote-style = "double"\n',
            "legacy/app.py": SINGLE_QUOTED_APP + "x = ( 1 )\n",
            "app.py": SINGLE_QUOTED_APP,
        }
    )

    run_cli(["--apply", "--select", "CIO101", "."], root)

    legacy = (root / "legacy/app.py").read_text()
    assert "x = ( 1 )" in legacy
    assert "os.environ['CUSTOMERIO_SITE_ID']" in legacy
    assert 'os.environ["CUSTOMERIO_SITE_ID"]' in (root / "app.py").read_text()


def test_style_ruff_not_included_file_not_formatted_whole(project) -> None:
    root = project(
        {
            "ruff.toml": 'include = ["app.py"]\n\n[format]\nquote-style = "double"\n',
            "legacy/app.py": SINGLE_QUOTED_APP + "x = ( 1 )\n",
            "app.py": SINGLE_QUOTED_APP,
        }
    )

    run_cli(["--apply", "--select", "CIO101", "."], root)

    legacy = (root / "legacy/app.py").read_text()
    assert "x = ( 1 )" in legacy
    assert "os.environ['CUSTOMERIO_SITE_ID']" in legacy
    assert 'os.environ["CUSTOMERIO_SITE_ID"]' in (root / "app.py").read_text()


def test_style_ruff_excluded_project_not_formatted_whole(project) -> None:
    root = project(
        {
            "ruff.toml": 'extend-exclude = ["legacy"]\n\n[format]\nquote-style = "double"\n',
            "legacy/pyproject.toml": "[tool.cio-fix]\n",
            "legacy/app.py": SINGLE_QUOTED_APP + "x = ( 1 )\n",
        }
    )
    subprocess.run(["git", "init", "-q", "."], cwd=root, check=True)

    run_cli(["--apply", "--select", "CIO101", "."], root / "legacy")

    legacy = (root / "legacy/app.py").read_text()
    assert "x = ( 1 )" in legacy
    assert "os.environ['CUSTOMERIO_SITE_ID']" in legacy


@pytest.mark.parametrize(
    ("glob", "matches", "misses"),
    [
        ("/r/legacy", ["/r/legacy"], ["/r/legacy/x", "/r/a/legacy"]),
        ("/r/*.py", ["/r/a.py", "/r/a/b.py"], ["/r/a.pyi"]),
        ("/r/**/x", ["/r/x", "/r/a/b/x"], ["/r/ax"]),
        ("/r/gen/**", ["/r/gen/a", "/r/gen/a/b"], ["/r/gen"]),
        ("**", ["a", "/r/a/b"], []),
        ("v?nv", ["venv", "v/nv"], ["vnv"]),
        ("[!l]egacy", ["begacy"], ["legacy"]),
        ("[a-c]x", ["bx"], ["dx"]),
        ("{gen,proto}", ["gen", "proto"], ["genproto"]),
        ("leg\\*", ["leg*"], ["legacy"]),
        ("a.b(c)", ["a.b(c)"], ["aXb(c)"]),
    ],
)
def test_style_glob_regex(glob: str, matches: list[str], misses: list[str]) -> None:
    pattern = re.compile(glob_regex(glob))

    for path in matches:
        assert pattern.fullmatch(path), f"{glob} must match {path}"
    for path in misses:
        assert not pattern.fullmatch(path), f"{glob} must not match {path}"


@pytest.mark.parametrize("glob", ["[a", "{a,b", "a}", "a\\", "{a,{b}}", "[z-a]"])
def test_style_glob_regex_invalid(glob: str) -> None:
    with pytest.raises(InvalidGlob):
        glob_regex(glob)
