"""Module names of project files, without importing libcst."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from cio_fix.files import is_regular_file

# The top-level packages of the Customer.io SDKs.
CLIENT_PACKAGES = ("customerio", "async_customerio")

# Files that make their folder an import root: packaging metadata, and a
# Django `manage.py`, because Python puts the script's folder on `sys.path`.
IMPORT_ROOT_FILES = ("pyproject.toml", "setup.py", "setup.cfg", "manage.py")

# `from django.conf import settings` reads the project's settings module.
DJANGO_SETTINGS = "django.conf.settings"
# Name lookups follow at most this many re-exports from module to module.
MAX_ALIASES = 8


def module_name_for(path: Path, root: Path) -> tuple[str, bool]:
    """Return the dotted module name of `path` below `root`, and whether it is a package."""
    try:
        relative = path.resolve().relative_to(root.resolve())
    except ValueError:
        relative = Path(path.name)
    parts = list(relative.with_suffix("").parts)
    is_package = bool(parts) and parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def shadowed_sdk_packages(folder: Path) -> frozenset[str]:
    """Return the SDK packages that a module of the import root `folder` hides.

    A `customerio.py` or `customerio/__init__.py` in the import root comes
    first on `sys.path` when the code runs from there (`python
    manage.py`), and one in its `src/` is a top-level module of the
    distribution's own package. Either way `import customerio` in that code
    means that module. A package with a `track.py` is a copy of the SDK,
    which defines its Track API client there, and hides nothing.
    """
    shadowed = set()
    for candidate in (folder, folder / "src"):
        for package in CLIENT_PACKAGES:
            module = candidate / f"{package}.py"
            init = candidate / package / "__init__.py"
            is_sdk_copy = is_regular_file(candidate / package / "track.py")
            if is_regular_file(module) or (is_regular_file(init) and not is_sdk_copy):
                shadowed.add(package)
    return frozenset(shadowed)


class SdkShadowing:
    """The SDK packages that the project's own modules hide, by the importing file.

    The code of a file runs with its import root on `sys.path`: the
    nearest folder at or above the file, up to the project root, that
    contains packaging metadata or a Django `manage.py`
    (`IMPORT_ROOT_FILES`), else the project root.
    A service of a monorepo with its own pyproject.toml is a distribution
    of its own, so a `customerio.py` at the top of the repository does not
    hide the SDK from it. An instance remembers the import root of every
    folder it has searched, so each folder is examined once.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._import_roots: dict[Path, Path] = {}
        self._hidden: dict[Path, frozenset[str]] = {}

    def packages_for(self, path: Path) -> frozenset[str]:
        """Return the SDK packages hidden from the imports of the file at `path`."""
        top = self.import_root(path.absolute().parent)
        hidden = self._hidden.get(top)
        if hidden is None:
            hidden = shadowed_sdk_packages(top)
            self._hidden[top] = hidden
        return hidden

    def import_root(self, folder: Path) -> Path:
        """Return the import root of the code in `folder`, as the class defines it."""
        known = self._import_roots.get(folder)
        if known is not None:
            return known
        searched = []
        found = self.root
        for candidate in folders_up_to(self.root, folder):
            if candidate in self._import_roots:
                found = self._import_roots[candidate]
                break
            searched.append(candidate)
            if any(is_regular_file(candidate / name) for name in IMPORT_ROOT_FILES):
                found = candidate
                break
        for candidate in (folder, *searched):
            self._import_roots[candidate] = found
        return found


def modules_by_name(files: list[Path], root: Path) -> dict[str, list[Path]]:
    """Index files by every dotted suffix of their module name (`app.settings`, `settings`)."""
    modules: dict[str, list[Path]] = {}
    for path in files:
        name, _ = module_name_for(path, root)
        parts = name.split(".")
        for start in range(len(parts)):
            modules.setdefault(".".join(parts[start:]), []).append(path)
    return modules


def sdk_search_start(files: Iterable[Path]) -> Path | None:
    """Return the common folder of `files`, where the search for the SDK version starts."""
    folders = [str(path.resolve().parent) for path in files]
    return Path(os.path.commonpath(folders)) if folders else None


def folders_up_to(root: Path, start: Path | None) -> list[Path]:
    """Return `start` and its parents up to `root`, or only `root` when `start` is outside it."""
    root = root.resolve()
    if start is None:
        return [root]
    start = start.resolve()
    if start != root and root not in start.parents:
        return [root]
    folders = [start]
    while folders[-1] != root:
        folders.append(folders[-1].parent)
    return folders


def modules_defining(names: Iterable[str]) -> set[str]:
    """Return the modules that may define the given qualified names."""
    modules = set()
    for qualified in names:
        if qualified.startswith(DJANGO_SETTINGS + "."):
            modules.add("settings")
        module, _, _ = qualified.rpartition(".")
        if module:
            modules.add(module)
        owner, _, last = module.rpartition(".")
        if owner and last[:1].isupper():
            # `conf.CioConfig.site_id`: a field of a class of `conf`.
            modules.add(owner)
    return modules


def reexported_names(names: set[str], exports: dict[str, str]) -> set[str]:
    """Return `names` as the modules that define them spell them, through re-exports.

    `exports` maps what a module re-exports (`app.Event`) to what it imports
    (`app.events.Event`), so `app.Event.SHIPPED` gives
    `app.events.Event.SHIPPED`. The names given are not returned.
    """
    found: set[str] = set()
    pending = set(names)
    for _ in range(MAX_ALIASES):
        translated = set()
        for name in pending:
            parts = name.split(".")
            # The longest prefix first, because it names the innermost module.
            for end in range(len(parts), 1, -1):
                target = exports.get(".".join(parts[:end]))
                if target is not None:
                    translated.add(".".join([target, *parts[end:]]))
                    break
        pending = translated - found - names
        if not pending:
            break
        found |= pending
    return found


# Test modules as pytest collects them by default (its `python_files` is
# `test_*.py *_test.py`), and its `conftest.py`.
TEST_MODULE = re.compile(r"test_.*|.*_test|conftest", re.IGNORECASE)
# Modules named `tests` or `test`: Django's `startapp` writes a `tests.py`,
# and Django projects often keep the settings of their test run in
# `settings/test.py`. Other modules named like tests (`ab_tests.py`,
# `testing.py`) are application code, as pytest does not collect them.
TEST_MODULE_NAME = re.compile(r"tests?", re.IGNORECASE)
# Folders of test code: tests, test, testing, and names such as
# tests_integration, test_support or integration_tests. A helper in such a
# folder contains fakes for the tests beside it, so its keys are not taken
# for a workspace's. `ab_test/` is not one of them. A folder that application
# code imports from is application code all the same (see
# `FileContext.in_test_code`).
TEST_FOLDER = re.compile(r"tests?|testing|tests?[-_].+|.+[-_]tests", re.IGNORECASE)


def is_test_file(path: Path) -> bool:
    """Tell test code from application code by the names of the file and its folders.

    The rules take test code to send its Customer.io calls to a local
    server with fake keys, so its keys, event names and attribute values
    are not those of a workspace. `path` is relative to the project root,
    because a folder above the project (`/home/me/tests/shop/`) does not
    make its files tests. `FileContext.in_test_code` also counts a test
    module that application code imports from as application code,
    because it runs in production.
    """
    if TEST_MODULE.fullmatch(path.stem) or TEST_MODULE_NAME.fullmatch(path.stem):
        return True
    return any(TEST_FOLDER.fullmatch(part) for part in path.parts[:-1])


def path_in_project(path: Path, display_path: str, root: Path) -> Path:
    """Return a file's path relative to the project root, or as displayed when outside it."""
    try:
        return path.absolute().relative_to(root.absolute())
    except ValueError:
        pass
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return Path(display_path)
