"""Count the Python files that a run left out, by the reason, to explain a run that checked none."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from cio_fix.config import DEFAULT_EXCLUDES, Config, project_config
from cio_fix.discovery import (
    PYTHON_SUFFIXES,
    is_environment_folder,
    is_excluded,
    list_folder_files,
    other_project_root,
)
from cio_fix.files import is_folder, resolve_or_absolute


@dataclass
class LeftOut:
    """The Python files under some folders that a run left out, by the reason."""

    # Matched by an `exclude` or `extend-exclude` that a configuration sets,
    # by the path of that configuration file.
    excluded: Counter[Path] = field(default_factory=Counter)
    # Matched by the built-in `exclude` list (.venv, build, ...), which a
    # configuration without `exclude` keeps.
    excluded_by_default: int = 0
    # Inside a nested git repository or a submodule, whose files git does
    # not list in the enclosing work tree.
    in_nested_repository: int = 0
    # In a virtual environment or a `site-packages` or `dist-packages` folder.
    in_environment: int = 0
    # Ignored by git, or outside git by a `.gitignore` file.
    ignored: int = 0
    # Symbolic links to a file outside the folder that the run walked.
    links_out: int = 0
    # Broken symbolic links, and special files such as a FIFO.
    not_regular: int = 0
    # None of the above, which no known case reaches.
    unexplained: int = 0
    # The folders that could not be listed, with the reason: the Python
    # files in them, if any, are not counted.
    unlisted: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def files(self) -> int:
        """Return the number of files counted, whatever the reason."""
        return (
            sum(self.excluded.values())
            + self.excluded_by_default
            + self.in_nested_repository
            + self.in_environment
            + self.ignored
            + self.links_out
            + self.not_regular
            + self.unexplained
        )


@dataclass(frozen=True)
class _Excludes:
    """The exclude settings of one project, split by who set the patterns."""

    resolved_root: Path
    config_path: Path | None
    # Every pattern, as discovery matches them.
    every: pathspec.PathSpec
    # The patterns that the configuration sets: `extend-exclude`, and
    # `exclude` unless it is the built-in list.
    configured: pathspec.PathSpec

    @classmethod
    def of(cls, config: Config) -> _Excludes:
        configured = list(config.extend_exclude)
        if config.exclude != DEFAULT_EXCLUDES:
            configured += config.exclude
        return cls(
            resolved_root=config.root.resolve(),
            config_path=config.config_path,
            every=pathspec.GitIgnoreSpec.from_lines(
                [*config.exclude, *config.extend_exclude]
            ),
            configured=pathspec.GitIgnoreSpec.from_lines(configured),
        )

    def count(self, file: Path, resolved: Path, folder: Path, counts: LeftOut) -> bool:
        """Count `file` in `counts` if these settings exclude it, and return whether they do."""
        if not is_excluded(file, resolved, folder, self.resolved_root, self.every):
            return False
        configured = is_excluded(
            file, resolved, folder, self.resolved_root, self.configured
        )
        if configured and self.config_path is not None:
            counts.excluded[self.config_path] += 1
        else:
            counts.excluded_by_default += 1
        return True


class _NestedProjects:
    """The exclude settings of the projects that files of the run belong to, each read once.

    As in `cio_fix.engine.split_projects`, a file below a folder with its
    own `[tool.cio-fix]` table, or outside the root, is discovered again
    with the settings of its project, and a project nested in that one
    with its own.
    """

    def __init__(self, config: Config) -> None:
        self._config = config
        self._owners: dict[Path, dict[Path, Path | None]] = {}
        self._projects: dict[Path, tuple[Config, _Excludes]] = {}

    def count(self, file: Path, resolved: Path, counts: LeftOut) -> bool:
        """Count `file` if the settings of its project leave it out, and return whether they do."""
        config = self._config
        folder = resolve_or_absolute(file.parent)
        while True:
            root = config.root.resolve()
            owners = self._owners.setdefault(root, {})
            owner = other_project_root(folder, root, owners)
            if owner is None:
                return False
            config, excludes = self._project(config, owner)
            # Discovery walks the project's root as a folder of its own, so
            # a link that leads out of it is left out.
            if not resolved.is_relative_to(owner):
                counts.links_out += 1
                return True
            if excludes.count(file, resolved, owner, counts):
                return True

    def _project(self, enclosing: Config, root: Path) -> tuple[Config, _Excludes]:
        if root not in self._projects:
            # The run read this configuration already, so it is valid.
            config = project_config(enclosing, root)
            self._projects[root] = (config, _Excludes.of(config))
        return self._projects[root]


def count_left_out(paths: list[Path], config: Config) -> LeftOut:
    """Count the Python files under the folders of `paths`, by why a run left them out.

    This is for a run that found no file to check. The count lists each
    folder as the run does and then walks all of it, `.git` aside, which
    an ordinary run does not, so call it only then.
    """
    counts = LeftOut()
    excludes = _Excludes.of(config)
    nested_projects = _NestedProjects(config)
    for path in paths:
        if is_folder(path):
            _count_folder(path, config, excludes, nested_projects, counts)
    return counts


def _count_folder(
    folder: Path,
    config: Config,
    excludes: _Excludes,
    nested_projects: _NestedProjects,
    counts: LeftOut,
) -> None:
    """Count the Python files under `folder` that a run over it left out."""
    # The files that the run listed. The run reported the problems of the
    # listing already.
    listing = list_folder_files(folder, config.root, [], [])
    in_git = listing.from_git
    listed_files = set(listing.files)
    boundary = resolve_or_absolute(folder)

    def report(error: OSError) -> None:
        counts.unlisted.append((Path(error.filename), error.strerror or str(error)))

    # The folders of the walk that belong to a nested git repository, and
    # those in a virtual environment or a packages folder.
    nested_repository_folders: set[Path] = set()
    environment_folders: set[Path] = set()
    for current, dirnames, filenames in os.walk(folder, onerror=report):
        current_path = Path(current)
        # A folder with a `.git` of its own, below the top of the walk, is a
        # nested repository or a submodule, whose files git does not list.
        has_git = ".git" in dirnames or ".git" in filenames
        if current_path.parent in nested_repository_folders or (
            in_git and has_git and current != os.fspath(folder)
        ):
            nested_repository_folders.add(current_path)
        if current != os.fspath(folder) and (
            current_path.parent in environment_folders or is_environment_folder(current)
        ):
            environment_folders.add(current_path)
        dirnames[:] = [name for name in dirnames if name != ".git"]

        for name in filenames:
            if Path(name).suffix not in PYTHON_SUFFIXES:
                continue
            file = current_path / name
            resolved = resolve_or_absolute(file)
            if excludes.count(file, resolved, folder, counts):
                continue
            if file not in listed_files:
                if current_path in nested_repository_folders:
                    counts.in_nested_repository += 1
                elif current_path in environment_folders:
                    counts.in_environment += 1
                else:
                    counts.ignored += 1
            elif not resolved.is_relative_to(boundary):
                counts.links_out += 1
            elif not file.is_file():
                counts.not_regular += 1
            elif not nested_projects.count(file, resolved, counts):
                counts.unexplained += 1
