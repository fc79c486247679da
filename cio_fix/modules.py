"""Module names of project files, without importing libcst."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


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
