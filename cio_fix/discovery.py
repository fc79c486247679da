"""Turn the command-line paths into the Python files to check."""

from __future__ import annotations

import logging
import os
import re
import stat
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from cio_fix.config import Config, configures_cio_fix, project_root
from cio_fix.files import (
    is_regular_file,
    read_regular_text,
    resolve_failure,
    resolve_or_absolute,
)
from cio_fix.model import FileError

logger = logging.getLogger(__name__)

# Words that a file with a Customer.io finding must contain. `customerio`
# also matches `async_customerio`, `CustomerIO` and `CUSTOMERIO_API_KEY`;
# the `cio_` names are the short credential spellings (`CIO_SITE_ID`, and
# `SHOP_CIO_SITE_ID` with a prefix).
PREFILTER_PATTERN = rb"customer_?io|(?:\b|_)cio_\w*(?:key|site|secret|token)"
# Text that every match of PREFILTER_PATTERN contains, in lower case.
PREFILTER_NEEDLES = (b"customer", b"cio_")


class Prefilter:
    """A byte pattern, tried only on files that contain one of its needles.

    On a copy of the standard library, a regular expression that ignores
    case took about ten times as long as a search for a few fixed strings
    in each file's lower-case copy, and most files contain none of them.
    """

    def __init__(
        self,
        pattern: re.Pattern[bytes],
        needles: Iterable[bytes] | None,
        ignore_case: bool,
    ) -> None:
        self.pattern = pattern
        # None: the pattern is tried on every file.
        self.needles = None if needles is None else _fewest_needles(needles)
        self.ignore_case = ignore_case

    def search(self, raw: bytes) -> bool:
        """Tell whether the pattern occurs in `raw`."""
        if self.needles is not None:
            text = raw.lower() if self.ignore_case else raw
            if not any(needle in text for needle in self.needles):
                return False
        return self.pattern.search(raw) is not None


def _fewest_needles(needles: Iterable[bytes]) -> tuple[bytes, ...]:
    """Leave out each needle that contains another, which finds every file it would.

    `bounce` finds the files that `bounced` and `bounces` find, so one
    search of each file does the work of three.
    """
    shortest: list[bytes] = []
    for needle in sorted(set(needles), key=len):
        if not any(shorter in needle for shorter in shortest):
            shortest.append(needle)
    return tuple(shortest)


@dataclass
class Discovered:
    files: list[Path] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    # The files that belong to another project, by its root: a folder below
    # the root with a `[tool.cio-fix]` table of its own, or the project of
    # a PATH outside the root.
    projects: dict[Path, list[Path]] = field(default_factory=dict)
    # Files named on the command line that are not Python, which are not
    # checked, and how many named files --force-exclude left out.
    not_python: list[Path] = field(default_factory=list)
    left_out: int = 0


def build_prefilter(
    extra_words: Iterable[str] = (),
    customer_io: bool = True,
    name_parts: bool = False,
) -> Prefilter:
    """Compile the byte pattern that lets a file through to the parser.

    It matches the Customer.io words (unless `customer_io` is False) and
    each of `extra_words`, ignoring case. With `name_parts`, a word matches
    also between underscores, as a part of a snake_case name (`on_bounce`).
    """
    alternatives = [PREFILTER_PATTERN] if customer_io else []
    needles = list(PREFILTER_NEEDLES) if customer_io else []
    # `[^\W_]` is a letter or digit, so an underscore ends the word.
    start, end = (rb"(?<![^\W_])", rb"(?![^\W_])") if name_parts else (rb"\b", rb"\b")
    for word in sorted(set(extra_words)):
        # Words come from file names too, which may hold undecodable bytes.
        encoded = word.encode("utf-8", "surrogateescape")
        alternatives.append(start + re.escape(encoded) + end)
        needles.append(encoded.lower())
    return Prefilter(re.compile(b"|".join(alternatives), re.IGNORECASE), needles, True)


def build_import_prefilter(modules: Iterable[str]) -> Prefilter:
    """Compile the byte pattern of a file that imports one of `modules` (last name parts).

    It matches an import statement that names the module, also on a later
    line of a parenthesised `from ... import (...)`, so that a file that only
    mentions a common word such as `settings` in its text does not match.
    It also matches a test's patch of one of the module's names, which
    needs no import: `mock.patch("app.compat.Tracker")`,
    `monkeypatch.setattr("compat.Tracker", ...)` or
    `mock.patch.multiple("app.compat", Tracker=...)`.
    """
    alternatives = []
    needles = []
    for module in sorted(set(modules)):
        encoded = module.encode("utf-8", "surrogateescape")
        needles.append(encoded)
        alternatives.append(
            rb"\b(?:from|import)\b[^\n(#]*(?:\([^)]*)?\b" + re.escape(encoded) + rb"\b"
        )
    if needles:
        # One branch for all modules, so that each form of patch adds one
        # branch to try.
        names = b"|".join(re.escape(needle) for needle in needles)
        alternatives.append(_PATCHED_NAME + rb"(?:" + names + rb")\.")
        alternatives.append(_PATCHED_MODULE + rb"(?:" + names + rb")[\"']")
    return Prefilter(re.compile(b"|".join(alternatives)), needles, False)


# The start of a patch call's dotted target, up to the module's last part.
_PATCHED_NAME = rb"""\b(?:patch|setattr)\(\s*(?:target\s*=\s*)?["'](?:\w+\.)*"""
# The start of `patch.multiple`'s target, a dotted module name.
_PATCHED_MODULE = rb"""\bmultiple\(\s*(?:target\s*=\s*)?["'](?:\w+\.)*"""


# The opening quote of a literal attribute name or key: "NAME", u'NAME'.
_OPENING_QUOTE = rb"""[rRuU]?['"]"""
# An augmented or plain assignment, not a comparison.
_ASSIGNMENT = rb"\s*(?:[-+*/%@&|^]|//|\*\*|<<|>>)?=(?!=)"
# The calls that may set an attribute of a module object by name. The
# pattern starts with fixed text, which `re` searches for quickly: a
# pattern of branches that start differently (`setattr|delattr|vars`) took
# five to eight times as long on the standard library. `attr(` also finds
# `getattr(`, which `search` skips.
_ATTRIBUTE_CALL = re.compile(rb"attr\s*\(")
# The text after `import` in an import statement, which names the module
# objects that the file binds: `import app.ev`, `from app import ev` and a
# parenthesised list. The pattern starts with fixed text, which `re` searches
# for quickly. A pattern anchored at each line's start took eight times as long.
_IMPORTED = re.compile(rb"import[ \t]*(\([^)]*\)|[^\n#;]*)")


class RebindingPrefilter:
    """The byte patterns of a file that may rebind a constant through its module object.

    A write with a literal name counts when the name is one of the
    constants. A `setattr`, `delattr`, `__dict__` or `vars(...)` write with
    any other name counts only in a file that imports one of the modules,
    so that the many files that set their own objects' attributes this way
    are not parsed.
    """

    def __init__(self, names: Iterable[str], modules: Iterable[str]) -> None:
        encoded = [name.encode("utf-8", "surrogateescape") for name in set(names)]
        tree = _shared_prefixes(encoded) + rb"\b"
        # The key of an item, a literal constant name or any other (`any`).
        key = (
            rb"(?:"
            + _OPENING_QUOTE
            + tree
            + rb"|(?P<any>)(?!"
            + _OPENING_QUOTE
            + rb"))"
        )
        # An item of a module's namespace dict with a literal key, else with
        # any key or an `update`, `setdefault` or `pop` call.
        namespace_item = (
            rb"\s*(?:\[\s*"
            + _OPENING_QUOTE
            + tree
            + rb"|(?P<any>)(?:\[\s*(?!"
            + _OPENING_QUOTE
            + rb")|\.\s*(?:update|setdefault|pop)\b))"
        )
        self.assignment = re.compile(rb"\.\s*" + tree + _ASSIGNMENT)
        self.attribute = re.compile(
            rb"\.\s*(?:" + tree + _ASSIGNMENT + rb"|__dict__" + namespace_item + rb")"
        )
        # `vars(ev)[...]`. The pattern starts with fixed text, like
        # `_ATTRIBUTE_CALL`, so it also matches `envvars(x)[...]`, which
        # only costs a parse.
        self.vars_item = re.compile(rb"vars\s*\([^()]*\)" + namespace_item)
        self.call_name = re.compile(rb"[^,()]*,\s*" + key)
        self.modules = {module.encode("utf-8", "surrogateescape") for module in modules}

    def search(self, raw: bytes) -> bool:
        """Tell whether `raw` may rebind one of the constants.

        Fixed strings decide first which patterns can match: on a copy of the
        standard library, trying every pattern on every file took four times
        as long as the assignment pattern alone.
        """
        any_name = False
        if b"__dict__" in raw:
            for match in self.attribute.finditer(raw):
                if match.group("any") is None:
                    return True
                any_name = True
        elif self.assignment.search(raw):
            return True
        # On the 32 MB of Python in the mixed benchmark tree, this test took
        # about 15 ms (measured on a shared 2-CPU x86_64 machine).
        if b"vars" in raw:
            for match in self.vars_item.finditer(raw):
                if match.group("any") is None:
                    return True
                any_name = True
        if b"setattr" in raw or b"delattr" in raw:
            for call in _ATTRIBUTE_CALL.finditer(raw):
                if raw[max(call.start() - 3, 0) : call.start()] not in (b"set", b"del"):
                    continue
                match = self.call_name.match(raw, call.end())
                if match is not None:
                    if match.group("any") is None:
                        return True
                    any_name = True
        return any_name and self._imports_module(raw)

    def _imports_module(self, raw: bytes) -> bool:
        for imported in _IMPORTED.finditer(raw):
            if not self.modules.isdisjoint(re.findall(rb"\w+", imported.group(1))):
                return True
        return False


def build_attribute_prefilter(
    names: Iterable[str], modules: Iterable[str]
) -> RebindingPrefilter:
    """Compile the patterns of a file that may rebind one of `names`, constants of `modules`.

    They match `ev.TEMPLATE = ...` and augmented assignments such as
    `ev.TEMPLATE += ...`, but not a comparison (`ev.TEMPLATE == x`). They
    also match `setattr(ev, "TEMPLATE", ...)`, `delattr`, the items
    `ev.__dict__["TEMPLATE"]` and `vars(ev)["TEMPLATE"]`, and these forms
    with a name that is no literal in a file that imports one of
    `modules` (the last parts of the module names).
    A project has a few hundred such names, so the patterns have no needle
    stage: a search for each name in turn took seconds on the standard
    library, and the names shaped as a tree take one pass.
    """
    return RebindingPrefilter(names, modules)


def _shared_prefixes(words: list[bytes]) -> bytes:
    """Return a pattern that matches any of `words`, with the prefixes they share written once.

    Python's `re` tries each branch of `a|b|c` in turn at every position;
    `(?:EV(?:ENT|AL))` tries each first letter once.
    """
    ends = [word for word in words if not word]
    by_first: dict[bytes, list[bytes]] = {}
    for word in words:
        if word:
            by_first.setdefault(word[:1], []).append(word[1:])
    branches = [
        re.escape(first) + _shared_prefixes(rests)
        for first, rests in sorted(by_first.items())
    ]
    if not branches:
        return b""
    joined = branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
    return b"(?:" + joined + b")?" if ends else joined


def discover(paths: list[Path], config: Config) -> Discovered:
    """List the Python files under `paths`, honouring ignore files and excludes.

    A file named on the command line is checked, unless
    `config.force_exclude` is set and a walk of its folder would leave it
    out. Folders are walked through git when they are inside a work tree,
    else directly. With `config.tracked_only`, only the files that git
    tracks as regular files are checked. An untracked file or a symbolic
    link is left out, also when named.
    """
    found = Discovered()
    seen: dict[Path, int] = {}
    excludes = _exclude_spec(config)
    left_out: set[Path] = set()
    named_files = []
    if config.force_exclude or config.tracked_only:
        named_files = [path for path in paths if is_regular_file(path)]
    if config.force_exclude:
        left_out = _walk_leaves_out(named_files, config.root, excludes, found.errors)
    if config.tracked_only:
        tracked = tracked_regular_files(named_files)
        left_out.update(file for file in named_files if file not in tracked)

    for path in paths:
        problem = _named_path_problem(path)
        if problem is not None:
            found.errors.append(FileError(path, problem))
            continue
        if _links_out_of(path, config.root):
            target = path.resolve()
            found.errors.append(
                FileError(
                    path,
                    f"symbolic link to {target}, outside the project root"
                    f" {config.root}; not checked or written, name the target"
                    " itself to check it",
                )
            )
            continue
        if path.is_file():
            if path in left_out:
                found.left_out += 1
            elif not is_python_file(path):
                found.not_python.append(path)
            else:
                _add(found, seen, path)
            continue
        # A link to a file of the tree is checked once, under the file's own name.
        files = sorted(
            _files_under(
                path, config.root, excludes, found.errors, config.tracked_only
            ),
            key=lambda listed: listed.is_link,
        )
        for listed in files:
            _add(found, seen, listed.path, listed.resolved)

    found.files.sort(key=lambda file: file.as_posix())
    _set_apart_other_projects(found, config.root)
    return found


# The file name suffixes of Python source and stub files. A `.pyw` file is
# a Windows script without a console, which other modules may import there.
PYTHON_SUFFIXES = (".py", ".pyi", ".pyw")
# The interpreter of a shebang line that runs Python: python, python3.12, pypy3.
_PYTHON_INTERPRETER = re.compile(rb"(?:python|pypy)[0-9.]*")
# A shebang line longer than this is not read to its end.
_MAX_SHEBANG_BYTES = 512


def is_python_file(path: Path) -> bool:
    """Tell whether a file named on the command line is Python source.

    It is when its name ends in .py, .pyi or .pyw, or when its first line is a
    shebang line that runs Python (`#!/usr/bin/env python3`), as in a script
    without a suffix. A file that cannot be read counts as Python, so that
    the check reports why it cannot read it.
    """
    if path.suffix in PYTHON_SUFFIXES:
        return True
    try:
        with path.open("rb") as file:
            first_line = file.readline(_MAX_SHEBANG_BYTES)
    except OSError:
        return True
    if not first_line.startswith(b"#!"):
        return False
    words = first_line[2:].split()
    if words and os.path.basename(words[0]) == b"env":
        # `env -S python3 -u` and `env PYTHONUTF8=1 python3` name it later.
        words = [word for word in words[1:] if not word.startswith(b"-")]
        words = [word for word in words if b"=" not in word]
    if not words:
        return False
    return _PYTHON_INTERPRETER.fullmatch(os.path.basename(words[0])) is not None


def _unreadable_path_problem(failure: str) -> str:
    """Describe a path that `resolve_failure` could not examine, named or found by a walk."""
    if failure == "symbolic link loop":
        return "symbolic link loop; point the link at a file or remove it"
    return f"cannot read: {failure}; check the permissions of its folders"


def _named_path_problem(path: Path) -> str | None:
    """Describe why a PATH from the command line cannot be checked, or return None."""
    failure = resolve_failure(path)
    if failure is not None:
        return _unreadable_path_problem(failure)
    if not path.exists() and not path.is_symlink():
        return "path not found; check the spelling or the folder"
    if not path.exists():
        return "broken symbolic link; its target does not exist"
    if not path.is_file() and not path.is_dir():
        return "not a regular file or folder; name a Python file"
    return None


def _set_apart_other_projects(found: Discovered, root: Path) -> None:
    """Move the files of other projects from `found.files` to `found.projects`."""
    root = root.resolve()
    owners: dict[Path, Path | None] = {}
    resolved: dict[Path, Path] = {}
    own = []
    for file in found.files:
        folder = file.absolute().parent
        if folder not in resolved:
            resolved[folder] = folder.resolve()
        owner = other_project_root(resolved[folder], root, owners)
        if owner is None:
            own.append(file)
        else:
            found.projects.setdefault(owner, []).append(file)
    found.files = own


def other_project_root(
    folder: Path, root: Path, owners: dict[Path, Path | None]
) -> Path | None:
    """Return the root of the other project that `folder` belongs to, or None for `root`'s."""
    if folder in owners:
        return owners[folder]
    owner: Path | None
    if folder == root:
        owner = None
    elif root in folder.parents:
        # The outermost project below the root: a project inside it is
        # that project's own nested project.
        owner = other_project_root(folder.parent, root, owners)
        if owner is None and configures_cio_fix(folder / "pyproject.toml"):
            owner = folder
    else:
        owner = project_root(folder)
        if owner == root:
            owner = None
    owners[folder] = owner
    return owner


# The folders that installers put packages in: `site-packages`, and
# `dist-packages` in the Python of Debian and Ubuntu.
PACKAGE_FOLDER_NAMES = frozenset({"site-packages", "dist-packages"})


def is_environment_folder(folder: str) -> bool:
    """Tell whether `folder` contains installed packages rather than the project's code.

    It does when it is a `site-packages` or `dist-packages` folder, or a
    virtual environment of any name, which has a `pyvenv.cfg` file at its
    top (PEP 405). One stat per folder.
    """
    if os.path.basename(folder) in PACKAGE_FOLDER_NAMES:
        return True
    return os.path.isfile(os.path.join(folder, "pyvenv.cfg"))


class EnvironmentFolders:
    """Tell which folders below `top` are in a virtual environment or a packages folder.

    Each folder is examined once. `top` itself is not examined, so a run
    over a folder inside an environment, named on the command line, checks it.
    """

    def __init__(self, top: Path) -> None:
        self._top = os.fspath(top)
        self._inside: dict[str, bool] = {"": False}

    def contains(self, relative: str) -> bool:
        """Tell whether the folder `relative` below `top` (`/`-separated, "" for `top`) is in one.

        A folder is in one when it or a folder between it and `top` is one.
        """
        inside = self._inside.get(relative)
        if inside is None:
            parent = relative.rpartition("/")[0]
            inside = self.contains(parent) or is_environment_folder(
                os.path.join(self._top, relative)
            )
            self._inside[relative] = inside
        return inside


def _add(
    found: Discovered, seen: dict[Path, int], file: Path, resolved: Path | None = None
) -> None:
    """Add `file` to `found`, once per file it resolves to.

    A file reached under two names, such as its own and a symbolic link's,
    keeps its own name, else the first in path order, so the output does
    not depend on the order of the PATHs.
    """
    key = resolved if resolved is not None else file.resolve()
    position = seen.get(key)
    if position is None:
        seen[key] = len(found.files)
        found.files.append(file)
    elif _name_order(file, key) < _name_order(found.files[position], key):
        found.files[position] = file


def _name_order(file: Path, resolved: Path) -> tuple[bool, str]:
    return file.absolute() != resolved, file.as_posix()


def _exclude_spec(config: Config) -> pathspec.PathSpec:
    patterns = [*config.exclude, *config.extend_exclude]
    return pathspec.GitIgnoreSpec.from_lines(patterns)


@dataclass(frozen=True)
class _Listed:
    """A file found under a folder, with its resolved path."""

    path: Path
    resolved: Path
    is_link: bool


class _Resolver:
    """Resolve the files of one folder walk, each folder of them once.

    `Path.resolve` examines every part of a path with a system call of its
    own, and discovery resolved each file five times: on the standard
    library, about a fifth of a run. A file that is not a symbolic link
    resolves to its folder's resolved path and its own name.
    """

    def __init__(self) -> None:
        self._folders: dict[Path, Path] = {}

    def plain_file(self, path: Path) -> Path | None:
        """Return `path` resolved, or None when it is a link or cannot be examined."""
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                return None
        except OSError:
            return None
        parent = path.parent
        folder = self._folders.get(parent)
        if folder is None:
            try:
                folder = parent.resolve()
            except (OSError, RuntimeError):
                return None
            self._folders[parent] = folder
        return folder / path.name


@dataclass(frozen=True)
class FolderFiles:
    """The files under a folder that a run lists, before it picks the Python files."""

    # A list when git lists them. An iterator, which can be read once, when
    # a walk lists them.
    files: Iterable[Path]
    # Whether git listed them, rather than a walk that reads `.gitignore` files.
    from_git: bool


def list_folder_files(
    folder: Path,
    root: Path,
    unlisted: list[tuple[Path, str]],
    unread_ignores: list[tuple[Path, str]],
) -> FolderFiles:
    """List the files under `folder` that no ignore file ignores, as a run does.

    Inside a git work tree they are the files that git tracks and the
    untracked ones that it does not ignore. Elsewhere a walk lists them,
    honouring every `.gitignore` that applies (`_walk`). Either way the
    files in a virtual environment or a packages folder below `folder`
    (`is_environment_folder`) are left out. The folders that
    cannot be listed go to `unlisted`, and the `.gitignore` files that
    cannot be read go to `unread_ignores`, each with the reason. A walk
    fills these lists only as its files are read.
    """
    listed = _git_files(folder, False, unlisted)
    if listed is not None:
        return FolderFiles(listed, from_git=True)
    return FolderFiles(_walk(folder, root, unlisted, unread_ignores), from_git=False)


def _files_under(
    folder: Path,
    root: Path,
    excludes: pathspec.PathSpec,
    errors: list[FileError],
    tracked_only: bool = False,
) -> Iterator[_Listed]:
    """Yield the Python files under `folder` that are neither ignored nor excluded.

    A file that cannot be resolved or examined, such as a symbolic link
    loop, goes to `errors` instead, unless it is excluded by name. With
    `tracked_only`, only the files that git tracks as regular files are
    yielded, so no file is reached through a symbolic link.
    """
    boundary = folder.resolve()
    resolved_root = root.resolve()
    resolver = _Resolver()
    # The folders that git or the walk could not list, with the reason.
    unlisted: list[tuple[Path, str]] = []
    # The `.gitignore` files that the walk could not read, with the reason.
    unread_ignores: list[tuple[Path, str]] = []
    candidates: Iterable[Path]
    if tracked_only:
        tracked = _git_files(folder, True, unlisted)
        if tracked is None:
            errors.append(
                FileError(
                    folder,
                    "not checked: `git ls-files` failed here, so the files that git"
                    " tracks are not known; run cio-fix --pr inside a git work tree",
                )
            )
            return
        candidates = tracked
    else:
        candidates = list_folder_files(folder, root, unlisted, unread_ignores).files

    for file in candidates:
        if file.suffix not in PYTHON_SUFFIXES:
            continue
        resolved = resolver.plain_file(file)
        is_link = resolved is None
        if resolved is None:
            failure = resolve_failure(file)
            if failure is not None:
                if not excludes.match_file(_relative_name(file, folder, root)):
                    errors.append(FileError(file, _unreadable_path_problem(failure)))
                continue
            resolved = file.resolve()
            is_link = file.is_symlink()
        if is_link and tracked_only:
            # Git tracks the link, not the file it leads to, which may be an
            # ignored file of the user. A tracked target is listed itself.
            logger.debug("skipping %s: git tracks it as a symbolic link", file)
            continue
        if is_excluded(file, resolved, folder, resolved_root, excludes):
            continue
        try:
            resolved.relative_to(boundary)
        except ValueError:
            logger.debug("skipping %s: it links outside %s", file, folder)
            continue
        if file.is_file():
            yield _Listed(file, resolved, is_link)

    for unreadable, reason in unlisted:
        if not excludes.match_file(_relative_name(unreadable, folder, root) + "/"):
            errors.append(
                FileError(
                    unreadable,
                    f"cannot list the folder: {reason}, so its files are not"
                    " checked; check its permissions",
                )
            )
    for gitignore, reason in unread_ignores:
        try:
            excluded = excludes.match_file(_relative_name(gitignore, folder, root))
        except ValueError:
            # A `.gitignore` above both the root and `folder`.
            excluded = False
        if not excluded:
            errors.append(FileError(gitignore, _unread_gitignore_problem(reason)))


def _shown_path(name: str) -> Path:
    """Return the path `name` as the run shows it: below the working directory when it is."""
    from cio_fix.engine import display_path

    return Path(display_path(Path(name)))


def _unread_gitignore_problem(reason: str) -> str:
    # Which files it ignores is unknown, so none below its folder is checked,
    # lest a fix rewrite a file that the user ignored.
    return (
        f"cannot read: {reason}, so the files below its folder are not checked;"
        " check its permissions"
    )


def is_excluded(
    file: Path,
    resolved: Path,
    folder: Path,
    resolved_root: Path,
    excludes: pathspec.PathSpec,
) -> bool:
    """Tell whether the exclude patterns `excludes` match `file`, found under `folder`.

    `resolved` is `file` resolved, and `resolved_root` the project root.
    """
    # Match against the path below the project root when the file is in it,
    # so that `exclude = ["app/legacy"]` means the same from any folder.
    try:
        relative = resolved.relative_to(resolved_root)
    except ValueError:
        relative = file.relative_to(folder)
    return excludes.match_file(relative.as_posix())


def _walk_leaves_out(
    files: list[Path],
    root: Path,
    excludes: pathspec.PathSpec,
    errors: list[FileError],
) -> set[Path]:
    """Return those of the named `files` that a walk of their folders would leave out.

    They are the files that `exclude` or `extend-exclude` match, those in a
    virtual environment or a packages folder below the root, and those
    that git ignores, or outside git those that the `.gitignore` files ignore.
    As a walk does, a file below a `.gitignore` that cannot be read is left
    out, and the `.gitignore` goes to `errors`.
    """
    left_out = set()
    by_folder: dict[Path, list[Path]] = {}
    resolved_root = root.resolve()
    environment = EnvironmentFolders(resolved_root)
    for file in files:
        resolved = file.resolve()
        if is_excluded(
            file, resolved, file.parent, resolved_root, excludes
        ) or _in_environment(resolved, resolved_root, environment):
            left_out.add(file)
        else:
            by_folder.setdefault(file.parent, []).append(file)
    reported = set()
    for folder, named in by_folder.items():
        try:
            left_out.update(_ignored_files(folder, named, root))
        except OSError as error:
            left_out.update(named)
            gitignore = _shown_path(error.filename)
            if gitignore not in reported:
                reported.add(gitignore)
                problem = _unread_gitignore_problem(error.strerror or str(error))
                errors.append(FileError(gitignore, problem))
    return left_out


def _in_environment(
    resolved: Path, resolved_root: Path, environment: EnvironmentFolders
) -> bool:
    """Tell whether the resolved file is in an environment folder below the project root."""
    folder = resolved.parent
    if not folder.is_relative_to(resolved_root):
        return False
    relative = folder.relative_to(resolved_root).as_posix()
    return environment.contains("" if relative == "." else relative)


def _ignored_files(folder: Path, files: list[Path], root: Path) -> list[Path]:
    """Return those of `files`, all in `folder`, that git or the `.gitignore` files ignore."""
    ignored_names = _git_ignored_names(folder, [file.name for file in files])
    if ignored_names is not None:
        return [file for file in files if file.name in ignored_names]
    specs = _gitignores_above(folder, root)
    if specs is None:
        return files
    gitignore = folder / ".gitignore"
    if is_regular_file(gitignore):
        specs.append((folder, "", _read_gitignore(gitignore)))
    return [file for file in files if _ignored(file, specs, False)]


def _git_ignored_names(folder: Path, names: list[str]) -> set[str] | None:
    """Return the `names` in `folder` that git ignores, or None outside git.

    As `git ls-files` does, `git check-ignore` leaves tracked files out, so
    a tracked file that a `.gitignore` pattern matches is not ignored.
    """
    try:
        completed = subprocess.run(
            ["git", "check-ignore", "-z", "--stdin"],
            cwd=folder,
            input="\0".join(names).encode("utf-8", "surrogateescape"),
            capture_output=True,
            check=False,
        )
    except OSError:
        return None
    # Exit status 1 means that git ignores none of the names; 128 means
    # that `folder` is not in a git work tree.
    if completed.returncode not in (0, 1):
        return None
    output = completed.stdout.decode("utf-8", "surrogateescape")
    return {name for name in output.split("\0") if name}


def tracked_regular_files(files: list[Path]) -> set[Path]:
    """Return those of `files` that git tracks as regular files and that are regular files.

    A symbolic link is left out, and so is a file below a linked folder,
    because git tracks the link, not the file it leads to. A file outside
    a git work tree, or where git fails, is left out too.
    """
    by_folder: dict[str, list[Path]] = {}
    for file in files:
        try:
            if not stat.S_ISREG(os.lstat(file).st_mode):
                continue
        except OSError:
            continue
        by_folder.setdefault(os.path.dirname(os.path.abspath(file)), []).append(file)
    tracked: set[Path] = set()
    for folder, named in by_folder.items():
        modes = _git_index_modes(folder, [os.path.abspath(file) for file in named])
        tracked.update(
            file for file in named if modes.get(file.name) in _REGULAR_FILE_MODES
        )
    return tracked


# The modes of git's index entries for regular files. A symbolic link has
# mode 120000, and a submodule 160000.
_REGULAR_FILE_MODES = ("100644", "100755")


def _git_index_modes(folder: str, paths: list[str]) -> dict[str, str]:
    """Return the mode of each of `paths` that git's index lists, by name relative to `folder`.

    Git matches the absolute `paths` against the work tree without
    following links, so it lists no path below a linked folder.
    """
    # `:(literal)` keeps `*` and `?` in a name from matching other files.
    pathspecs = [f":(literal){path}" for path in paths]
    try:
        completed = subprocess.run(
            ["git", "ls-files", "-z", "--stage", "--", *pathspecs],
            cwd=folder,
            capture_output=True,
            check=False,
        )
    except OSError:
        return {}
    if completed.returncode != 0:
        return {}
    return _parse_stage_listing(completed.stdout)


def _parse_stage_listing(output: bytes) -> dict[str, str]:
    """Map each name of `git ls-files -z --stage` output to its mode."""
    modes = {}
    for entry in output.decode("utf-8", "surrogateescape").split("\0"):
        if entry:
            # Each entry is "<mode> <object> <stage>\t<name>".
            info, _, name = entry.partition("\t")
            modes[name] = info.split(" ", 1)[0]
    return modes


def _relative_name(file: Path, folder: Path, root: Path) -> str:
    """Return the name of `file` below the project root without following its link."""
    absolute = resolve_or_absolute(file.parent) / file.name
    try:
        return absolute.relative_to(resolve_or_absolute(root)).as_posix()
    except ValueError:
        return file.relative_to(folder).as_posix()


def _links_out_of(path: Path, root: Path) -> bool:
    """Tell whether `path` is a symbolic link from inside `root` to a file or folder outside it.

    NOTE: a path below a link to an outside folder (`linked/app.py`) is not
    caught here, because its project root is found from the link's target.
    """
    absolute = path.absolute()
    if absolute.resolve() == absolute:
        return False
    boundary = root.resolve()
    return _inside(absolute.parent, boundary) and not _inside(absolute, boundary)


def _inside(file: Path, boundary: Path) -> bool:
    try:
        file.resolve().relative_to(boundary)
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def _git_files(
    folder: Path, tracked_only: bool, unlisted: list[tuple[Path, str]]
) -> list[Path] | None:
    """List tracked and untracked-but-not-ignored files, or None outside git.

    With `tracked_only`, only the files that git tracks as regular files
    are listed, so no untracked file, symbolic link or submodule. The
    files in a virtual environment or a packages folder below `folder` are
    left out. The folders that git could not open for untracked files go
    to `unlisted`.
    """
    command = ["git", "ls-files", "-z", "--cached"]
    if tracked_only:
        command.append("--stage")
    else:
        command += ["--others", "--exclude-standard"]
    try:
        completed = subprocess.run(
            command,
            cwd=folder,
            capture_output=True,
            check=False,
            # Untranslated warnings, which `_unopened_folders` reads.
            env={**os.environ, "LC_ALL": "C"},
        )
    except OSError:
        return None
    if completed.returncode != 0:
        return None
    if completed.stderr:
        unlisted.extend(_unopened_folders(folder, completed.stderr))

    # Git lists the files of a virtual environment that no `.gitignore`
    # mentions, such as `env/`, and those of a committed `site-packages`.
    environment = EnvironmentFolders(folder)
    if tracked_only:
        modes = _parse_stage_listing(completed.stdout)
        return [
            folder / name
            for name, mode in modes.items()
            if mode in _REGULAR_FILE_MODES
            and not environment.contains(name.rpartition("/")[0])
        ]
    files = []
    for name in completed.stdout.decode("utf-8", "surrogateescape").split("\0"):
        if name and not environment.contains(name.rpartition("/")[0]):
            files.append(folder / name)
    return files


# The warning of `git ls-files --others` for a folder that it cannot open,
# as git 2.39 words it without translation, and the reason. NOTE: a git
# that words it otherwise exits with 0 all the same, and the folder goes
# unreported.
_UNOPENED_FOLDER = re.compile(
    rb"^warning: could not open directory '(.*)': (.*)$", re.M
)


def _unopened_folders(folder: Path, stderr: bytes) -> list[tuple[Path, str]]:
    """Return the folders that git's warnings in `stderr` name, with the reason.

    Git names them from the top of the work tree, and `folder` is where
    it ran, so they are made relative to `folder` as the listed files are.
    """
    matches = _UNOPENED_FOLDER.findall(stderr)
    if not matches:
        return []
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "--show-prefix"],
            cwd=folder,
            capture_output=True,
            check=False,
        )
    except OSError:
        return []
    prefix = completed.stdout.decode("utf-8", "surrogateescape").strip()
    unopened = []
    for raw_name, raw_reason in matches:
        name = raw_name.decode("utf-8", "surrogateescape").rstrip("/")
        reason = raw_reason.decode("utf-8", "replace")
        unopened.append((folder / name.removeprefix(prefix), reason))
    return unopened


def _walk(
    folder: Path,
    root: Path,
    unlisted: list[tuple[Path, str]],
    unread_ignores: list[tuple[Path, str]],
) -> Iterator[Path]:
    """Walk `folder` without git, honouring every `.gitignore` that applies to it.

    As in git, the `.gitignore` files of the folders above `folder` apply
    too, so `cio-fix sub` skips what `cio-fix .` skips; see `_gitignores_above`.
    The folders that cannot be listed go to `unlisted`, with the reason.
    A `.gitignore` that cannot be read goes to `unread_ignores`, with the
    reason, and no file below its folder is yielded. Virtual environments
    and packages folders below `folder` are not entered.
    """
    try:
        ignore_specs = _gitignores_above(folder, root)
    except OSError as error:
        gitignore = _shown_path(error.filename)
        unread_ignores.append((gitignore, error.strerror or str(error)))
        return
    if ignore_specs is None:
        return

    def report(error: OSError) -> None:
        unlisted.append((Path(error.filename), error.strerror or str(error)))

    walk = os.walk(folder, onerror=report, followlinks=False)
    for current, dirnames, filenames in walk:
        current_path = Path(current)
        gitignore = current_path / ".gitignore"
        if is_regular_file(gitignore):
            try:
                ignore_specs.append((current_path, "", _read_gitignore(gitignore)))
            except OSError as error:
                unread_ignores.append((gitignore, error.strerror or str(error)))
                dirnames[:] = []
                continue

        kept = []
        for name in sorted(dirnames):
            if name == ".git" or _ignored(current_path / name, ignore_specs, True):
                continue
            if is_environment_folder(os.path.join(current, name)):
                continue
            kept.append(name)
        dirnames[:] = kept

        for name in sorted(filenames):
            path = current_path / name
            if not _ignored(path, ignore_specs, False):
                yield path


def _gitignores_above(
    folder: Path, root: Path
) -> list[tuple[Path, str, pathspec.PathSpec]] | None:
    """Read the `.gitignore` files of the folders above `folder`, outermost first.

    They are those from the project root down, or, when `folder` is the
    root only because no pyproject.toml or git work tree marks one, those
    from the top of the file system down, as ripgrep reads them. Each comes
    with `folder` and the path from its own folder to `folder`, so that
    `_ignored` matches the paths of the walk against it. Returns None when
    they ignore `folder` or a folder between it and them, because git
    re-includes no file of an ignored folder, even when a deeper
    `.gitignore` negates its pattern. Raises OSError for a `.gitignore`
    that cannot be read.
    """
    start = resolve_or_absolute(folder)
    top = resolve_or_absolute(root)
    if start == top and not _marks_root(start):
        ancestors = list(reversed(start.parents))
    elif top in start.parents:
        ancestors = [top, *(top / part for part in _between(start, top))]
    else:
        return []

    specs: list[tuple[Path, str, pathspec.PathSpec]] = []
    for ancestor in ancestors:
        if _ignored(ancestor, specs, True):
            return None
        gitignore = ancestor / ".gitignore"
        if is_regular_file(gitignore):
            specs.append((ancestor, "", _read_gitignore(gitignore)))
    if _ignored(start, specs, True):
        return None
    return [
        (folder, start.relative_to(base).as_posix() + "/", spec)
        for base, _, spec in specs
    ]


def _between(start: Path, top: Path) -> list[Path]:
    """Return the folders strictly between `top` and `start`, relative to `top`, outermost first."""
    return list(reversed(start.relative_to(top).parents[:-1]))


def _marks_root(folder: Path) -> bool:
    try:
        return (folder / "pyproject.toml").is_file() or (folder / ".git").exists()
    except OSError:
        return False


def _read_gitignore(path: Path) -> pathspec.PathSpec:
    """Read the patterns of a `.gitignore` file. Raises OSError when it cannot be read."""
    lines = read_regular_text(path).splitlines()
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _ignored(
    path: Path, specs: list[tuple[Path, str, pathspec.PathSpec]], is_dir: bool
) -> bool:
    """Tell whether the `.gitignore` files in `specs`, outermost first, ignore `path`.

    As in git, the last pattern that matches decides, and the patterns of a
    deeper `.gitignore` come after those of the folders above it, so that
    `!keep.py` in `gen/.gitignore` re-includes a file that `gen/*.py` in
    the top `.gitignore` ignores.
    """
    ignored = False
    for base, prefix, spec in specs:
        try:
            relative = prefix + path.relative_to(base).as_posix()
        except ValueError:
            continue
        checked = spec.check_file(relative + "/" if is_dir else relative)
        if checked.include is not None:
            ignored = checked.include
    return ignored
