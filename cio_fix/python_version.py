"""The lowest Python version that the target project declares.

Fixes write code for that version, because `functools.cache` and
positional-only parameters need newer Pythons than some projects declare.
The files are read without running the project's code. This module does
not import libcst, because the cache imports it in runs that parse nothing.
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cio_fix.files import read_regular_file, read_setup_cfg, read_toml
from cio_fix.modules import folders_up_to

logger = logging.getLogger(__name__)
# The subject named in the log line of a declaration file that cannot be read.
PYTHON_VERSION = "the Python version"

# The files that declare the Python version, besides pyproject.toml,
# setup.cfg, setup.py and Pipfile, which declare the SDK version too.
RUFF_FILES = (".ruff.toml", "ruff.toml")

# One clause of a version specifier, as PEP 440 and Poetry write it: an
# optional operator, then a version such as `3.8`, `3.8.1`, `3.*` or `3.10rc1`.
_OPERATOR = r"===|==|~=|>=|<=|!=|\^|~|>|<|="
_CLAUSE = re.compile(
    rf"(?P<operator>{_OPERATOR})?v?"
    r"(?P<major>\d+)(?:\.(?P<minor>\d+|\*))?(?:\.(?:\d+|\*))*[a-z0-9.+!-]*",
    re.IGNORECASE,
)
# The operators of a clause that allow no version below the one they name.
# A bare version (Poetry's `3.8.*`) means `==`.
_LOWER_BOUNDS = frozenset({"===", "==", "~=", ">=", ">", "^", "~", "=", None})
# Poetry separates clauses with spaces as well as commas: `>=3.8 <4`. The
# spaces after an operator (`>= 3.8`) are removed first.
_SEPARATOR = re.compile(r"\s*,\s*|\s+")
_SPACE_AFTER_OPERATOR = re.compile(rf"({_OPERATOR})\s+")
# The Python that fixed code needs when nothing is declared.
DEFAULT_TARGET = (3, 9)
# The oldest Python a fix is written for: a project that bounds the version
# only from above (`<3.8`) may run on any older one.
OLDEST = (2, 7)
# ruff's `target-version`: "py38", "py310".
_RUFF_TARGET = re.compile(r"py(?P<major>\d)(?P<minor>\d+)")


@dataclass(frozen=True)
class PythonVersion:
    """The lowest Python version that fixed code must run on, and where it is declared."""

    minimum: tuple[int, int]
    source: str

    @property
    def label(self) -> str:
        return f"{self.minimum[0]}.{self.minimum[1]}"


def minimum_from_specifier(spec: str) -> tuple[int, int] | None:
    """Return the lowest Python (major, minor) that a version specifier allows.

    `>=3.8`, `~=3.8`, `>=3.8,<4`, `^3.8`, `3.8.*` and `==3.8.10` give (3, 8),
    and so does `>3.8`, which allows 3.8.1. Poetry's alternatives
    (`^3.7 || ^3.9`) give the lowest of theirs. None when a clause cannot be
    read or when nothing bounds the version from below (`<4`, `*`). A
    specifier that bounds it only from above, below DEFAULT_TARGET (`<3.8`,
    `<=3.7`), allows every older Python, so it gives OLDEST: code for the
    default target would run on none of the Pythons it allows.
    """
    lowest: tuple[int, int] | None = None
    for alternative in re.split(r"\|\|?", spec):
        bound = _lower_bound(alternative)
        if bound is None:
            return None
        lowest = bound if lowest is None else min(lowest, bound)
    return lowest


def _lower_bound(clauses: str) -> tuple[int, int] | None:
    """Return the lowest version that all clauses allow together, if one bounds it."""
    bound: tuple[int, int] | None = None
    below_default = False
    joined = _SPACE_AFTER_OPERATOR.sub(r"\1", clauses.strip())
    for clause in _SEPARATOR.split(joined):
        match = _CLAUSE.fullmatch(clause)
        if match is None:
            return None
        minor = match.group("minor")
        version = (
            int(match.group("major")),
            int(minor) if minor and minor != "*" else 0,
        )
        operator = match.group("operator")
        if operator == "<":
            below_default = below_default or version <= DEFAULT_TARGET
        elif operator == "<=":
            below_default = below_default or version < DEFAULT_TARGET
        if operator in _LOWER_BOUNDS:
            bound = version if bound is None else max(bound, version)
    if bound is None and below_default:
        return OLDEST
    return bound


def detect_python_version(
    root: Path, start: Path | None = None
) -> PythonVersion | None:
    """Find the lowest Python version that the project declares, nearest folder first.

    Each folder from `start` up to `root` is read in this order:
    `[project] requires-python` and Poetry's `python` dependency in
    pyproject.toml, `python_requires` in setup.cfg and setup.py, the
    Pipfile's `[requires]`, and ruff's `target-version`, which ruff itself
    derives from `requires-python`. A declaration that cannot be read is
    skipped. The source is relative to `root`.
    """
    readers: tuple[Callable[[Path], PythonVersion | None], ...] = (
        _from_pyproject,
        _from_setup_cfg,
        _from_setup_py,
        _from_pipfile,
        _from_ruff,
    )
    for folder in folders_up_to(root, start):
        for reader in readers:
            found = reader(folder)
            if found is not None:
                return _relative(found, folder, root)
    return None


def _relative(found: PythonVersion, folder: Path, root: Path) -> PythonVersion:
    if folder == root.resolve():
        return found
    prefix = folder.relative_to(root.resolve()).as_posix()
    return PythonVersion(found.minimum, f"{prefix}/{found.source}")


def _from_pyproject(folder: Path) -> PythonVersion | None:
    document = _load_toml(folder / "pyproject.toml")
    specs = [
        _table(document, "project").get("requires-python"),
        _table(document, "tool", "poetry", "dependencies").get("python"),
    ]
    for spec in specs:
        found = _declared(spec, "pyproject.toml")
        if found is not None:
            return found
    return None


def _from_setup_cfg(folder: Path) -> PythonVersion | None:
    parser = read_setup_cfg(folder / "setup.cfg", PYTHON_VERSION, logging.DEBUG)
    if parser is None or not parser.has_option("options", "python_requires"):
        return None
    return _declared(parser.get("options", "python_requires"), "setup.cfg")


def _from_setup_py(folder: Path) -> PythonVersion | None:
    """Read a string literal passed as `python_requires` to a `setup(...)` call.

    setup.py is parsed, never run. A value computed at run time (a
    variable, a call) cannot be read, so it declares nothing.
    """
    path = folder / "setup.py"
    if not path.is_file():
        return None
    try:
        tree = ast.parse(read_regular_file(path), filename=str(path))
    except (OSError, SyntaxError, ValueError, RecursionError):
        logger.debug("%s: not valid Python; the Python version is not read", path)
        return None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not _is_setup(node.func):
            continue
        for keyword in node.keywords:
            if keyword.arg == "python_requires" and isinstance(
                keyword.value, ast.Constant
            ):
                return _declared(keyword.value.value, "setup.py")
    return None


def _is_setup(func: ast.expr) -> bool:
    """Tell whether a call is `setup(...)` or `module.setup(...)`, such as `setuptools.setup`."""
    if isinstance(func, ast.Name):
        return func.id == "setup"
    return isinstance(func, ast.Attribute) and func.attr == "setup"


def _from_pipfile(folder: Path) -> PythonVersion | None:
    """Read `python_version = "3.8"` or `python_full_version` from the Pipfile's `[requires]`."""
    requires = _table(_load_toml(folder / "Pipfile"), "requires")
    for key in ("python_version", "python_full_version"):
        found = _declared(requires.get(key), "Pipfile")
        if found is not None:
            return found
    return None


def _from_ruff(folder: Path) -> PythonVersion | None:
    """Read ruff's `target-version` from the folder's ruff configuration, in ruff's order."""
    for name in RUFF_FILES:
        found = _ruff_target(_load_toml(folder / name), name)
        if found is not None:
            return found
    document = _load_toml(folder / "pyproject.toml")
    return _ruff_target(_table(document, "tool", "ruff"), "pyproject.toml")


def _ruff_target(settings: dict[str, Any], source: str) -> PythonVersion | None:
    target = settings.get("target-version")
    match = _RUFF_TARGET.fullmatch(target) if isinstance(target, str) else None
    if match is None:
        return None
    minimum = (int(match.group("major")), int(match.group("minor")))
    return PythonVersion(minimum, source)


def _declared(spec: Any, source: str) -> PythonVersion | None:
    if not isinstance(spec, str):
        return None
    minimum = minimum_from_specifier(spec)
    if minimum is None:
        logger.debug(
            "%s: Python version %r has no lower bound that cio-fix can read;"
            " it is ignored",
            source,
            spec,
        )
        return None
    return PythonVersion(minimum, source)


def _table(value: Any, *keys: str) -> dict[str, Any]:
    """Walk nested TOML tables, giving {} where a value is not a table."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def _load_toml(path: Path) -> dict[str, Any]:
    return read_toml(path, PYTHON_VERSION, logging.DEBUG)
