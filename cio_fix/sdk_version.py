"""The customerio version that a project declares, read without libcst.

The run reads it in every run, cached or not, to warn about declaration
files that cannot be read, so this module imports no libcst.
"""

from __future__ import annotations

import ast
import functools
import json
import logging
import os
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cio_fix.files import read_regular_file, read_setup_cfg, read_toml
from cio_fix.modules import folders_up_to
from cio_fix.requirements import requirement_lines, requirements_files
from cio_fix.specifiers import SDK_MAJORS, majors_from_specifier

logger = logging.getLogger(__name__)
# The subject named in the log line of a declaration file that cannot be read.
SDK_VERSION = "the SDK version"
# Receives the warning about a declaration file that cannot be read.
Warn = Callable[[str], None]


@dataclass(frozen=True)
class SdkVersion:
    """The customerio major versions that a file allows, and that file."""

    majors: frozenset[int]
    source: str

    @property
    def label(self) -> str:
        """Return the majors as a message names them: "2.x", "1.x or 2.x"."""
        names = [f"{major}.x" for major in sorted(self.majors)]
        if len(names) == 1:
            return names[0]
        return ", ".join(names[:-1]) + " or " + names[-1]


@dataclass(frozen=True)
class SdkConflict:
    """Requirements files of one folder that pin different customerio major versions.

    The code may run under each of them (a CI job that tries the upgrade,
    hosts that stay on the old version), so it may run with any major that
    one of them allows.
    """

    # The first pin of each set of majors, in the order the files are read.
    pins: tuple[SdkVersion, ...]

    @property
    def majors(self) -> frozenset[int]:
        return frozenset().union(*(pin.majors for pin in self.pins))


_REQUIREMENT = re.compile(
    r"""^\s*customerio\s*(?:\[[^\]]*\])?\s*\(?\s*(?P<spec>[<>=!~^][^;#)]*)?""",
    re.IGNORECASE | re.VERBOSE,
)
# A whole PEP 508 requirement string on customerio, without a URL:
# `customerio>=2.0,<3`, `customerio[extra] (==3.1); python_version >= "3.8"`.
_VERSION_CLAUSE = r"(?:===|==|~=|!=|>=|<=|>|<)\s*[\w.*+!-]+"
_VERSION_SPEC = rf"{_VERSION_CLAUSE}(?:\s*,\s*{_VERSION_CLAUSE})*"
_REQUIREMENT_STRING = re.compile(
    rf"\s*customerio\s*(?:\[[^\]]*\])?\s*"
    rf"(?:\(\s*{_VERSION_SPEC}\s*\)|{_VERSION_SPEC})?\s*(?:;.*)?",
    re.IGNORECASE | re.DOTALL,
)
# Pipfile tables that hold no packages.
_PIPFILE_SETTINGS = frozenset({"source", "requires", "scripts", "pipenv"})


def declared_majors(spec: str) -> frozenset[int] | None:
    """Return the customerio majors a specifier allows, when it rules one out.

    A specifier that allows every released major (`>=1.2`, `*`) declares
    nothing, so the search goes on to the next file.
    """
    majors = majors_from_specifier(spec)
    if majors is None or majors == SDK_MAJORS:
        return None
    return majors


def detect_sdk_version(
    root: Path, start: Path | None = None, warn: Warn | None = None
) -> SdkVersion | SdkConflict | None:
    """Find the customerio version the project declares, lock files first.

    The folders from `start` (the folder of the checked files) up to
    `root` are searched nearest first, so a service in a subfolder of a
    repository is read from its own requirements. A range that allows
    every released major is returned only when no file declares less. A
    `source` below `root` is given relative to it. A conflict between the
    requirements files of the nearest declaring folder ends the search
    too. A declaration file that cannot be read is reported to `warn`, by
    default the warning log.
    """
    if warn is None:
        warn = _log_warning
    # The nearest range that allows every released major (`>=1.6,<4`). It
    # declares no version, so the search goes on, but when it finds none
    # the messages can name the range.
    open_range: SdkVersion | None = None
    for folder in folders_up_to(root, start):
        for reader in (
            _from_lock_files,
            functools.partial(_from_requirements, root=root),
            _from_pyproject,
            _from_setup,
        ):
            found = reader(folder, warn)
            if found is None:
                continue
            found = _relative_source(found, folder, root)
            if isinstance(found, SdkConflict) or found.majors != SDK_MAJORS:
                return found
            if open_range is None:
                open_range = found
    return open_range


def sdk_declaration_warnings(root: Path, start: Path | None) -> list[str]:
    """Return the warnings about unreadable declaration files that the search from `start` gives."""
    warnings: list[str] = []
    detect_sdk_version(root, start, warnings.append)
    return warnings


def _log_warning(message: str) -> None:
    logger.warning("%s", message)


def _relative_source(
    found: SdkVersion | SdkConflict, folder: Path, root: Path
) -> SdkVersion | SdkConflict:
    if isinstance(found, SdkConflict):
        return SdkConflict(
            tuple(_relative_pin(pin, folder, root) for pin in found.pins)
        )
    return _relative_pin(found, folder, root)


def _relative_pin(found: SdkVersion, folder: Path, root: Path) -> SdkVersion:
    """Give the source relative to `root`, also for an included file beside `folder`."""
    if folder == root.resolve():
        return found
    prefix = folder.relative_to(root.resolve()).as_posix()
    return SdkVersion(found.majors, posixpath.normpath(f"{prefix}/{found.source}"))


def _table(value: Any, *keys: str) -> dict[str, Any]:
    """Walk nested TOML or JSON tables, giving {} where a value is not a table."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def _array(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _from_lock_files(root: Path, warn: Warn) -> SdkVersion | None:
    for name in ("poetry.lock", "uv.lock", "pdm.lock"):
        document = _load_toml(root / name, warn)
        for package in _array(document.get("package")):
            if isinstance(package, dict) and _is_sdk(str(package.get("name", ""))):
                majors = declared_majors(str(package.get("version", "")))
                if majors is not None:
                    return SdkVersion(majors, name)
    path = root / "Pipfile.lock"
    if path.is_file():
        try:
            document = json.loads(read_regular_file(path).decode("utf-8"))
        except (OSError, ValueError):
            warn(f"{path}: not valid JSON; {SDK_VERSION} is not read from it")
            return None
        for section in ("default", "develop"):
            entry = _table(document, section).get("customerio")
            if isinstance(entry, dict):
                majors = declared_majors(str(entry.get("version", "")))
                if majors is not None:
                    return SdkVersion(majors, "Pipfile.lock")
    return None


def _from_requirements(
    folder: Path, warn: Warn, root: Path
) -> SdkVersion | SdkConflict | None:
    """Read the customerio pins of the folder's requirements files and their includes.

    The first pin names the source, so requirements.txt comes before a side
    file that includes it. Pins of different major versions, in one file or
    several, give a conflict. A range that allows every released major
    conflicts with none of them, and is returned only when there is no pin.
    """
    pins: dict[frozenset[int], SdkVersion] = {}
    seen: set[Path] = set()
    for path in requirements_files(folder):
        for source, line in requirement_lines(path, root, seen):
            majors = _requirement_majors(line)
            if majors is not None and majors not in pins:
                relative = os.path.relpath(source, folder)
                pins[majors] = SdkVersion(majors, Path(relative).as_posix())
    open_range = pins.pop(SDK_MAJORS, None)
    if not pins:
        return open_range
    if len(pins) == 1:
        return next(iter(pins.values()))
    return SdkConflict(tuple(pins.values()))


def _from_pyproject(root: Path, warn: Warn) -> SdkVersion | None:
    """Read the first customerio requirement of pyproject.toml's dependency lists.

    They are `[project] dependencies` and `optional-dependencies`, the
    groups of `[dependency-groups]` (PEP 735), uv's `[tool.uv]
    dev-dependencies`, then Poetry's dependencies and groups. Every group
    is read, so a group's `{include-group = "name"}` entries are skipped:
    the group they name is read on its own.
    """
    document = _load_toml(root / "pyproject.toml", warn)
    project = _table(document, "project")
    requirements = list(_array(project.get("dependencies")))
    for extra in _table(project, "optional-dependencies").values():
        requirements.extend(_array(extra))
    for group in _table(document, "dependency-groups").values():
        requirements.extend(_array(group))
    requirements.extend(_array(_table(document, "tool", "uv").get("dev-dependencies")))
    found = [
        _requirement_majors(requirement)
        for requirement in requirements
        if isinstance(requirement, str)
    ]

    poetry = _table(document, "tool", "poetry")
    groups = [_table(poetry, "dependencies")]
    for group in _table(poetry, "group").values():
        groups.append(_table(group, "dependencies"))
    found.extend(_package_table_majors(dependencies) for dependencies in groups)
    return _version(_first_declared(found), "pyproject.toml")


def _from_setup(root: Path, warn: Warn) -> SdkVersion | None:
    open_range = None
    for reader in (_from_setup_cfg, _from_setup_py, _from_pipfile):
        found = reader(root, warn)
        if found is None:
            continue
        if found.majors != SDK_MAJORS:
            return found
        if open_range is None:
            open_range = found
    return open_range


def _from_setup_cfg(root: Path, warn: Warn) -> SdkVersion | None:
    """Read `install_requires` and `extras_require` of setup.cfg, one requirement a line."""
    parser = read_setup_cfg(root / "setup.cfg", SDK_VERSION, warn=warn)
    if parser is None:
        return None
    values = []
    if parser.has_option("options", "install_requires"):
        values.append(parser.get("options", "install_requires"))
    if parser.has_section("options.extras_require"):
        values.extend(value for _, value in parser.items("options.extras_require"))
    found = []
    for value in values:
        for line in value.splitlines():
            if not line.strip().startswith("#"):
                found.append(_requirement_majors(line))
    return _version(_first_declared(found), "setup.cfg")


def _from_setup_py(root: Path, warn: Warn) -> SdkVersion | None:
    """Read the first string literal of setup.py that is a customerio requirement.

    Comments, docstrings and other prose that mention customerio are not
    requirement strings, so `# customerio 3 moved ...` does not count.
    """
    path = root / "setup.py"
    if not path.is_file():
        return None
    try:
        tree = ast.parse(read_regular_file(path), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        warn(f"{path}: not valid Python; {SDK_VERSION} is not read from it")
        return None
    strings = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    strings.sort(key=lambda node: (node.lineno, node.col_offset))
    found = [
        _requirement_majors(node.value)
        for node in strings
        if _REQUIREMENT_STRING.fullmatch(node.value) is not None
    ]
    return _version(_first_declared(found), "setup.py")


def _from_pipfile(root: Path, warn: Warn) -> SdkVersion | None:
    """Read `customerio = "==3.1"` or `{version = ...}` from the Pipfile's package tables."""
    document = _load_toml(root / "Pipfile", warn)
    found = [
        _package_table_majors(packages)
        for table, packages in document.items()
        if table not in _PIPFILE_SETTINGS and isinstance(packages, dict)
    ]
    return _version(_first_declared(found), "Pipfile")


def _package_table_majors(packages: dict[str, Any]) -> frozenset[int] | None:
    """Return the majors that the customerio entry of a Poetry or Pipfile table allows.

    Both write an entry as a specifier (`"^3.1"`) or as a table with a
    `version` key.
    """
    found = []
    for name, spec in packages.items():
        if not _is_sdk(name):
            continue
        if isinstance(spec, dict):
            spec = spec.get("version", "")
        found.append(majors_from_specifier(str(spec)))
    return _first_declared(found)


def _first_declared(found: list[frozenset[int] | None]) -> frozenset[int] | None:
    """Return the first majors of `found` that rule a major out.

    A range that allows every released major declares no version, so it is
    returned only when no other entry rules a major out.
    """
    allowed = [majors for majors in found if majors is not None]
    for majors in allowed:
        if majors != SDK_MAJORS:
            return majors
    return SDK_MAJORS if allowed else None


def _version(majors: frozenset[int] | None, source: str) -> SdkVersion | None:
    return SdkVersion(majors, source) if majors is not None else None


def _requirement_majors(line: str) -> frozenset[int] | None:
    """Return the majors that a customerio requirement line allows, or None for another line."""
    match = _REQUIREMENT.match(line)
    if match is None or not match.group("spec"):
        return None
    return majors_from_specifier(match.group("spec"))


def _is_sdk(name: str) -> bool:
    return re.sub(r"[-_.]+", "-", name).lower() == "customerio"


def _load_toml(path: Path, warn: Warn) -> dict[str, Any]:
    return read_toml(path, SDK_VERSION, warn=warn)
