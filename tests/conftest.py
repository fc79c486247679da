"""Shared helpers: run the real CLI on real files in a temporary folder."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cio_fix.cli import app

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict:
        return json.loads(self.stdout)


def run_cli(args: list[str], cwd: Path, columns: int = 200) -> CliResult:
    """Run `cio-fix ARGS` in `cwd` through the typer app, as the console script does.

    `columns` is the width that the output may wrap at, as COLUMNS sets it.
    """
    runner = CliRunner()
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        outcome = runner.invoke(
            app,
            args,
            prog_name="cio-fix",
            env={"NO_COLOR": "1", "COLUMNS": str(columns)},
        )
    finally:
        os.chdir(previous)
    if outcome.exception is not None and not isinstance(outcome.exception, SystemExit):
        raise outcome.exception
    return CliResult(outcome.exit_code, outcome.stdout, outcome.stderr)


@pytest.fixture
def project(tmp_path: Path):
    """Return a function that writes files (path -> text) into a fresh project folder."""

    def write(files: dict[str, str | bytes]) -> Path:
        for name, content in files.items():
            target = tmp_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        return tmp_path

    return write
