"""Fixed modules import without NameError when their own imports come late or go.

The fixes of CIO101, CIO304 and CIO601 write code that runs while the
module is imported and names os, concurrent.futures, threading or
functools. Each module here imports those names only below that code, or
deletes them with `del`, so the fix must add its own import at the top.
The fixed module is imported in a fresh interpreter with the real
customerio SDK and Flask; importing it and making a client sends no
request.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import run_cli

SETTINGS = """\
\"\"\"Django-style settings that import os below the Customer.io keys.\"\"\"

CUSTOMERIO_SITE_ID = "3f9a0c1d2e4b5a69c7d1"
CUSTOMERIO_API_KEY = "0a1b2c3d4e5f6a7b8c9d"

import os  # noqa: E402

DEBUG = os.environ.get("DEBUG") == "1"
"""

TRACKING = """\
from customerio import CustomerIO

import settings

cio = CustomerIO(settings.CUSTOMERIO_SITE_ID, settings.CUSTOMERIO_API_KEY)
"""

VIEWS = """\
from customerio import CustomerIO
from flask import Flask

import settings

app = Flask(__name__)


@app.post("/orders")
def order_created():
    cio = CustomerIO(settings.CUSTOMERIO_SITE_ID, settings.CUSTOMERIO_API_KEY)
    cio.track(customer_id=1, name="order_placed")
    return "ok"


import concurrent.futures  # noqa: E402
import functools  # noqa: E402
import threading  # noqa: E402
"""

PACKAGE_DELETING_OS = """\
\"\"\"A package that keeps `os` out of its namespace.\"\"\"

import os

from customerio import CustomerIO

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")

cio = CustomerIO(site_id="3f9a0c1d2e4b5a69c7d1", api_key="0a1b2c3d4e5f6a7b8c9d")


def make_client():
    return CustomerIO(site_id="3f9a0c1d2e4b5a69c7d1", api_key="0a1b2c3d4e5f6a7b8c9d")


del os
"""


def _import_in_new_interpreter(
    folder: Path, module: str, then: str = ""
) -> subprocess.CompletedProcess:
    """Import `module`, then run the statement `then`, in a fresh interpreter."""
    environment = {
        **os.environ,
        "CUSTOMERIO_SITE_ID": "site",
        "CUSTOMERIO_API_KEY": "key",
        "CUSTOMERIO_TRACK_API_KEY": "key",
        "PYTHONPATH": str(folder),
    }
    return subprocess.run(
        [sys.executable, "-c", f"import {module}\n{then}"],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_import_after_cio101_fix(project) -> None:
    folder = project(
        {
            "settings.py": SETTINGS,
            "tracking.py": TRACKING,
            "requirements.txt": "customerio==3.1.0\n",
        }
    )

    fixed = run_cli(["--apply", "--select", "CIO101", "--no-cache", "."], folder)
    imported = _import_in_new_interpreter(folder, "settings")

    assert fixed.exit_code == 0, fixed.stdout
    assert 'os.environ["CUSTOMERIO_SITE_ID"]' in (folder / "settings.py").read_text()
    assert imported.returncode == 0, imported.stderr


def test_views_import_after_cio304_cio601_fixes(project) -> None:
    folder = project(
        {
            "settings.py": 'CUSTOMERIO_SITE_ID = "site"\nCUSTOMERIO_API_KEY = "key"\n',
            "views.py": VIEWS,
            "requirements.txt": "customerio==3.1.0\n",
        }
    )

    fixed = run_cli(["--apply", "--select", "CIO304,CIO601", "--no-cache", "."], folder)
    imported = _import_in_new_interpreter(folder, "views")

    views = (folder / "views.py").read_text()
    assert fixed.exit_code == 0, fixed.stdout
    assert "_customerio_in_background(cio.track" in views
    assert "@functools.cache" in views
    assert imported.returncode == 0, imported.stderr


def test_package_deleting_os_after_cio101_fix(project) -> None:
    folder = project(
        {
            "tracking/__init__.py": PACKAGE_DELETING_OS,
            "requirements.txt": "customerio==3.1.0\n",
        }
    )

    fixed = run_cli(["--apply", "--select", "CIO101", "--no-cache", "."], folder)
    # The function body runs after the module's `del os`.
    called = _import_in_new_interpreter(folder, "tracking", "tracking.make_client()")

    assert fixed.exit_code == 0, fixed.stdout
    assert "import os as _os" in (folder / "tracking/__init__.py").read_text()
    assert called.returncode == 0, called.stderr


TRACKING_WITH_DEFAULTS = """\
from customerio import CustomerIO
from flask import Flask

app = Flask(__name__)
SITE_ID = "changeme"
API_KEY = "changeme"


@app.post("/signup")
def signup():
    CustomerIO(SITE_ID, API_KEY).identify(id=1)
    return "ok"
"""

# An app factory in a module that never mentions Customer.io.
FACTORY = """\
import tracking


def create_app(config):
    tracking.SITE_ID = config["site"]
    tracking.API_KEY = config["key"]
    return tracking.app
"""

# A stand-in for the SDK that records the keys of each client it builds.
RECORDING_SDK = """\
built = []


class CustomerIO:
    def __init__(self, site_id, api_key):
        built.append((site_id, api_key))

    def identify(self, id, **attributes):
        pass
"""


def test_client_built_after_another_module_sets_constants(tmp_path: Path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "tracking.py").write_text(TRACKING_WITH_DEFAULTS)
    (folder / "factory.py").write_text(FACTORY)
    (folder / "requirements.txt").write_text("customerio==3.1.0\n")
    stubs = tmp_path / "stubs" / "customerio"
    stubs.mkdir(parents=True)
    (stubs / "__init__.py").write_text(RECORDING_SDK)

    fixed = run_cli(["--apply", "--select", "CIO601", "--no-cache", "."], folder)
    served = subprocess.run(
        [
            sys.executable,
            "-c",
            "import customerio, factory, tracking\n"
            "factory.create_app({'site': 'site-1', 'key': 'key-1'})\n"
            "tracking.signup()\n"
            "tracking.signup()\n"
            "print(customerio.built)",
        ],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": f"{tmp_path / 'stubs'}{os.pathsep}{folder}"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert fixed.exit_code == 0, fixed.stdout
    assert "@functools.cache" in (folder / "tracking.py").read_text()
    assert served.returncode == 0, served.stderr
    assert served.stdout.strip() == "[('site-1', 'key-1')]"
