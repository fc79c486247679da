"""The lowest Python version that a project declares."""

from __future__ import annotations

import pytest

from cio_fix.python_version import (
    PythonVersion,
    detect_python_version,
    minimum_from_specifier,
)


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
        ("*", None),
        ("", None),
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
                "pyproject.toml": '[project]\nrequires-python = "<4"\n',
                "setup.cfg": "[options]\npython_requires = >=3.8\n",
            },
            (3, 8),
            "setup.cfg",
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
    assert found == expected


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

    assert found == PythonVersion((3, 8), "setup.py")
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

    assert legacy == PythonVersion((3, 8), "services/legacy/setup.cfg")
    assert web == PythonVersion((3, 10), "pyproject.toml")
