"""The lowest Python version that a project declares, and the code fixes write for it."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cio_fix.python_version import (
    InvalidSpecifier,
    PythonVersion,
    detect_python_version,
    minimum_from_specifier,
)
from cio_fix.style import ruff_settings_chain

from conftest import run_cli

PYTHON_38 = Path("/root/.pyenv/versions/3.8.18/bin/python3.8")
PYTHON_37 = Path("/root/.pyenv/versions/3.7.16/bin/python3.7")
PYTHON_27 = Path("/root/.pyenv/versions/2.7.18/bin/python2.7")

# Stand-ins for the SDK and the frameworks, so that a fixed module imports
# and runs its calls without sending anything.
STUBS = {
    "stubs/customerio/__init__.py": (
        "CALLS = []\n"
        "\n"
        "\n"
        "class CustomerIO:\n"
        "    def __init__(self, site_id=None, api_key=None, **kwargs):\n"
        "        self.site_id = site_id\n"
        "\n"
        "    def track(self, customer_id, name, **data):\n"
        "        CALLS.append((customer_id, name, data))\n"
    ),
    "stubs/django/__init__.py": "",
    "stubs/django/conf/__init__.py": (
        "class _Settings:\n"
        '    CIO_SITE_ID = "site"\n'
        '    CIO_API_KEY = "key"\n'
        "\n"
        "\n"
        "settings = _Settings()\n"
    ),
    "stubs/django/http/__init__.py": "def JsonResponse(data):\n    return data\n",
    "stubs/flask/__init__.py": (
        "class _Request:\n"
        "    def get_json(self):\n"
        '        return {"user_id": 7}\n'
        "\n"
        "\n"
        "request = _Request()\n"
        "\n"
        "\n"
        "class Flask:\n"
        "    def __init__(self, name):\n"
        "        self.name = name\n"
        "\n"
        "    def post(self, path):\n"
        "        return lambda function: function\n"
        "\n"
        "    def route(self, path, methods=None):\n"
        "        return lambda function: function\n"
    ),
}

DJANGO_VIEWS = """\
from django.conf import settings
from django.http import JsonResponse
from customerio import CustomerIO


def order_created(request):
    cio = CustomerIO(settings.CIO_SITE_ID, settings.CIO_API_KEY)
    cio.track(customer_id=request.user.id, name="order_created")
    return JsonResponse({"ok": True})
"""

FLASK_APP = """\
from customerio import CustomerIO
from flask import Flask, request

app = Flask(__name__)
cio = CustomerIO("site", "key")


@app.post("/orders")
def order_paid():
    order = request.get_json()
    cio.track(customer_id=order["user_id"], name="order_paid", method="card")
    return "ok"
"""

# A Flask app of a project that still supports Python 2.7. The fixes that
# need a newer Python (CIO304, CIO601, CIO603) leave it as it is.
PYTHON_27_APP = """\
import time

from customerio import CustomerIO
from flask import Flask, request

app = Flask(__name__)

SITE_ID = "site"
API_KEY = "key"
exporter = CustomerIO("site", "key")


@app.route("/orders", methods=["POST"])
def order_paid():
    order = request.get_json()
    cio = CustomerIO(SITE_ID, API_KEY)
    cio.track(
        customer_id=order["user_id"],
        name="paid_%s" % order["user_id"],
        timestamp=int(time.time() * 1000),
    )
    return "ok"


def export(user_ids):
    for user_id in user_ids:
        exporter.track(customer_id=user_id, name="exported")
"""


@pytest.mark.parametrize(
    ("specifier", "minimum"),
    [
        (">=3.8", (3, 8)),
        ("~=3.8", (3, 8)),
        (">=3.8,<4", (3, 8)),
        (">= 3.8, < 4", (3, 8)),
        (">=3.8 <4.0", (3, 8)),
        ("^3.8", (3, 8)),
        ("~3.8", (3, 8)),
        ("3.8.*", (3, 8)),
        ("==3.10.2", (3, 10)),
        (">3.7", (3, 7)),
        (">=3.8.0rc1", (3, 8)),
        ("!=3.0.*,>=2.7", (2, 7)),
        (">=3.7,>=3.9", (3, 9)),
        ("^3.9 || ^3.7", (3, 7)),
        ("<4", None),
        ("<=3.9", None),
        ("<3.9", (2, 7)),
        ("<3.8", (2, 7)),
        ("<=3.7", (2, 7)),
        ("!=3.0.*,<3.8", (2, 7)),
        ("*", None),
        ("", None),
        (">=3.7,", (3, 7)),
        (">=3.7, ,<4", (3, 7)),
        ("python3", None),
    ],
)
def test_python_minimum_from_specifier(
    specifier: str, minimum: tuple[int, int] | None
) -> None:
    assert minimum_from_specifier(specifier) == minimum


@pytest.mark.parametrize(
    ("files", "minimum", "source"),
    [
        (
            {"pyproject.toml": '[project]\nrequires-python = ">=3.8"\n'},
            (3, 8),
            "pyproject.toml",
        ),
        (
            {"pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.7"\n'},
            (3, 7),
            "pyproject.toml",
        ),
        (
            {"setup.cfg": "[options]\npython_requires = >=3.8, <4\n"},
            (3, 8),
            "setup.cfg",
        ),
        (
            {
                "setup.py": 'from setuptools import setup\nsetup(python_requires=">=3.7")\n'
            },
            (3, 7),
            "setup.py",
        ),
        (
            {
                "setup.py": 'import setuptools\nsetuptools.setup(python_requires="~=3.8")\n'
            },
            (3, 8),
            "setup.py",
        ),
        ({"Pipfile": '[requires]\npython_version = "3.8"\n'}, (3, 8), "Pipfile"),
        ({"ruff.toml": 'target-version = "py38"\n'}, (3, 8), "ruff.toml"),
        ({".ruff.toml": 'target-version = "py37"\n'}, (3, 7), ".ruff.toml"),
        (
            {"pyproject.toml": '[tool.ruff]\ntarget-version = "py310"\n'},
            (3, 10),
            "pyproject.toml",
        ),
        (
            {
                "pyproject.toml": '[project]\nrequires-python = ">=3.9"\n',
                "ruff.toml": 'target-version = "py38"\n',
            },
            (3, 9),
            "pyproject.toml",
        ),
        (
            {
                "pyproject.toml": '[tool.ruff]\nextend = "ruff-base.toml"\n',
                "ruff-base.toml": 'target-version = "py37"\n',
            },
            (3, 7),
            "ruff-base.toml",
        ),
        (
            {
                "ruff.toml": 'extend = "config/base.toml"\nline-length = 100\n',
                "config/base.toml": 'extend = "../shared/pyproject.toml"\n',
                "shared/pyproject.toml": '[tool.ruff]\ntarget-version = "py36"\n',
            },
            (3, 6),
            "shared/pyproject.toml",
        ),
        (
            {
                "ruff.toml": 'extend = "base.toml"\ntarget-version = "py310"\n',
                "base.toml": 'target-version = "py37"\n',
            },
            (3, 10),
            "ruff.toml",
        ),
        ({"ruff.toml": 'extend = "missing.toml"\n'}, None, None),
        (
            {
                "ruff.toml": 'extend = "base.toml"\n',
                "base.toml": 'extend = "./ruff.toml"\n',
            },
            None,
            None,
        ),
        (
            {
                "pyproject.toml": '[project]\nrequires-python = "<4"\n',
                "setup.cfg": "[options]\npython_requires = >=3.8\n",
            },
            (3, 8),
            "setup.cfg",
        ),
        (
            {"pyproject.toml": '[tool.black]\ntarget-version = ["py38", "py37"]\n'},
            (3, 7),
            "pyproject.toml",
        ),
        (
            {
                "pyproject.toml": (
                    '[project]\nclassifiers = ["Programming Language :: Python :: 3",'
                    ' "Programming Language :: Python :: 3.9",'
                    ' "Programming Language :: Python :: 3.8"]\n'
                )
            },
            (3, 8),
            "pyproject.toml",
        ),
        (
            {
                "setup.cfg": (
                    "[metadata]\nclassifiers =\n"
                    "    Programming Language :: Python :: 3 :: Only\n"
                    "    Programming Language :: Python :: 3.7\n"
                )
            },
            (3, 7),
            "setup.cfg",
        ),
        (
            {
                "setup.py": (
                    "setup(classifiers=["
                    '"Programming Language :: Python :: 3.10",'
                    ' "Programming Language :: Python :: 3.7"])\n'
                )
            },
            (3, 7),
            "setup.py",
        ),
        (
            {
                "setup.py": 'setup(classifiers=["Programming Language :: Python :: 3"])\n'
            },
            None,
            None,
        ),
        ({"tox.ini": "[tox]\nenvlist = py39, py37, lint\n"}, (3, 7), "tox.ini"),
        (
            {"tox.ini": "[tox]\nenv_list =\n    py{310,38}-django{32,42}\n    docs\n"},
            (3, 8),
            "tox.ini",
        ),
        ({"tox.ini": "[tox]\nenvlist = py3, pypy3\n"}, None, None),
        ({".python-version": "3.8.18\n"}, (3, 8), ".python-version"),
        (
            {".python-version": "# for tox\n3.12.1\npypy3.9-7.3.11\n"},
            (3, 9),
            ".python-version",
        ),
        ({".python-version": "system\n"}, None, None),
        (
            {
                "pyproject.toml": '[tool.black]\ntarget-version = ["py310"]\n',
                "ruff.toml": 'target-version = "py39"\n',
            },
            (3, 9),
            "ruff.toml",
        ),
        (
            {
                "pyproject.toml": '[tool.black]\ntarget-version = ["py39"]\n',
                "tox.ini": "[tox]\nenvlist = py37\n",
                ".python-version": "3.6.15\n",
            },
            (3, 9),
            "pyproject.toml",
        ),
        (
            {"tox.ini": "[tox]\nenvlist = py38\n", ".python-version": "3.6.15\n"},
            (3, 8),
            "tox.ini",
        ),
        ({"setup.py": "setup(python_requires=MINIMUM)\n"}, None, None),
        ({"setup.py": "setup(\n"}, None, None),
        ({"pyproject.toml": "[project\n"}, None, None),
        ({"pyproject.toml": "[project]\nrequires-python = 3.8\n"}, None, None),
        ({"requirements.txt": "customerio==3.1\n"}, None, None),
    ],
)
def test_python_detect_version(project, files, minimum, source) -> None:
    root = project(files)

    found = detect_python_version(root)

    expected = PythonVersion(minimum, source) if minimum is not None else None
    assert found.version == expected


def test_python_ruff_extend_from_parent_folder(project) -> None:
    root = project(
        {
            "ruff-base.toml": 'target-version = "py37"\n',
            "services/web/ruff.toml": 'extend = "../../ruff-base.toml"\n',
        }
    )

    found = detect_python_version(root, root / "services" / "web")

    assert found.version == PythonVersion((3, 7), "ruff-base.toml")


def test_python_ruff_extend_cycle_through_parent(project) -> None:
    root = project({})
    settings = {"extend": f"../{root.name}/ruff.toml"}
    (root / "ruff.toml").write_text(f'extend = "{settings["extend"]}"\n')

    chain = ruff_settings_chain(root / "ruff.toml", settings, lambda path: settings)
    found = detect_python_version(root)

    assert [path for path, _ in itertools.islice(chain, 5)] == [root / "ruff.toml"]
    assert found.version is None


def test_python_invalid_specifier_returned(project, caplog) -> None:
    root = project(
        {
            "pyproject.toml": '[project]\nrequires-python = ">=3.7;"\n',
            "services/web/setup.cfg": "[options]\npython_requires = =>3.8\n",
            "services/web/tox.ini": "[tox]\nenvlist = py38\n",
        }
    )

    web = detect_python_version(root, root / "services" / "web")
    top = detect_python_version(root)

    assert web.version == PythonVersion((3, 8), "services/web/tox.ini")
    assert web.invalid == (InvalidSpecifier("services/web/setup.cfg", "=>3.8"),)
    assert top.version is None
    assert top.invalid == (InvalidSpecifier("pyproject.toml", ">=3.7;"),)
    assert not [record for record in caplog.records if record.levelname == "WARNING"]


def test_python_no_lower_bound_not_warned(project, caplog) -> None:
    root = project({"pyproject.toml": '[project]\nrequires-python = "<4, !=3.0.*"\n'})

    found = detect_python_version(root)

    assert found.version is None
    assert found.invalid == ()
    assert not [record for record in caplog.records if record.levelname == "WARNING"]


def test_python_setup_py_not_run(project) -> None:
    root = project(
        {
            "setup.py": (
                "from pathlib import Path\n"
                'Path("ran").write_text("")\n'
                'setup(python_requires=">=3.8")\n'
            )
        }
    )

    found = detect_python_version(root)

    assert found.version == PythonVersion((3, 8), "setup.py")
    assert not (root / "ran").exists()


def test_python_nearest_folder_first(project) -> None:
    root = project(
        {
            "pyproject.toml": '[project]\nrequires-python = ">=3.10"\n',
            "services/legacy/setup.cfg": "[options]\npython_requires = >=3.8\n",
            "services/web/app.py": "",
        }
    )

    legacy = detect_python_version(root, root / "services" / "legacy")
    web = detect_python_version(root, root / "services" / "web")

    assert legacy.version == PythonVersion((3, 8), "services/legacy/setup.cfg")
    assert web.version == PythonVersion((3, 10), "pyproject.toml")


def test_python_target_version_setting_wins(project) -> None:
    root = project(
        {
            "pyproject.toml": (
                '[project]\nrequires-python = ">=3.9"\n\n'
                '[tool.cio-fix]\ntarget-version = "py38"\n'
            ),
            "views.py": DJANGO_VIEWS,
        }
    )

    result = run_cli(["--dry-run", "--select", "CIO601", "."], root)

    assert "+@functools.lru_cache(maxsize=None)" in result.stdout


def test_python_upper_bound_only_gets_no_newer_code(project) -> None:
    # `<3.8` allows no Python that `functools.cache` or the helper's `/` needs.
    root = project(
        {
            "pyproject.toml": '[project]\nrequires-python = "<3.8"\n',
            "requirements.txt": "customerio==3.2.0\nflask\n",
            "app.py": FLASK_APP,
        }
    )

    result = run_cli(["--dry-run", "--no-cache", "."], root)

    assert "functools.cache" not in result.stdout
    assert "method, /" not in result.stdout
    assert "and pyproject.toml declares 2.7" in result.stdout


def test_python_version_file_change_misses_cache(project) -> None:
    root = project({".python-version": "3.9.18\n", "views.py": DJANGO_VIEWS})
    first = run_cli(["--dry-run", "--select", "CIO601", "."], root)
    (root / ".python-version").write_text("3.8.18\n")

    second = run_cli(["--dry-run", "--select", "CIO601", "."], root)

    assert "+@functools.cache" in first.stdout
    assert "+@functools.lru_cache(maxsize=None)" in second.stdout


def test_python_version_change_misses_cache(project) -> None:
    root = project(
        {
            "pyproject.toml": '[project]\nrequires-python = ">=3.9"\n',
            "views.py": DJANGO_VIEWS,
        }
    )
    first = run_cli(["--dry-run", "--select", "CIO601", "."], root)
    (root / "pyproject.toml").write_text('[project]\nrequires-python = ">=3.8"\n')

    second = run_cli(["--dry-run", "--select", "CIO601", "."], root)

    assert (root / ".cio_fix_cache").is_dir()
    assert "+@functools.cache" in first.stdout
    assert "+@functools.lru_cache(maxsize=None)" in second.stdout


def test_python_ruff_target_change_misses_cache(project) -> None:
    root = project(
        {
            "ruff.toml": 'target-version = "py39"\n',
            "views.py": DJANGO_VIEWS,
        }
    )
    first = run_cli(["--dry-run", "--select", "CIO601", "."], root)
    (root / "ruff.toml").write_text('target-version = "py38"\n')

    second = run_cli(["--dry-run", "--select", "CIO601", "."], root)

    assert "+@functools.cache" in first.stdout
    assert "+@functools.lru_cache(maxsize=None)" in second.stdout


def test_python_ruff_extended_target_read(project) -> None:
    root = project(
        {
            "pyproject.toml": '[tool.ruff]\nextend = "ruff-base.toml"\n',
            "ruff-base.toml": 'target-version = "py38"\n',
            "views.py": DJANGO_VIEWS,
        }
    )

    result = run_cli(["--dry-run", "--no-cache", "--select", "CIO601", "."], root)

    assert "+@functools.lru_cache(maxsize=None)" in result.stdout
    assert "warning" not in result.stderr


def test_python_ruff_extended_change_misses_cache(project) -> None:
    root = project(
        {
            "pyproject.toml": '[tool.ruff]\nextend = "ruff-base.toml"\n',
            "ruff-base.toml": 'target-version = "py39"\n',
            "views.py": DJANGO_VIEWS,
        }
    )
    first = run_cli(["--dry-run", "--select", "CIO601", "."], root)
    (root / "ruff-base.toml").write_text('target-version = "py38"\n')

    second = run_cli(["--dry-run", "--select", "CIO601", "."], root)

    assert "+@functools.cache" in first.stdout
    assert "+@functools.lru_cache(maxsize=None)" in second.stdout


def test_python_ruff_extended_creation_misses_cache(project) -> None:
    root = project(
        {
            "web/pyproject.toml": '[tool.ruff]\nextend = "../shared/ruff.toml"\n',
            "web/views.py": DJANGO_VIEWS,
        }
    )
    first = run_cli(["--dry-run", "--select", "CIO601", "."], root / "web")
    (root / "shared").mkdir()
    (root / "shared" / "ruff.toml").write_text('target-version = "py38"\n')

    second = run_cli(["--dry-run", "--select", "CIO601", "."], root / "web")

    assert "+@functools.cache" in first.stdout
    assert "+@functools.lru_cache(maxsize=None)" in second.stdout


def _run_in_subprocess(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run cio-fix in a process of its own, whose workers write to its stderr."""
    return subprocess.run(
        [sys.executable, "-m", "cio_fix", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "400"},
        timeout=120,
        check=False,
    )


def test_python_invalid_specifier_warned_once_per_run(project) -> None:
    files = {f"app{number}/views.py": DJANGO_VIEWS for number in range(8)}
    root = project(
        {"pyproject.toml": '[project]\nrequires-python = "=>3.8"\n', **files}
    )
    args = ["-q", "--no-diff", "--select", "CIO601", "--jobs", "2", "."]
    invalid = (
        "cio-fix: warning: pyproject.toml: Python version specifier '=>3.8' is not"
        " valid; it is ignored, so fixes are written as if it were not there\n"
    )
    assumed = (
        "cio-fix: warning: the fixes of app0/views.py and 7 other files would be"
        " written"
        " for Python 3.9 or newer, because the Python version specifier in"
        " pyproject.toml is not valid; if the code runs on an older Python, correct"
        " it or set target-version in [tool.cio-fix]\n"
    )

    uncached = _run_in_subprocess(["--no-cache", *args], root)
    filling = _run_in_subprocess(args, root)
    cached = _run_in_subprocess(args, root)

    assert uncached.stderr == invalid + assumed
    assert filling.stderr == invalid + assumed
    assert (root / ".cio_fix_cache").is_dir()
    assert cached.stderr == invalid + assumed


def test_python_invalid_specifier_with_fallback(project) -> None:
    root = project(
        {
            "pyproject.toml": '[project]\nrequires-python = "=>3.8"\n',
            "tox.ini": "[tox]\nenvlist = py38\n",
            "app/views.py": DJANGO_VIEWS,
        }
    )

    result = run_cli(
        ["--dry-run", "--no-cache", "--select", "CIO601", "."], root / "app"
    )

    assert "+@functools.lru_cache(maxsize=None)" in result.stdout
    assert result.stderr.count("warning:") == 1
    # A file outside the working directory is named by its absolute path.
    assert (
        f"cio-fix: warning: {(root / 'pyproject.toml').as_posix()}: Python version"
        " specifier '=>3.8' is not valid; it is ignored" in result.stderr
    )


def test_python_invalid_specifier_no_fix_no_warning(project) -> None:
    root = project(
        {
            "pyproject.toml": '[project]\nrequires-python = "=>3.8"\n',
            "views.py": DJANGO_VIEWS,
        }
    )

    result = run_cli(["--no-cache", "--select", "CIO401", "."], root)

    assert "warning" not in result.stderr


def test_python_undeclared_warns_once(project) -> None:
    root = project({"views.py": DJANGO_VIEWS, "more/views.py": DJANGO_VIEWS})

    dry_run = run_cli(["--dry-run", "--no-cache", "--select", "CIO601", "."], root)
    applied = run_cli(["--apply", "--no-cache", "--select", "CIO601", "."], root)

    assert "+@functools.cache" in dry_run.stdout
    assert dry_run.stderr.count("warning:") == 1
    assert (
        "the fixes of more/views.py and 1 other file would be written for Python 3.9"
        " or newer, because the project declares no Python version that cio-fix"
        " reads" in dry_run.stderr
    )
    assert "set target-version in [tool.cio-fix]" in dry_run.stderr
    assert applied.stderr.count("warning:") == 1
    assert "other file are written for Python 3.9" in applied.stderr


def test_python_undeclared_warning_cached(project) -> None:
    root = project({"views.py": DJANGO_VIEWS})

    first = run_cli(["--dry-run", "--select", "CIO601", "."], root)
    second = run_cli(["--dry-run", "--select", "CIO601", "."], root)

    assert (root / ".cio_fix_cache").is_dir()
    assert "declares no Python version" in first.stderr
    assert "declares no Python version" in second.stderr


@pytest.mark.parametrize(
    "files",
    [
        {"pyproject.toml": '[project]\nrequires-python = ">=3.9"\n'},
        {"pyproject.toml": '[tool.cio-fix]\ntarget-version = "py310"\n'},
    ],
)
def test_python_declared_no_warning(project, files) -> None:
    root = project({**files, "views.py": DJANGO_VIEWS})

    result = run_cli(["--dry-run", "--no-cache", "--select", "CIO601", "."], root)

    assert "+@functools.cache" in result.stdout
    assert "warning" not in result.stderr


def test_python_no_fix_no_warning(project) -> None:
    root = project({"views.py": "import customerio\n"})

    result = run_cli(["--dry-run", "--no-cache", "."], root)

    assert result.exit_code == 0
    assert "warning" not in result.stderr


def test_python_helper_message_names_declaration(project) -> None:
    root = project(
        {
            "setup.py": 'setup(python_requires=">=3.6")\n',
            "app.py": FLASK_APP,
        }
    )

    result = run_cli(["--output-format", "json", "--select", "CIO304", "."], root)

    [finding] = result.json["findings"]
    assert finding["fix"] is None
    assert "needs Python 3.7, and setup.py declares 3.6" in finding["message"]


def _import_fixed(python: Path, root: Path, module: str, script: str) -> str:
    """Import a fixed module with `python`, the stubs first on the path; return its output."""
    completed = subprocess.run(
        [str(python), "-c", f"import {module}\n{script}"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": f"{root / 'stubs'}{os.pathsep}{root}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_python_38_imports_cached_factory(project) -> None:
    if not PYTHON_38.is_file():
        pytest.skip(f"{PYTHON_38} is not installed")
    root = project(
        {
            **STUBS,
            "pyproject.toml": '[project]\nrequires-python = ">=3.8"\n',
            "shop/__init__.py": "",
            "shop/views.py": DJANGO_VIEWS,
        }
    )

    result = run_cli(["--apply", "--select", "CIO601", "."], root)
    output = _import_fixed(
        PYTHON_38,
        root,
        "shop.views",
        "print(shop.views._customerio_client() is shop.views._customerio_client())",
    )

    assert result.exit_code == 0
    assert "lru_cache(maxsize=None)" in (root / "shop" / "views.py").read_text()
    assert output == "True\n"


def test_python_37_runs_thread_helper(project) -> None:
    if not PYTHON_37.is_file():
        pytest.skip(f"{PYTHON_37} is not installed")
    root = project(
        {
            **STUBS,
            "setup.py": 'setup(python_requires=">=3.7")\n',
            "shop/__init__.py": "",
            "shop/app.py": FLASK_APP,
        }
    )

    result = run_cli(["--apply", "--select", "CIO304", "."], root)
    output = _import_fixed(
        PYTHON_37,
        root,
        "shop.app",
        "import customerio\n"
        "shop.app.order_paid()\n"
        "shop.app._customerio_executor.shutdown()\n"
        "print(customerio.CALLS)",
    )

    assert result.exit_code == 0
    assert (
        "def _customerio_in_background(*args, **kwargs):"
        in (root / "shop" / "app.py").read_text()
    )
    assert output == "[(7, 'order_paid', {'method': 'card'})]\n"


@pytest.mark.parametrize(
    "files",
    [
        {"pyproject.toml": '[tool.black]\ntarget-version = ["py37", "py38"]\n'},
        {"tox.ini": "[tox]\nenvlist = py37, py38, py39\n"},
        {"setup.py": 'setup(classifiers=["Programming Language :: Python :: 3.7"])\n'},
        {".python-version": "3.7.16\n"},
        {"pyproject.toml": '[project]\nrequires-python = ">=3.7,"\n'},
    ],
)
def test_python_37_other_declarations_import(project, files) -> None:
    if not PYTHON_37.is_file():
        pytest.skip(f"{PYTHON_37} is not installed")
    root = project(
        {**STUBS, **files, "shop/__init__.py": "", "shop/views.py": DJANGO_VIEWS}
    )

    result = run_cli(["--apply", "--no-cache", "--select", "CIO601", "."], root)
    output = _import_fixed(
        PYTHON_37,
        root,
        "shop.views",
        "print(shop.views._customerio_client() is shop.views._customerio_client())",
    )

    assert result.exit_code == 0
    assert "warning" not in result.stderr
    assert output == "True\n"


def test_python_27_imports_fixed_module(project) -> None:
    if not PYTHON_27.is_file():
        pytest.skip(f"{PYTHON_27} is not installed")
    root = project(
        {
            **STUBS,
            "setup.py": (
                "setup(\n"
                '    python_requires=">=2.7, !=3.0.*, !=3.1.*",\n'
                '    install_requires=["customerio>=1.6,<2"],\n'
                ")\n"
            ),
            "shop/__init__.py": "",
            "shop/app.py": PYTHON_27_APP,
        }
    )

    result = run_cli(
        ["--apply", "--unsafe-fixes", "--output-format", "json", "."], root
    )
    output = _import_fixed(
        PYTHON_27,
        root,
        "shop.app",
        "import customerio\n"
        "shop.app.order_paid()\n"
        "shop.app.export([8])\n"
        "print([(user, name, sorted(data)) for user, name, data in customerio.CALLS])",
    )

    fixed = {finding["code"] for finding in result.json["findings"] if finding["fix"]}
    withheld = {
        finding["code"]: finding["message"]
        for finding in result.json["findings"]
        if not finding["fix"]
    }
    assert fixed == {"CIO103", "CIO301"}
    assert "functools.lru_cache needs Python 3.2" in withheld["CIO601"]
    assert "needs Python 3.7, and setup.py declares 2.7" in withheld["CIO304"]
    assert "needs Python 3.3, and setup.py declares 2.7" in withheld["CIO603"]
    assert output == ("[(7, 'paid', ['timestamp', 'user_id']), (8, 'exported', [])]\n")


# An old Flask service that declares its versions only in setup.py.
LEGACY_SETUP_PY = """\
from setuptools import setup

setup(
    name="legacy-shop",
    packages=["shop"],
    python_requires=">=2.7, !=3.0.*, !=3.1.*",
    install_requires=["customerio==1.2", "flask<1"],
)
"""

LEGACY_VIEWS = """\
from customerio import CustomerIO
from flask import Flask, request

app = Flask(__name__)
cio = CustomerIO("site", "key")


@app.route("/signup", methods=["POST"])
def signup():
    form = request.get_json()
    cio.track(customer_id=form["id"], name="signed_up")
    return "ok"


def export(user_ids, plan):
    for user_id in user_ids:
        cio.track(customer_id=user_id, name="exported_%s" % plan)
"""


@pytest.mark.parametrize(
    ("cwd", "path"),
    [(".", "."), (".", "shop/views.py"), (".", "shop"), ("shop", "views.py")],
    ids=["folder", "file", "subfolder", "file from its folder"],
)
def test_python_setup_py_above_named_path(project, cwd, path) -> None:
    # Outside git the project root is the PATH, or its folder for a file,
    # which is below setup.py in all but the first case.
    root = project({"setup.py": LEGACY_SETUP_PY, "shop/views.py": LEGACY_VIEWS})

    result = run_cli(
        ["--apply", "--no-cache", "--select", "CIO301,CIO304", path], root / cwd
    )
    fixed = (root / "shop" / "views.py").read_text()

    assert result.exit_code == 1
    assert "_customerio_in_background" not in fixed
    assert "needs Python 3.7, and " in result.stdout
    assert "setup.py declares 2.7" in result.stdout
    # customerio 1.x takes event attributes as keyword arguments.
    assert 'name="exported", plan="%s" % (plan,))' in fixed
    assert "warning" not in result.stderr


def test_python_setup_py_above_own_config(project) -> None:
    root = project(
        {
            "setup.py": LEGACY_SETUP_PY,
            "shop/pyproject.toml": '[tool.cio-fix]\nselect = ["CIO304"]\n',
            "shop/views.py": LEGACY_VIEWS,
        }
    )

    result = run_cli(["--apply", "--no-cache", "shop/views.py"], root)

    assert "_customerio_in_background" not in (root / "shop/views.py").read_text()
    assert "setup.py declares 2.7" in result.stdout
    assert "warning" not in result.stderr


def test_python_setup_py_above_root_misses_cache(project) -> None:
    root = project({"shop/views.py": LEGACY_VIEWS})
    args = ["--dry-run", "--select", "CIO304", "shop/views.py"]
    first = run_cli(args, root)
    (root / "setup.py").write_text(LEGACY_SETUP_PY)

    second = run_cli(args, root)

    assert (root / "shop" / ".cio_fix_cache").is_dir()
    assert "+def _customerio_in_background(method, /" in first.stdout
    assert "setup.py declares 2.7" in second.stdout
