"""Start-up cost: which heavy modules `--version` and runs without parsing import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Runs the CLI in a fresh interpreter and prints whether libcst was imported.
IMPORTS_LIBCST = (
    "import sys\n"
    "from cio_fix.cli import main\n"
    "sys.argv = ['cio-fix', *sys.argv[1:]]\n"
    "try:\n"
    "    main()\n"
    "except SystemExit:\n"
    "    pass\n"
    "print('libcst' in sys.modules)\n"
)

APP = """\
import time

from customerio import CustomerIO

cio = CustomerIO("3f9a0c1d2e4b5a69c7d1", "0a1b2c3d4e5f6a7b8c9d")


def signed_up(user):
    cio.identify(id=user.id, created_at=int(time.time() * 1000))
"""


def _imports_libcst(arguments: list[str], cwd: Path) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", IMPORTS_LIBCST, *arguments],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )
    return completed.stdout.splitlines()[-1]


def test_startup_version_skips_libcst(tmp_path: Path) -> None:
    assert _imports_libcst(["--version"], tmp_path) == "False"


def test_startup_no_candidates_skips_libcst(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("print('no Customer.io here')\n")

    assert _imports_libcst(["."], tmp_path) == "False"


def test_startup_cached_run_skips_libcst(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)

    first = _imports_libcst(["--output-format", "json", "."], tmp_path)
    second = _imports_libcst(["--output-format", "json", "."], tmp_path)

    assert first == "True"
    assert second == "False"
