"""The pipeline: discover, prefilter, parse once, index, check, fix, verify, write."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from pathlib import Path

from cio_fix.config import (
    Config,
    client_name_words,
    opts_out,
    project_config,
    runs_rules,
)
from cio_fix.discovery import (
    Discovered,
    build_attribute_prefilter,
    build_import_prefilter,
    build_prefilter,
    discover,
    tracked_regular_files,
)
from cio_fix.files import resolve_or_absolute
from cio_fix.interrupts import stop_if_interrupted
from cio_fix.model import (
    FileError,
    FileResult,
    Finding,
    Fix,
    FixSafety,
    RunResult,
    display_path,
)
from cio_fix.relocate import relocate_findings
from cio_fix.writer import (
    FileChangedError,
    WriteError,
    terminate_as_exit,
    write_atomic,
)

logger = logging.getLogger(__name__)

# A fix may make room for another fix (two fixes on one call), and each
# pass starts again from the fixed source. Six rules' fixes on the two
# calls of a `with` client in a handler take six passes. More passes than
# this means two fixes undo each other.
MAX_PASSES = 10

# The description of the fix that a finding gets when another rule's fix,
# or a fix in another file, removed it.
AFTER_ANOTHER_FIX = "applied after another fix"


def run(paths: list[Path], config: Config, apply: bool = False) -> RunResult:
    """Check `paths` and compute their fixes; with `apply`, write them.

    A file of another project is checked in a run of that project, see
    `split_projects`.
    """
    result = RunResult()
    for project, discovered in split_projects(paths, config):
        if runs_rules(project):
            part = _run_project(discovered, project, apply)
            part.checked_projects += 1
        else:
            part = RunResult(errors=list(discovered.errors))
            config_path = display_path(project.config_path or project.root)
            if opts_out(project):
                part.projects_opted_out.append(config_path)
            else:
                part.projects_without_rules.append(config_path)
        result.not_python.extend(discovered.not_python)
        result.left_out += discovered.left_out
        result.files.extend(part.files)
        result.errors.extend(part.errors)
        result.secrets.update(part.secrets)
        result.files_found += part.files_found
        result.candidates += part.candidates
        result.checked_projects += part.checked_projects
        result.projects_without_rules.extend(part.projects_without_rules)
        result.projects_opted_out.extend(part.projects_opted_out)
    return result


def split_projects(
    paths: list[Path], config: Config, visited: set[Path] | None = None
) -> Iterator[tuple[Config, Discovered]]:
    """Discover the files under `paths` one project at a time, `config`'s project first.

    A file of another project, one with its own `[tool.cio-fix]` below the
    root or one outside the root, is discovered again in that project, with
    its configuration and the command line's options. `visited` contains
    the roots of the projects discovered already. Raises ConfigError when
    the configuration of a project is invalid, only once the projects
    before it have been yielded.
    """
    visited = set() if visited is None else visited
    visited.add(config.root.resolve())
    discovered = discover(paths, config)
    yield config, discovered
    for root, files in sorted(discovered.projects.items()):
        if root in visited:
            continue
        covered = any(_covers(path, root) for path in paths)
        nested = project_config(config, root).with_options(whole_project=covered)
        if config.root.resolve() in root.parents:
            # A project inside this one reads the customerio version that
            # its enclosing service declares, as its files did from here.
            nested = nested.with_options(version_search_root=config.declarations_root)
        # The root as a user would name it, so that paths show the same.
        target = Path(display_path(root))
        yield from split_projects([target] if covered else files, nested, visited)


def _covers(path: Path, root: Path) -> bool:
    """Tell whether the PATH `path` is `root` or a folder above it."""
    target = resolve_or_absolute(path)
    return target == root or target in root.parents


def _run_project(discovered: Discovered, config: Config, apply: bool) -> RunResult:
    """Check the files of one project that `discover` found."""
    if apply:
        config = config.with_options(fixed_positions=True)
    result = RunResult()
    result.errors.extend(discovered.errors)
    result.files_found = len(discovered.files)

    all_files, named = files_to_read(discovered, config)
    config = config.with_options(whole_project=True)
    found = RunResult()
    raw_files = _prefilter(all_files, config, found)
    result.errors.extend(_only_named(found.errors, named))
    result.candidates = sum(
        1 for path in raw_files if named is None or display_path(path) in named
    )
    if not raw_files:
        return result

    # libcst and the rules are imported only when a file needs them, so a
    # run over a tree without Customer.io code, or one whose results are all
    # in the cache, starts and ends fast.
    from cio_fix.cache import Cache
    from cio_fix.pipeline import check_candidates

    cache = Cache.open(config.root) if config.cache else Cache.disabled()
    # SIGTERM during the check stops the worker processes, which would
    # otherwise finish their requests first, and during the save it removes
    # the cache's temporary file.
    with terminate_as_exit():
        checked = check_candidates(all_files, raw_files, config, cache)
        cache.save()
    result.files.extend(
        file
        for file in checked.files
        if named is None or display_path(file.path) in named
    )
    result.errors.extend(_only_named(checked.errors, named))
    result.secrets.update(checked.secrets)
    if apply:
        changed = checked.changed_files
        with terminate_as_exit():
            _write(result, config.root, config.tracked_only)
        written = {id(file) for file in result.changed_files}
        _settle_project_findings(checked, all(id(file) in written for file in changed))
    else:
        # The checker marks the fixes it would apply; a dry run applies none.
        for finding in result.findings:
            finding.applied = False
    return result


def files_to_read(
    discovered: Discovered, config: Config
) -> tuple[list[Path], set[str] | None]:
    """Return every file of the project that a run reads, and the files it reports on.

    A run over some files of a project (a pre-commit hook) reads the whole
    project, so that clients, constants, wrappers and handlers in other
    files count, and reports only on the named files, whose display paths
    come second. A run over the whole project reports on every file: None.
    """
    if config.whole_project:
        return discovered.files, None
    named = {display_path(path) for path in discovered.files}
    by_target = {path.resolve(): path for path in discover([config.root], config).files}
    # The named files keep the names they were given.
    by_target.update((path.resolve(), path) for path in discovered.files)
    return sorted(by_target.values(), key=lambda path: path.as_posix()), named


def _settle_project_findings(checked: RunResult, all_written: bool) -> None:
    """Keep what the fixed code changed in the findings about other files once it is written.

    The checker found some project-level findings, and findings whose
    rule reads other files, gone from the fixed code of every changed
    file, and others only in it. The findings left take the message and
    position that the fixed code gives, which quote the lines of the fixed
    files. All of this is true once each such file is written. A file that
    is not written, or that a run over some files of the project does not
    name, keeps its original code. Then the findings that the fixes removed
    remain, those that only the fixed code gives are dropped, and the
    others keep their messages.
    """
    if all_written:
        for finding in checked.fixed_project_findings:
            if finding.fixed_message is not None:
                finding.message = finding.fixed_message
        for finding in checked.findings:
            settled = finding.in_fixed_project
            if settled is None or finding.applied:
                continue
            finding.message = settled.message
            finding.line, finding.column = settled.line, settled.column
            finding.end_line, finding.end_column = settled.end_line, settled.end_column
        return
    for finding in checked.fixed_project_findings:
        finding.applied = False
        if finding.fix is not None and finding.fix.description == AFTER_ANOTHER_FIX:
            finding.fix = None
    revealed = {id(finding) for finding in checked.revealed_project_findings}
    for file in checked.files:
        file.findings = [
            finding for finding in file.findings if id(finding) not in revealed
        ]


def _only_named(errors: list[FileError], named: set[str] | None) -> list[FileError]:
    """Keep the errors of the named files, or every error when all files are named."""
    if named is None:
        return errors
    return [error for error in errors if display_path(error.path) in named]


def _prefilter(
    files: list[Path], config: Config, result: RunResult
) -> dict[Path, bytes]:
    """Read each file and keep those that can contain a finding."""
    pattern = build_prefilter(
        [*config.client_modules, *client_name_words(config.client_names)]
    )
    kept: dict[Path, bytes] = {}
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as error:
            reason = error.strerror or str(error)
            result.errors.append(
                FileError(
                    Path(display_path(path)),
                    f"cannot read: {reason}; check the file's permissions",
                )
            )
            continue
        if pattern.search(raw):
            kept[path] = raw
    return kept


def follow_imports(
    files: list[Path],
    kept: dict[Path, bytes],
    words: set[str],
    *,
    modules: bool = False,
    assigned: set[str] | frozenset[str] = frozenset(),
    assigned_modules: set[str] | frozenset[str] = frozenset(),
) -> dict[Path, bytes]:
    """Return the files outside `kept` that mention one of `words`, or assign one of `assigned`.

    With `modules`, the words are module names and a file must import one.
    Otherwise a word matches also as a part of a snake_case name (`on_bounce`).
    `assigned` are attribute names: a file that assigns one of them
    (`ev.TEMPLATE = ...`, `setattr(ev, "TEMPLATE", ...)`) is returned too,
    so that a single read of each file serves both searches.
    `assigned_modules` are the last parts of the names of the modules that
    bind them: a file that imports one and calls `setattr` with a name that
    is no literal is returned as well.
    The files outside `kept` failed the Customer.io prefilter, so only the
    words are looked for.
    """
    patterns = []
    if words:
        if modules:
            patterns.append(build_import_prefilter(words))
        else:
            patterns.append(build_prefilter(words, customer_io=False, name_parts=True))
    if assigned:
        patterns.append(build_attribute_prefilter(assigned, assigned_modules))
    if not patterns:
        return {}
    found: dict[Path, bytes] = {}
    for path in files:
        if path in kept:
            continue
        try:
            raw = path.read_bytes()
        except OSError:
            continue
        if any(pattern.search(raw) for pattern in patterns):
            found[path] = raw
    return found


def _write(result: RunResult, root: Path, tracked_only: bool = False) -> None:
    """Write the fixed files, with `tracked_only` only those that git tracks as regular files.

    A `--pr` run commits every file it writes, and git commits a symbolic
    link, not the file it leads to. Discovery leaves such files out, and
    this check keeps a mistake there from changing a file the bot cannot
    commit, such as an ignored file of the user.
    """
    committable = None
    if tracked_only:
        committable = tracked_regular_files(
            [file.path for file in result.changed_files]
        )
    for file in result.changed_files:
        stop_if_interrupted()
        assert file.fixed is not None
        path = file.path
        if committable is not None and path not in committable:
            file.errors.append(
                FileError(
                    Path(display_path(path)),
                    "not written: git does not track it as a regular file (it is"
                    " untracked or a symbolic link), so cio-fix --pr could not"
                    " commit the fix",
                )
            )
            _mark_unapplied(file)
            continue
        try:
            write_atomic(path, file.fixed, root, original=file.original)
        except FileChangedError:
            file.errors.append(
                FileError(
                    Path(display_path(path)),
                    "changed on disk during the run; not written, run cio-fix again",
                )
            )
            _mark_unapplied(file)
        except WriteError as error:
            file.errors.append(
                FileError(Path(display_path(path)), f"not written: {error}")
            )
            _mark_unapplied(file)
        except OSError as error:
            file.errors.append(
                FileError(
                    Path(display_path(path)),
                    f"cannot write: {error.strerror}; the file is unchanged",
                )
            )
            _mark_unapplied(file)
        else:
            _locate_in_written_file(file)


def _locate_in_written_file(file: FileResult) -> None:
    """Move the findings that a written file still has to their place in it.

    The checker found most of them in the fixed code, and they take the
    message found there too, which names the lines of the written file.
    The others, such as the project-level findings, are mapped there
    through a diff. A fixed finding keeps its place in the original file,
    where its fix was made.
    """
    assert file.original is not None and file.fixed is not None
    unmapped = []
    for finding in file.findings:
        if finding.applied or finding.in_fixed_code:
            continue
        if finding.fixed_position is None:
            unmapped.append(finding)
            continue
        line, column, end_line, end_column = finding.fixed_position
        finding.line, finding.column = line, column
        finding.end_line, finding.end_column = end_line, end_column
        if finding.message_in_fixed_file is not None:
            finding.message = finding.message_in_fixed_file
    if unmapped:
        original = file.original.decode(file.encoding)
        relocate_findings(unmapped, original, file.fixed.decode(file.encoding))


def _mark_unapplied(file: FileResult) -> None:
    file.fixed = None
    for finding in file.findings:
        finding.applied = False


def mark_applied(
    findings: list[Finding],
    fixes_applied: list[Fix],
    later: Counter[str],
    still_found: AbstractSet[int] = frozenset(),
    rechecked: AbstractSet[str] = frozenset(),
) -> list[Finding]:
    """Mark findings whose fixes were applied, in the first pass or a later one.

    A later pass fixes nodes that earlier fixes rebuilt, so its fixes are
    counted per rule and given to that rule's findings in order, skipping
    the findings (by id) in `still_found`, which the fixed code still has.
    A later fix left over goes to a finding that had no fix but is gone
    from the fixed code: another rule's fix made it fixable. Returns those.
    A fix that changes nothing waits for another rule's fix, so it counts
    only when a later pass fixes its finding.

    A finding of a rule in `rechecked`, whose rule ran again on the fixed
    code, that is not in `still_found` is gone from the fixed code too: the
    fixes removed it, so it counts as fixed. Returned with the others when
    it had no fix of its own.
    """
    applied_ids = {id(fix) for fix in fixes_applied if changes_code(fix)}
    for finding in findings:
        if finding.fix is not None and id(finding.fix) in applied_ids:
            finding.applied = True
    for finding in findings:
        if finding.applied or finding.fix is None or id(finding) in still_found:
            continue
        if later[finding.code] > 0:
            later[finding.code] -= 1
            finding.applied = True
    made_fixable = []
    for finding in findings:
        if finding.fix is not None or id(finding) in still_found:
            continue
        if later[finding.code] > 0:
            later[finding.code] -= 1
            finding.applied = True
            made_fixable.append(finding)
    for finding in findings:
        if finding.applied or id(finding) in still_found:
            continue
        if finding.code in rechecked:
            # CIO303 reports `order_shipped` because `OrderShipped` is sent
            # too, and the fix that renames `OrderShipped` removes both.
            # The re-check reads the other files' facts from their original
            # code. `Checker.settle_project_findings` checks the findings
            # that fixes in other files can change against the fixed code of
            # every changed file.
            finding.applied = True
            if finding.fix is None:
                made_fixable.append(finding)
    return made_fixable


def changes_code(fix: Fix) -> bool:
    return bool(fix.replacements or fix.imports or fix.inserts)


def fix_allowed(fix: Fix | None, unsafe_fixes: bool) -> bool:
    if fix is None:
        return False
    return fix.safety is FixSafety.SAFE or unsafe_fixes
