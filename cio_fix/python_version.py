"""The lowest Python version that the target project declares.

Fixes write code for that version, because `functools.cache` and
positional-only parameters need newer Pythons than some projects declare.
The files are read without running the project's code. This module does
not import libcst, because the cache imports it in runs that parse nothing.
"""

from __future__ import annotations

import ast
import configparser
import functools
import logging
import os
import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cio_fix.files import read_regular_file, read_setup_cfg, read_toml
from cio_fix.modules import folders_up_to
from cio_fix.specifiers import specifier_clauses
from cio_fix.style import ruff_extends, ruff_settings_chain

logger = logging.getLogger(__name__)
# The subject named in the log line of a declaration file that cannot be read.
PYTHON_VERSION = "the Python version"

# The files that declare the Python version, besides pyproject.toml,
# setup.cfg, setup.py and Pipfile, which declare the SDK version too.
RUFF_FILES = (".ruff.toml", "ruff.toml")
TOX_FILE = "tox.ini"
# pyenv's file, which uv and rye read too.
PYENV_FILE = ".python-version"
PYTHON_VERSION_FILES = (*RUFF_FILES, TOX_FILE, PYENV_FILE)

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
# The Python that fixed code needs when nothing is declared.
DEFAULT_TARGET = (3, 9)
# The oldest Python a fix is written for: a project that bounds the version
# only from above (`<3.8`) may run on any older one.
OLDEST = (2, 7)
# ruff's and black's `target-version`, and a tox environment: "py38", "py310".
_RUFF_TARGET = re.compile(r"py(?P<major>\d)(?P<minor>\d+)")
# A trove classifier that names a Python version with its minor version.
_CLASSIFIER = re.compile(
    r"Programming Language\s*::\s*Python\s*::\s*(?P<major>\d+)\.(?P<minor>\d+)\s*"
)
# A version that `.python-version` names: "3.8.18", "3.12", "pypy3.9-7.3.11",
# "cpython@3.8" or "cpython-3.8" (uv). "system" and conda names name none.
_PYENV_VERSION = re.compile(
    r"(?:pypy|cpython[-@])?(?P<major>\d+)\.(?P<minor>\d+)\b", re.IGNORECASE
)
# tox's brace expansion in an environment list: `py{37,38}-django{32,42}`.
_TOX_BRACES = re.compile(r"\{([^{}]*)\}")


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
    for clause in specifier_clauses(clauses):
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


@dataclass(frozen=True)
class InvalidSpecifier:
    """A Python version specifier that is not valid, and the file that declares it."""

    source: str
    specifier: str


@dataclass(frozen=True)
class DeclaredPython:
    """The lowest Python version that a project declares, and the invalid specifiers skipped."""

    version: PythonVersion | None
    # The specifiers read before `version` was found, so fixes are written
    # as if they were not there.
    invalid: tuple[InvalidSpecifier, ...] = ()


def detect_python_version(root: Path, start: Path | None = None) -> DeclaredPython:
    """Find the lowest Python version that the project declares, nearest folder first.

    Each folder from `start` up to `root` is read in this order:
    `[project] requires-python` and Poetry's `python` dependency in
    pyproject.toml, `python_requires` in setup.cfg and setup.py, the
    Pipfile's `[requires]`, ruff's `target-version`, which ruff itself
    derives from `requires-python`, and black's. Then come the sources
    that name the Pythons a project is tested or developed on rather than
    its requirement: the `Programming Language :: Python :: 3.N`
    classifiers of pyproject.toml, setup.cfg and setup.py, tox's
    `envlist`, and `.python-version`. A declaration that cannot be read is
    skipped, and an invalid specifier is returned with the version. The
    sources are relative to `root`.
    """
    readers: tuple[Callable[[_Folder], PythonVersion | None], ...] = (
        _from_pyproject,
        _from_setup_cfg,
        _from_setup_py,
        _from_pipfile,
        _from_ruff,
        _from_black,
        _from_classifiers,
        _from_tox,
        _from_pyenv,
    )
    invalid: list[InvalidSpecifier] = []
    for folder in folders_up_to(root, start):
        files = _Folder(folder)
        for reader in readers:
            found = reader(files)
            if found is not None:
                break
        for specifier in files.invalid:
            source = _relative(folder, root, specifier.source)
            invalid.append(InvalidSpecifier(source, specifier.specifier))
        if found is not None:
            version = PythonVersion(
                found.minimum, _relative(folder, root, found.source)
            )
            return DeclaredPython(version, tuple(invalid))
    return DeclaredPython(None, tuple(invalid))


class _Folder:
    """The declaration files of one folder, each read and parsed at most once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tomls: dict[str, dict[str, Any]] = {}
        self._inis: dict[str, configparser.ConfigParser | None] = {}
        # The invalid specifiers that the readers skipped, named from the folder.
        self.invalid: list[InvalidSpecifier] = []

    def toml(self, name: str) -> dict[str, Any]:
        if name not in self._tomls:
            self._tomls[name] = read_toml(
                self.path / name, PYTHON_VERSION, logging.DEBUG
            )
        return self._tomls[name]

    def ini(self, name: str) -> configparser.ConfigParser | None:
        """Return setup.cfg or tox.ini parsed, or None when it is missing or not valid."""
        if name not in self._inis:
            self._inis[name] = read_setup_cfg(
                self.path / name, PYTHON_VERSION, logging.DEBUG
            )
        return self._inis[name]

    def load(self, path: Path) -> dict[str, Any] | None:
        """Return the TOML document at `path`, in any folder, or None when it is missing or empty.

        A file that cannot be read or is not valid TOML counts as missing.
        """
        return read_toml(path, PYTHON_VERSION, logging.DEBUG) or None

    @functools.cached_property
    def setup_py(self) -> ast.Module | None:
        """Return setup.py parsed, never run, or None when it is missing or not valid."""
        path = self.path / "setup.py"
        if not path.is_file():
            return None
        try:
            return ast.parse(read_regular_file(path), filename=str(path))
        except (OSError, SyntaxError, ValueError, RecursionError):
            logger.debug("%s: not valid Python; the Python version is not read", path)
            return None


def _relative(folder: Path, root: Path, source: str) -> str:
    """Return `source`, a file named from `folder`, relative to `root`."""
    if folder == root.resolve():
        return source
    prefix = folder.relative_to(root.resolve()).as_posix()
    # A ruff configuration may extend a file of a folder above: "../ruff.toml".
    return posixpath.normpath(f"{prefix}/{source}")


def _from_pyproject(folder: _Folder) -> PythonVersion | None:
    document = folder.toml("pyproject.toml")
    specs = [
        _table(document, "project").get("requires-python"),
        _table(document, "tool", "poetry", "dependencies").get("python"),
    ]
    for spec in specs:
        found = _declared(spec, "pyproject.toml", folder)
        if found is not None:
            return found
    return None


def _from_setup_cfg(folder: _Folder) -> PythonVersion | None:
    parser = folder.ini("setup.cfg")
    if parser is None or not parser.has_option("options", "python_requires"):
        return None
    return _declared(parser.get("options", "python_requires"), "setup.cfg", folder)


def _from_setup_py(folder: _Folder) -> PythonVersion | None:
    """Read a string literal passed as `python_requires` to a `setup(...)` call.

    setup.py is parsed, never run. A value computed at run time (a
    variable, a call) cannot be read, so it declares nothing.
    """
    tree = folder.setup_py
    if tree is None:
        return None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not _is_setup(node.func):
            continue
        for keyword in node.keywords:
            if keyword.arg == "python_requires" and isinstance(
                keyword.value, ast.Constant
            ):
                return _declared(keyword.value.value, "setup.py", folder)
    return None


def _is_setup(func: ast.expr) -> bool:
    """Tell whether a call is `setup(...)` or `module.setup(...)`, such as `setuptools.setup`."""
    if isinstance(func, ast.Name):
        return func.id == "setup"
    return isinstance(func, ast.Attribute) and func.attr == "setup"


def _from_pipfile(folder: _Folder) -> PythonVersion | None:
    """Read `python_version = "3.8"` or `python_full_version` from the Pipfile's `[requires]`."""
    requires = _table(folder.toml("Pipfile"), "requires")
    for key in ("python_version", "python_full_version"):
        found = _declared(requires.get(key), "Pipfile", folder)
        if found is not None:
            return found
    return None


def _from_ruff(folder: _Folder) -> PythonVersion | None:
    """Read ruff's `target-version` from the folder's ruff configuration, in ruff's order.

    The version may come from a file that the configuration names in
    `extend`, such as a company's shared one, as ruff reads it. The source
    then names that file.
    """
    for path, settings in _ruff_configurations(folder):
        for chained_path, chained in ruff_settings_chain(path, settings, folder.load):
            target = chained.get("target-version")
            minimum = _target_version(target) if isinstance(target, str) else None
            if minimum is not None:
                source = Path(os.path.relpath(chained_path, folder.path)).as_posix()
                return PythonVersion(minimum, source)
    return None


def extended_ruff_files(folder: Path) -> list[Path]:
    """Return each file that a ruff configuration in `folder` extends, directly or not.

    A missing file is listed too, so that the cache key that hashes these
    files changes when it is created.
    """
    files = _Folder(folder)
    extended = []
    for path, settings in _ruff_configurations(files):
        for chained_path, chained in ruff_settings_chain(path, settings, files.load):
            target = ruff_extends(chained_path, chained)
            if target is not None:
                extended.append(target)
    return extended


def _ruff_configurations(folder: _Folder) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Yield the ruff settings of each ruff configuration file in the folder, in ruff's order."""
    for name in RUFF_FILES:
        yield folder.path / name, folder.toml(name)
    document = folder.toml("pyproject.toml")
    yield folder.path / "pyproject.toml", _table(document, "tool", "ruff")


def _target_version(name: str) -> tuple[int, int] | None:
    """Return the version of "py38" as ruff, black and tox write it, else None."""
    match = _RUFF_TARGET.fullmatch(name.strip())
    if match is None:
        return None
    return (int(match.group("major")), int(match.group("minor")))


def _from_black(folder: _Folder) -> PythonVersion | None:
    """Read the oldest of black's `target-version` list in pyproject.toml.

    black formats the code so that every listed version parses it, so the
    code must run on the oldest one.
    """
    document = folder.toml("pyproject.toml")
    targets = _table(document, "tool", "black").get("target-version")
    if not isinstance(targets, list):
        return None
    versions = [
        _target_version(target) for target in targets if isinstance(target, str)
    ]
    return _oldest(versions, "pyproject.toml")


def _from_classifiers(folder: _Folder) -> PythonVersion | None:
    """Read the oldest `Programming Language :: Python :: 3.N` classifier.

    pyproject.toml's `[project] classifiers`, setup.cfg's `[metadata]
    classifiers` and the string literals of setup.py's `classifiers=[...]`
    are read, in that order. A classifier without a minor version
    (`Python :: 3`) declares no oldest Python.
    """
    document = folder.toml("pyproject.toml")
    found = _oldest_classifier(
        _table(document, "project").get("classifiers"), "pyproject.toml"
    )
    if found is not None:
        return found
    parser = folder.ini("setup.cfg")
    if parser is not None and parser.has_option("metadata", "classifiers"):
        lines = parser.get("metadata", "classifiers").splitlines()
        found = _oldest_classifier(lines, "setup.cfg")
        if found is not None:
            return found
    return _oldest_classifier(_setup_py_classifiers(folder), "setup.py")


def _oldest_classifier(classifiers: Any, source: str) -> PythonVersion | None:
    if not isinstance(classifiers, list):
        return None
    versions = []
    for classifier in classifiers:
        match = (
            _CLASSIFIER.fullmatch(classifier) if isinstance(classifier, str) else None
        )
        if match is not None:
            versions.append((int(match.group("major")), int(match.group("minor"))))
    return _oldest(versions, source)


def _setup_py_classifiers(folder: _Folder) -> list[str]:
    """Return the string literals of the `classifiers` list of setup.py's `setup(...)` call."""
    tree = folder.setup_py
    if tree is None:
        return []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not _is_setup(node.func):
            continue
        for keyword in node.keywords:
            if keyword.arg == "classifiers" and isinstance(
                keyword.value, (ast.List, ast.Tuple)
            ):
                return [
                    element.value
                    for element in keyword.value.elts
                    if isinstance(element, ast.Constant)
                    and isinstance(element.value, str)
                ]
    return []


def _from_tox(folder: _Folder) -> PythonVersion | None:
    """Read the oldest `pyXY` environment of the `envlist` in tox.ini's `[tox]`.

    tox names an environment's Python by its `py37` factor, in
    `py37-django32` too. Braces expand as tox expands them, so
    `py{37,38}` names 3.7 and 3.8.
    """
    parser = folder.ini(TOX_FILE)
    if parser is None:
        return None
    for option in ("env_list", "envlist"):
        if parser.has_option("tox", option):
            environments = _tox_environments(parser.get("tox", option))
            break
    else:
        return None
    versions = []
    for environment in environments:
        for factor in environment.split("-"):
            versions.append(_target_version(factor))
    return _oldest(versions, TOX_FILE)


def _tox_environments(envlist: str) -> list[str]:
    """Split an environment list at commas and line breaks, expanding braces."""
    environments = []
    pending = [
        name.strip() for name in re.split(r"[,\n](?![^{]*\})", envlist) if name.strip()
    ]
    while pending:
        name = pending.pop()
        braces = _TOX_BRACES.search(name)
        if braces is None:
            environments.append(name)
            continue
        for choice in braces.group(1).split(","):
            pending.append(
                name[: braces.start()] + choice.strip() + name[braces.end() :]
            )
    return environments


def _from_pyenv(folder: _Folder) -> PythonVersion | None:
    """Read the oldest version that `.python-version` names, one a line.

    pyenv runs the first one and puts the others on the PATH too (for tox,
    say), so the code may run on each. A line that starts with `#` is skipped.
    """
    path = folder.path / PYENV_FILE
    if not path.is_file():
        return None
    try:
        text = read_regular_file(path).decode("utf-8", "replace")
    except OSError as error:
        logger.debug("%s: cannot read: %s; the Python version is not read", path, error)
        return None
    versions = []
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue
        for word in line.split():
            match = _PYENV_VERSION.match(word)
            if match is not None:
                versions.append((int(match.group("major")), int(match.group("minor"))))
    return _oldest(versions, PYENV_FILE)


def _oldest(
    versions: list[tuple[int, int] | None], source: str
) -> PythonVersion | None:
    known = [version for version in versions if version is not None]
    return PythonVersion(min(known), source) if known else None


def _declared(spec: Any, source: str, folder: _Folder) -> PythonVersion | None:
    if not isinstance(spec, str):
        return None
    minimum = minimum_from_specifier(spec)
    if minimum is not None:
        return PythonVersion(minimum, source)
    if _is_readable(spec):
        logger.debug("%s: Python version %r has no lower bound", source, spec)
    else:
        folder.invalid.append(InvalidSpecifier(source, spec))
    return None


def _is_readable(spec: str) -> bool:
    """Tell whether every clause of a specifier is one that cio-fix reads, as `*` and `<4` are."""
    if spec.strip() == "*":
        return True
    for alternative in re.split(r"\|\|?", spec):
        for clause in specifier_clauses(alternative):
            if _CLAUSE.fullmatch(clause) is None:
                return False
    return True


def _table(value: Any, *keys: str) -> dict[str, Any]:
    """Walk nested TOML tables, giving {} where a value is not a table."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}
