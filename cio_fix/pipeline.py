"""Run the phases of a check from the cache, in this process alone or with workers.

A run has four phases: parse and summarise each file (repeated for the
files that the summaries import), build the project index, collect each
rule's facts per file, then check and fix each file. The project-level
rules run last.

Each phase's result per file is cached under a key that hashes what it
depends on:

- a parse: the file's bytes, its path both as the run names it and
  resolved, the files that declare versions in its folders, the SDK
  packages that a project module hides from it, the formatter settings
  that apply to it, and the run fingerprint (`cache.run_fingerprint`);
- a file's rule facts: that, plus every file's summary (the project key);
- a file's findings and fixed bytes: that, plus every file's rule facts.

So a change in one file that changes its summary or its rule facts
invalidates every file's later phases, and a change that leaves both as
they were invalidates only that file. A run without a cache miss imports
no libcst.

This module imports no libcst itself; `cio_fix.checker` does the work.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import pickle
import signal
import sys
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cio_fix.cache import (
    Cache,
    canonical_digest,
    declaration_fingerprints,
    digest,
    dumps,
    loads,
    run_fingerprint,
)
from cio_fix.config import Config
from cio_fix.discovery import build_attribute_prefilter
from cio_fix.engine import AFTER_ANOTHER_FIX, display_path, follow_imports
from cio_fix.interrupts import stop_if_interrupted
from cio_fix.lookups import Lookup, recording, unchanged
from cio_fix.model import FileError, FileResult, Finding, Fix, FixSafety, RunResult
from cio_fix.modules import (
    SdkShadowing,
    folders_up_to,
    is_test_file,
    modules_by_name,
    modules_defining,
    path_in_project,
    reexported_names,
    sdk_search_start,
)
from cio_fix.sdk_version import sdk_declaration_warnings
from cio_fix.style import FormatterSettings

if TYPE_CHECKING:
    from cio_fix.checker import Checker
    from cio_fix.project import ProjectIndex

logger = logging.getLogger(__name__)

# Rounds of the prefilter that follow imports of project modules which
# export a client or a constant (`from app.cio import client`).
MAX_PREFILTER_ROUNDS = 3
# Rounds that follow route decorator factories: the module that the handler
# imports a factory from, the module that a package `__init__.py` re-exports
# it from, and the module of the app that the factory calls.
MAX_ROUTE_ROUNDS = 3
# Below this many files to parse, worker processes cost more than they save.
# NOTE: 8 is an estimate, not a measured break-even point. A file of the
# benchmark corpus takes about 0.13 s to parse, check and fix on one CPU, and
# each worker adds a fork and a copy of every summary sent to it.
PARALLEL_MIN_FILES = 8


# -- what the phases hand over -----------------------------------------------------


@dataclass
class ScanFacts:
    """The part of one file's summary that the search for more project files reads.

    `words` are module names that a file importing this module's clients
    must name on an import line. `imported` are the modules whose values
    this module passes to Customer.io, and `imported_names` those values'
    qualified names. `aliased` are the modules it imports names from at
    module level, and `package` the name of the package it is the
    `__init__.py` of (empty for other modules). `exports` are the names it
    imports at module level, which other modules may import from it, with
    their qualified names. `constants` are the names of its module-level
    string constants, which another module may rebind (`ev.TEMPLATE = "x"`).
    `class_modules` are the modules of the imported classes that build its
    module-level objects (`project.class_modules`). `route_names` are the
    qualified names of the route decorator factories that it imports and
    of the apps that its own factories call, whose modules tell whether
    its functions are request handlers.
    """

    words: tuple[str, ...] = ()
    imported: tuple[str, ...] = ()
    aliased: tuple[str, ...] = ()
    package: str = ""
    module: str = ""
    imported_names: tuple[str, ...] = ()
    exports: tuple[tuple[str, str], ...] = ()
    constants: tuple[str, ...] = ()
    class_modules: tuple[str, ...] = ()
    route_names: tuple[str, ...] = ()


@dataclass
class FileFacts:
    """The parse of one file as the cache and the workers hand it over.

    `summary_blob` is the pickled ModuleSummary and `summary_digest` its
    digest; both are None when the file did not parse.
    """

    summary_blob: bytes | None
    summary_digest: str | None
    scan: ScanFacts = field(default_factory=ScanFacts)
    errors: list[FileError] = field(default_factory=list)


@dataclass
class CollectedFacts:
    """Every rule's facts about one file: the pickled {rule code: facts} and its digest."""

    blob: bytes
    facts_digest: str
    errors: list[FileError] = field(default_factory=list)


@dataclass
class CheckOutcome:
    """The check of one file.

    `errors` are run-level errors, such as a rule that failed, which the run
    lists apart from the file's own errors. `secrets` are the strings that
    every output must mask. `lookups` are the file system lookups that the
    rules and fixes made, which a cached check must still get the same
    results from.
    """

    file: FileResult
    errors: list[FileError] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    lookups: list[Lookup] = field(default_factory=list)


@dataclass
class CachedCheck:
    """A cached check with the digest of the bytes it was computed from."""

    source_digest: str
    outcome: CheckOutcome


@dataclass
class FindingUpdate:
    """The change that the fixed code of the changed files makes to one finding of a file's check.

    `index` is the finding's place in the findings of the check of `path`,
    which a cached check lists in the same order.
    """

    path: Path
    index: int
    # The finding as the fixed code gives it, or None when it no longer does.
    in_fixed_project: Finding | None
    # The safety of the fix that a finding gone without a fix of its own gets.
    fix_safety: FixSafety | None = None


@dataclass
class ProjectOutcome:
    findings: list[Finding] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    # `--apply`: the updates of the findings of the files' checks.
    updates: list[FindingUpdate] = field(default_factory=list)


@dataclass
class ProjectData:
    """The project index as pickled summaries, in project order.

    `key` names the summaries, so that a worker builds the index once per run.
    """

    key: str
    paths: list[Path]
    summary_blobs: list[bytes]
    # The candidates that could not be read or parsed (`unread_candidates`).
    unread_files: list[str] = field(default_factory=list)


class PipelineUnavailable(Exception):
    """A worker failed, or a result cannot cross processes; the run starts over serially.

    `from_cache` is true when an unreadable cache entry caused it.
    """

    def __init__(self, message: str, from_cache: bool = False) -> None:
        super().__init__(message)
        self.from_cache = from_cache


# -- the run -------------------------------------------------------------------------


def check_candidates(
    all_files: list[Path], raw_files: dict[Path, bytes], config: Config, cache: Cache
) -> RunResult:
    """Check the candidate files and the files they import; return the results."""
    with fewer_collections():
        return _check_candidates(all_files, raw_files, config, cache)


# The allocations between two collections of the youngest generation while
# files are checked, in place of Python's default of 700.
# NOTE: measured on the benchmark corpus only (2 CPUs, Python 3.11): 10,000
# saved about 4% of the CPU time of a serial run and added about 3 MB to the
# peak memory of a run with two processes. 50,000 saved no more and added 9 MB.
GC_THRESHOLD = 10_000


@contextlib.contextmanager
def _collector_off_then_frozen() -> Iterator[None]:
    """Parse with the cyclic garbage collector off, then move what was parsed out of its reach.

    The trees parsed here live until their files are checked, and they form
    no reference cycles. Each collection would scan them again: three
    generations, about 5% of the CPU time of a run on the heavy benchmark
    corpus. Frozen, they are still freed as soon as nothing refers to
    them, but a frozen reference cycle is never collected. So the garbage
    made before the parse is collected first, and the parse makes none (a
    test checks that). After the first parse of a process, that collection
    scans only what was made since.
    """
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


# How long a run waits for a worker whose pipe closed to report its exit status.
WORKER_EXIT_WAIT_SECONDS = 1.0

# The files a worker checks between two returns of freed memory to the system.
TRIM_EVERY = 10


def trim_memory() -> None:
    """Return the C heap's free memory to the system, where the C library can.

    Each check frees one file's trees, but glibc keeps most of the memory
    that Python frees in its heap. Without this, a run's memory grew while
    the parsed files it held got fewer: by 15 MB at the peak of a serial
    run on the heavy benchmark corpus. A call costs about a millisecond.
    Other C libraries have no `malloc_trim`, and there this does nothing.
    """
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        _MALLOC_TRIM = _find_malloc_trim()
    if _MALLOC_TRIM is not False:
        _MALLOC_TRIM(0)


# glibc's malloc_trim once looked up, or False where there is none.
_MALLOC_TRIM: Any = None


def _find_malloc_trim() -> Any:
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return False


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the garbage collector's young generation less often inside the block.

    Parsing and fixing allocate millions of libcst nodes, which form no
    reference cycles, and each collection of the young generation scans the
    newest of them again. Forked workers inherit the threshold.
    """
    before = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _check_candidates(
    all_files: list[Path], raw_files: dict[Path, bytes], config: Config, cache: Cache
) -> RunResult:
    run = _Run(all_files, config, cache)
    try:
        return run.execute(raw_files)
    except PipelineUnavailable as error:
        # A worker that Ctrl-C stopped is no reason to check everything again.
        stop_if_interrupted()
        # An unreadable cache is no problem of the user's, so only a debug log
        # names it.
        level = logging.DEBUG if error.from_cache else logging.WARNING
        logger.log(
            level,
            "%s; checking every file again in this process, which takes longer",
            error,
        )
    # A cache entry may be what failed, so the next run starts from an empty one.
    cache.clear()
    if not run.declarations_checked:
        # NOTE: only the candidates' folders, because the files that they
        # import are not known here.
        warn_about_declarations(list(raw_files), config.declarations_root, None)
    return _check_serially(all_files, raw_files, config)


def warn_about_declarations(
    files: list[Path],
    root: Path,
    warnings_of: Callable[[Path], list[str]] | None,
) -> None:
    """Log each warning about a declaration file that cannot be read, once.

    Every run logs them, whether its results come from the cache or not,
    because they concern the project rather than one file. They are those
    of the customerio version search from each file's folder, which
    `warnings_of` returns (by default uncached).
    """
    logged: set[str] = set()
    for folder in sorted({path.parent for path in files}):
        if warnings_of is None:
            warnings = sdk_declaration_warnings(root, folder)
        else:
            warnings = warnings_of(folder)
        for message in warnings:
            if message not in logged:
                logged.add(message)
                logger.warning("%s", message)


def _check_serially(
    all_files: list[Path], raw_files: dict[Path, bytes], config: Config
) -> RunResult:
    from cio_fix.checker import Checker

    result = RunResult()
    Checker(config).check(all_files, raw_files, result)
    return result


def available_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def read_project_files(
    all_files: list[Path],
    raw_files: dict[Path, bytes],
    root: Path,
    rule_words: set[str],
    parse: Callable[[dict[Path, bytes]], dict[Path, ScanFacts]],
) -> list[Path]:
    """Parse the candidates, then the files they import values from, round by round.

    `parse` parses files and returns the scan facts of those that parsed.
    Returns every file given to `parse`, in the order of the project index:
    round by round, each round in path order.
    """
    order: list[Path] = []
    scanned: dict[Path, ScanFacts] = {}

    def parse_round(files: dict[Path, bytes]) -> None:
        scanned.update(parse(files))
        order.extend(sorted(files, key=lambda path: path.as_posix()))

    def string_constants() -> set[str]:
        return {name for facts in scanned.values() for name in facts.constants}

    def constant_modules() -> set[str]:
        return {
            facts.module.rpartition(".")[2]
            for facts in scanned.values()
            if facts.constants
        }

    parse_round(raw_files)
    seen = dict(raw_files)
    # A module that rebinds a constant of a read module through the module
    # object (`ev.TEMPLATE = "order"`) changes the event names sent with it,
    # but need not mention Customer.io or import a client. The files are
    # searched for such assignments while they are read for the rules' words.
    # NOTE: only assignments and `setattr`, `delattr`, `__dict__` and
    # `vars(...)` writes are searched for, so a module that rebinds one only
    # in a `for` or `with` target is not read.
    searched = string_constants()
    searched_modules = constant_modules()
    for_rules = follow_imports(
        all_files,
        seen,
        rule_words,
        assigned=searched,
        assigned_modules=searched_modules,
    )
    for path in _word_only_tests(for_rules, root, searched, searched_modules):
        del for_rules[path]
    if for_rules:
        seen.update(for_rules)
        parse_round(for_rules)
        for path in _unparsed_word_files(
            for_rules, scanned, searched, searched_modules
        ):
            order.remove(path)
            # A later round may still read it as a module that a candidate imports.
            del seen[path]

    used_words: set[str] = set()
    for _ in range(MAX_PREFILTER_ROUNDS):
        words: set[str] = set()
        wanted: set[str] = set()
        for facts in scanned.values():
            words.update(facts.words)
            wanted.update(facts.imported)
        wanted.update(_reexported_modules(scanned.values()))
        words -= used_words
        used_words |= words
        # A file that imports a name from a module named like a client
        # module (`from app.cio import tracker`) reads it from that module,
        # which may not be the client module: another service's `app.cio`.
        for path, facts in scanned.items():
            from_client_modules = [
                module
                for module in facts.aliased
                if module.rpartition(".")[2] in used_words
            ]
            wanted.update(from_client_modules)
            # A package that imports from a client module may re-export
            # the client (`from app import tracker`).
            package_word = facts.package.rpartition(".")[2]
            if from_client_modules and package_word and package_word not in used_words:
                words.add(package_word)
                used_words.add(package_word)
            # Application code that imports a test module that imports from
            # a client module (`from app.tests.helpers import send_order`)
            # sends through it in production.
            module_word = facts.module.rpartition(".")[2]
            if (
                from_client_modules
                and module_word not in used_words
                and is_test_file(path_in_project(path, display_path(path), root))
            ):
                words.add(module_word)
                used_words.add(module_word)
            # A module-level object built with a class of a client module
            # may be a client (`cio = Tracker(...)` after `from compat
            # import Tracker`), which other modules import.
            if module_word not in used_words and any(
                module.rpartition(".")[2] in used_words
                for module in facts.class_modules
            ):
                words.add(module_word)
                used_words.add(module_word)
        more = follow_imports(all_files, seen, words, modules=True)
        more.update(_read_named_modules(wanted, all_files, root, seen))
        if not more:
            break
        seen.update(more)
        parse_round(more)

    # The constants of the files read since need one more search.
    rebinding = follow_imports(
        all_files,
        seen,
        set(),
        assigned=string_constants() - searched,
        assigned_modules=constant_modules() - searched_modules,
    )
    if rebinding:
        seen.update(rebinding)
        parse_round(rebinding)

    # A route decorator factory (`@json_post("/orders")`) and the app it
    # calls are often defined in modules that never mention Customer.io.
    for _ in range(MAX_ROUTE_ROUNDS):
        route_modules = _route_modules(scanned.values())
        more = _read_named_modules(route_modules, all_files, root, seen)
        if not more:
            break
        seen.update(more)
        parse_round(more)
    return order


def _word_only_tests(
    files: dict[Path, bytes],
    root: Path,
    constants: set[str],
    constant_modules: set[str],
) -> list[Path]:
    """Return the test files of `files` that were found only for a rule's words.

    The rules with words (CIO501 and CIO502) leave test code out, so such a
    file need not be parsed: the standard library's email tests mention
    bounces. A test file that may rebind a constant of a candidate module
    stays, because app code may import it.
    """
    tests = [
        path
        for path in files
        if is_test_file(path_in_project(path, display_path(path), root))
    ]
    if not tests or not constants:
        return tests
    rebinding = build_attribute_prefilter(constants, constant_modules)
    return [path for path in tests if not rebinding.search(files[path])]


def _unparsed_word_files(
    files: dict[Path, bytes],
    scanned: dict[Path, ScanFacts],
    constants: set[str],
    constant_modules: set[str],
) -> list[Path]:
    """Return the files of `files` that did not parse and were read only for a rule's words.

    A rule's words (`bounce`) are common outside Customer.io code, so such a
    file is no candidate: a Python 2 script, a file over 1 MiB or one with a
    syntax error is skipped without an error. A file that may rebind a
    constant of a candidate module stays, and its error is reported.
    """
    unparsed = [path for path in files if path not in scanned]
    if not unparsed or not constants:
        return unparsed
    rebinding = build_attribute_prefilter(constants, constant_modules)
    return [path for path in unparsed if not rebinding.search(files[path])]


def unread_candidates(order: list[Path], parsed: set[Path], root: Path) -> list[str]:
    """Return the files of `order` that could not be read or parsed, as displayed, in path order.

    `order` contains the files that `read_project_files` gave to the parser:
    those that mention Customer.io or import what one of them defines. So
    each may send event names that no rule can read. Test code is left
    out, because its events do not reach the workspace.
    """
    unread = []
    for path in sorted(order, key=lambda path: path.as_posix()):
        displayed = display_path(path)
        if path not in parsed and not is_test_file(
            path_in_project(path, displayed, root)
        ):
            unread.append(displayed)
    return unread


class _Run:
    def __init__(self, all_files: list[Path], config: Config, cache: Cache) -> None:
        self.all_files = all_files
        self.config = config
        self.cache = cache
        self.backend: _SerialBackend | _ParallelBackend | None = None
        self.run_key = ""
        self.raw: dict[Path, bytes] = {}
        self.keys: dict[Path, str] = {}
        self.facts: dict[Path, FileFacts] = {}
        # Each file's path as its cache keys contain it (`_path_key`).
        self._path_keys: dict[Path, str] = {}
        self._declared: dict[Path, list[str]] = {}
        # The fingerprints of each folder's own declaration files. Outside git
        # the search of every folder goes up to the top of the file system,
        # so all of them share the folders above the root.
        self._own_declarations: dict[Path, list[str]] = {}
        self._shadowing = SdkShadowing(config.root)
        self._formatter_settings = FormatterSettings(config.root)
        # Each file's formatter settings, as its cache keys contain them.
        self._formatter_keys: dict[Path, str] = {}
        # Whether this run has warned about unreadable declaration files.
        self.declarations_checked = False

    def execute(self, raw_files: dict[Path, bytes]) -> RunResult:
        try:
            result = self._execute(raw_files)
        except BaseException:
            # Ctrl-C, SIGTERM or a failure ends the check here. The workers'
            # replies are no longer needed, so they are not waited for.
            if self.backend is not None:
                self.backend.close(wait=False)
            raise
        if self.backend is not None:
            self.backend.close()
        return result

    def _execute(self, raw_files: dict[Path, bytes]) -> RunResult:
        start = sdk_search_start(raw_files)
        if self.cache.enabled:
            self.run_key = run_fingerprint(self.config, start)
        order = read_project_files(
            self.all_files, raw_files, self.config.root, self._rule_words(), self._scan
        )
        warn_about_declarations(
            order, self.config.declarations_root, self._declaration_warnings
        )
        self.declarations_checked = True
        parsed = [path for path in order if self.facts[path].summary_digest is not None]
        by_path = sorted(parsed, key=lambda path: path.as_posix())
        unread = unread_candidates(order, set(parsed), self.config.root)
        # With `--apply`, the project-level rules check the fixed code too,
        # which each file's formatter settings lay out.
        project_key = digest(
            self.run_key,
            *[f"unread:{displayed}" for displayed in unread],
            *[
                f"{self._path_keys[path]}:{self.facts[path].summary_digest}"
                f":{self._formatter_keys[path]}"
                for path in parsed
            ],
        )
        project = _LazyProject(self, project_key, parsed, raw_files, unread)

        collected = self._collect(by_path, project)
        facts_key = digest(
            project_key,
            *[
                f"{self._path_keys[path]}:{collected[path].facts_digest}"
                for path in parsed
            ],
        )
        outcomes = self._check(by_path, project, collected, facts_key)
        # With `--apply`, the project-level rules read the fixed code, which
        # depends on the lookups of the files' checks too.
        outcomes_key = digest(
            facts_key,
            *[repr(lookup) for path in by_path for lookup in outcomes[path].lookups],
        )
        project_outcome = self._cached(f"project:{outcomes_key}", ProjectOutcome)
        if project_outcome is None:
            project_outcome = self._check_project(project, collected, outcomes)
            self._store(f"project:{outcomes_key}", project_outcome)
        return self._assemble(order, by_path, collected, outcomes, project_outcome)

    # -- cache ---------------------------------------------------------------------

    def _cached(self, key: str, expected: type) -> Any:
        """Return the entry under `key` when it is an `expected` with valid fields."""
        if not self.cache.enabled:
            return None
        value = self.cache.get(key)
        if not isinstance(value, expected) or not _valid_entry(value):
            return None
        return value

    def _store(self, key: str, value: Any) -> None:
        if self.cache.enabled:
            self.cache.put(key, value)

    def _rule_words(self) -> set[str]:
        key = f"rule-words:{self.run_key}"
        cached = self._cached(key, tuple)
        if cached is not None and all(isinstance(word, str) for word in cached):
            return set(cached)
        from cio_fix.rules import select_rules

        rules = select_rules(self.config.selected, self.config.ignored)
        words = {word for rule in rules for word in rule.prefilter_words}
        self._store(key, tuple(sorted(words)))
        return words

    # -- phase 1: parse --------------------------------------------------------------

    def _declarations(self, folder: Path) -> list[str]:
        """Fingerprint the files that may declare the customerio version for a folder.

        The version that applies to a file is the one declared nearest to it,
        so a service's own requirements file decides for the files below it.
        """
        if not self.cache.enabled:
            return []
        found = self._declared.get(folder)
        if found is None:
            found = []
            root = self.config.declarations_root
            for parent in folders_up_to(root, folder):
                own = self._own_declarations.get(parent)
                if own is None:
                    own = declaration_fingerprints(parent, root)
                    self._own_declarations[parent] = own
                found.extend(own)
            self._declared[folder] = found
        return found

    def _declaration_warnings(self, folder: Path) -> list[str]:
        """Return the warnings of the customerio version search from `folder`, cached.

        The key hashes the declaration files that the search may read.
        """
        root = self.config.declarations_root
        if not self.cache.enabled:
            return sdk_declaration_warnings(root, folder)
        key = digest(self.run_key, str(folder), *self._declarations(folder))
        cached = self._cached(f"declaration-warnings:{key}", tuple)
        if cached is not None and _all_of(cached, str):
            return list(cached)
        warnings = sdk_declaration_warnings(root, folder)
        self._store(f"declaration-warnings:{key}", tuple(warnings))
        return warnings

    def _shadowed_key(self, path: Path) -> str:
        """Return the SDK packages that the project hides from `path`, for its keys.

        They change every import of the file. The module that hides one
        may be excluded, and so in no other key.
        """
        if not self.cache.enabled:
            return ""
        return f"shadowed {sorted(self._shadowing.packages_for(path))}"

    def _formatter_key(self, path: Path) -> str:
        """Return the formatter settings that lay out the fixes of `path`, for its keys."""
        key = ""
        if self.cache.enabled:
            key = repr(self._formatter_settings.for_file(path))
        self._formatter_keys[path] = key
        return key

    def _scan(self, files: dict[Path, bytes]) -> dict[Path, ScanFacts]:
        missing: dict[Path, bytes] = {}
        for path, raw in files.items():
            self.raw[path] = raw
            self._path_keys[path] = _path_key(path)
            self.keys[path] = digest(
                self.run_key,
                self._path_keys[path],
                digest(raw),
                *self._declarations(path.parent),
                self._shadowed_key(path),
                self._formatter_key(path),
            )
            facts = self._cached(f"parse:{self.keys[path]}", FileFacts)
            if facts is None:
                missing[path] = raw
            else:
                self.facts[path] = facts
        if missing:
            for path, facts in self._parse(missing).items():
                self.facts[path] = facts
                self._store(f"parse:{self.keys[path]}", facts)
        return {
            path: self.facts[path].scan
            for path in files
            if self.facts[path].summary_digest is not None
        }

    def _parse(self, files: dict[Path, bytes]) -> dict[Path, FileFacts]:
        return self._backend(len(files)).parse(files)

    def _hold(self, paths: list[Path]) -> None:
        """Parse in the backend the files that it does not keep parsed yet."""
        backend = self._backend(len(paths))
        unparsed = {path: self.raw[path] for path in paths if path not in backend.held}
        if unparsed:
            backend.parse(unparsed)

    def _backend(self, files: int) -> _SerialBackend | _ParallelBackend:
        if self.backend is None:
            # More processes than CPUs only add start-up time and memory:
            # `--jobs 1000` on 2 CPUs checked a 200-file project in 34 s, not 7 s.
            cpus = available_cpus()
            jobs = min(self.config.jobs or cpus, cpus)
            if jobs > 1 and files >= PARALLEL_MIN_FILES:
                self.backend = _ParallelBackend(self.config, min(jobs, files))
            else:
                self.backend = _SerialBackend(self.config)
        return self.backend

    # -- phase 3: rule facts -----------------------------------------------------------

    def _collect(
        self, paths: list[Path], project: _LazyProject
    ) -> dict[Path, CollectedFacts]:
        collected: dict[Path, CollectedFacts] = {}
        missing: list[Path] = []
        for path in paths:
            key = f"collect:{digest(self.keys[path], project.key)}"
            facts = self._cached(key, CollectedFacts)
            if facts is None:
                missing.append(path)
            else:
                collected[path] = facts
        if missing:
            self._hold(missing)
            for path, facts in self.backend.collect(missing, project.data()).items():
                collected[path] = facts
                self._store(f"collect:{digest(self.keys[path], project.key)}", facts)
        return collected

    # -- phase 4: findings and fixes ---------------------------------------------------

    def _check(
        self,
        paths: list[Path],
        project: _LazyProject,
        collected: dict[Path, CollectedFacts],
        facts_key: str,
    ) -> dict[Path, CheckOutcome]:
        outcomes: dict[Path, CheckOutcome] = {}
        missing: list[Path] = []
        repeated: dict[Lookup, bool] = {}
        for path in paths:
            entry = self._cached(
                f"check:{digest(self.keys[path], facts_key)}", CachedCheck
            )
            if (
                entry is None
                or entry.source_digest != digest(self.raw[path])
                or not unchanged(entry.outcome.lookups, repeated)
            ):
                missing.append(path)
                continue
            entry.outcome.file.path = path
            entry.outcome.file.original = self.raw[path]
            outcomes[path] = entry.outcome
        if not missing:
            return outcomes

        self._hold(missing)
        facts_blobs = [collected[path].blob for path in project.paths]
        checked = self.backend.check(missing, project.data(), facts_blobs)
        for path, outcome in checked.items():
            entry = CachedCheck(digest(self.raw[path]), outcome)
            self._store(f"check:{digest(self.keys[path], facts_key)}", entry)
            outcome.file.original = self.raw[path]
            outcomes[path] = outcome
        return outcomes

    def _check_project(
        self,
        project: _LazyProject,
        collected: dict[Path, CollectedFacts],
        outcomes: dict[Path, CheckOutcome],
    ) -> ProjectOutcome:
        """Run the project-level rules; with `--apply`, check them on the fixed code too.

        The findings that the fixes removed are marked, and those that only
        the fixed code gives are added. Both are part of the cached outcome:
        the fixed code that they depend on is cached under the same key.
        """
        index = project.index()
        for summary, path in zip(index.summaries, project.paths, strict=True):
            summary.rule_facts.update(_load_rule_facts(collected[path].blob))
        if isinstance(self.backend, _SerialBackend):
            checker = self.backend.worker.checker
        else:
            from cio_fix.checker import Checker

            checker = Checker(self.config)
        findings, errors = checker.check_project(index)
        updates: list[FindingUpdate] = []
        if self.config.fixed_positions:
            fixed_files = _fixed_files(outcomes)
            checked = {
                path: outcome.file.findings for path, outcome in outcomes.items()
            }
            revealed, updates = checker.settle_project_findings(
                index, findings, fixed_files, checked, self.raw
            )
            findings.extend(revealed)
        return ProjectOutcome(findings, errors, updates)

    # -- the result ----------------------------------------------------------------------

    def _assemble(
        self,
        order: list[Path],
        by_path: list[Path],
        collected: dict[Path, CollectedFacts],
        outcomes: dict[Path, CheckOutcome],
        project_outcome: ProjectOutcome,
    ) -> RunResult:
        """Put the results together in the order that `Checker.check` produces them."""
        result = RunResult()
        for path in order:
            result.errors.extend(self.facts[path].errors)
        for path in by_path:
            result.errors.extend(collected[path].errors)
        for path in by_path:
            outcome = outcomes[path]
            result.files.append(outcome.file)
            result.errors.extend(outcome.errors)
            result.secrets.update(outcome.secrets)
        result.errors.extend(project_outcome.errors)
        update_findings(
            {path: outcomes[path].file for path in by_path},
            project_outcome.updates,
            result,
        )
        findings = project_outcome.findings
        if findings:
            from cio_fix.suppressions import reported_project_findings

            sources = {Path(display_path(path)): raw for path, raw in self.raw.items()}
            fixed_sources = {
                **sources,
                **{
                    Path(display_path(path)): fixed
                    for path, fixed in _fixed_files(outcomes).items()
                },
            }
            findings = reported_project_findings(
                findings, self.config, sources, fixed_sources
            )
        add_project_findings(result, findings)
        return result


def _path_key(path: Path) -> str:
    """Return the path of a file as its cache keys contain it: as named, then resolved.

    The absolute path as named decides the path that findings show (the
    working directory is part of every key) and the `per-file-ignores`
    that match. The resolved path decides the module name. A symbolic link
    and its target differ in the first, so neither reuses the results of
    the other, whose findings carry the other path.
    """
    return f"{path.absolute()}\0{path.resolve()}"


def _fixed_files(outcomes: dict[Path, CheckOutcome]) -> dict[Path, bytes]:
    """Map each file that the fixes changed to its fixed bytes."""
    return {
        path: outcome.file.fixed
        for path, outcome in outcomes.items()
        if outcome.file.changed and outcome.file.fixed is not None
    }


def _valid_entry(value: Any) -> bool:
    """Check the field types of a cache entry, which the cache reads from disk."""
    if isinstance(value, FileFacts):
        parsed = isinstance(value.summary_blob, bytes)
        return (
            parsed == isinstance(value.summary_digest, str)
            and (parsed or value.summary_blob is None)
            and (parsed or value.summary_digest is None)
            and isinstance(value.scan, ScanFacts)
            and _all_of(value.scan.words, str)
            and _all_of(value.scan.imported, str)
            and _all_of(value.scan.constants, str)
            and _all_of(value.scan.class_modules, str)
            and _all_of(value.scan.route_names, str)
            and _all_of(value.errors, FileError)
        )
    if isinstance(value, CollectedFacts):
        return (
            isinstance(value.blob, bytes)
            and isinstance(value.facts_digest, str)
            and _all_of(value.errors, FileError)
        )
    if isinstance(value, CachedCheck):
        outcome = value.outcome
        return (
            isinstance(value.source_digest, str)
            and isinstance(outcome, CheckOutcome)
            and isinstance(outcome.file, FileResult)
            and _all_of(outcome.file.findings, Finding)
            and _all_of(outcome.file.errors, FileError)
            and isinstance(outcome.file.fixed, (bytes, type(None)))
            and _all_of(outcome.errors, FileError)
            and isinstance(outcome.secrets, set)
            and _all_of(outcome.secrets, str)
            and _all_of(outcome.lookups, Lookup)
            and all(_valid_lookup(lookup) for lookup in outcome.lookups)
        )
    if isinstance(value, ProjectOutcome):
        return (
            _all_of(value.findings, Finding)
            and _all_of(value.errors, FileError)
            and _all_of(value.updates, FindingUpdate)
        )
    return True


def _valid_lookup(lookup: Lookup) -> bool:
    return (
        isinstance(lookup.kind, str)
        and isinstance(lookup.arguments, tuple)
        and _all_of(lookup.arguments, str)
        and isinstance(lookup.result, str)
    )


def _all_of(values: Any, expected: type) -> bool:
    if not isinstance(values, (list, tuple, set)):
        return False
    return all(isinstance(value, expected) for value in values)


def update_findings(
    files: dict[Path, FileResult], updates: list[FindingUpdate], result: RunResult
) -> None:
    """Apply what the fixed code of the changed files changes about the files' findings.

    A finding gone is marked as fixed and listed in `result`, for the
    engine to take back when it does not write every fix.
    """
    for update in updates:
        finding = files[update.path].findings[update.index]
        if update.in_fixed_project is not None:
            finding.in_fixed_project = update.in_fixed_project
            continue
        finding.applied = True
        if finding.fix is None and update.fix_safety is not None:
            finding.fix = Fix(update.fix_safety, description=AFTER_ANOTHER_FIX)
        result.fixed_project_findings.append(finding)


def add_project_findings(result: RunResult, findings: list[Finding]) -> None:
    """Give each project-level finding to the result of its file, adding one if needed.

    The findings that `--apply`'s fixes removed or revealed are listed apart
    too, for the engine to take back when it does not write every fix.
    """
    by_path = {Path(display_path(file.path)): file for file in result.files}
    for finding in findings:
        owner = by_path.get(finding.path)
        if owner is None:
            owner = FileResult(path=finding.path)
            by_path[finding.path] = owner
            result.files.append(owner)
        owner.findings.append(finding)
        if finding.applied:
            result.fixed_project_findings.append(finding)
        elif finding.in_fixed_code:
            result.revealed_project_findings.append(finding)


class _LazyProject:
    """The project index of a run, built only when a phase misses the cache."""

    def __init__(
        self,
        run: _Run,
        key: str,
        paths: list[Path],
        raw_files: dict[Path, bytes],
        unread_files: list[str],
    ) -> None:
        self.run = run
        self.key = key
        self.paths = paths
        self.raw_files = raw_files
        self.unread_files = unread_files
        self._data: ProjectData | None = None

    def data(self) -> ProjectData:
        if self._data is None:
            blobs = []
            for path in self.paths:
                blob = self.run.facts[path].summary_blob
                assert blob is not None
                blobs.append(blob)
            self._data = ProjectData(self.key, self.paths, blobs, self.unread_files)
        return self._data

    def index(self) -> ProjectIndex:
        return build_project(self.data())


def build_project(data: ProjectData) -> ProjectIndex:
    """Unpickle the summaries of `data` into a project index."""
    from cio_fix.project import ProjectIndex

    summaries = [load_blob(blob) for blob in data.summary_blobs]
    return ProjectIndex(summaries, data.unread_files)


def _load_rule_facts(blob: bytes) -> dict[str, Any]:
    facts = load_blob(blob)
    if not isinstance(facts, dict):
        raise PipelineUnavailable(
            "cached rule facts are not a table by rule code", from_cache=True
        )
    return facts


def load_blob(blob: bytes) -> Any:
    """Unpickle a summary or rule facts, which may come from the cache."""
    try:
        return loads(blob)
    except Exception as error:
        raise PipelineUnavailable(
            f"a cached summary or rule fact is unreadable ({type(error).__name__})",
            from_cache=True,
        ) from error


# -- backends ----------------------------------------------------------------------


# Frames a request may use below its entry: Python's default recursion limit.
# Deeply nested files hit it in the same place whichever process checks them.
STACK_BUDGET = 1000


@contextlib.contextmanager
def _stack_budget() -> Iterator[None]:
    """Let the code in the block use STACK_BUDGET frames, however deep it starts.

    The main process starts a request deeper in its stack than a worker, so
    without this a file nested near the limit failed in one and not the other.
    """
    depth = 0
    frame: Any = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + STACK_BUDGET)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


class _Worker:
    """The phases for the files of one process; each file stays parsed until checked."""

    def __init__(self, config: Config) -> None:
        from cio_fix.checker import Checker

        self.config = config
        self.checker: Checker = Checker(config)
        self.project_key: str | None = None
        self.project: ProjectIndex | None = None

    def parse(self, files: dict[Path, bytes]) -> dict[Path, FileFacts]:
        found = {}
        with _stack_budget(), _collector_off_then_frozen():
            parsed = self.checker.parse_files(files)
        for path, outcome in parsed.items():
            summary = outcome.summary
            if summary is None:
                found[path] = FileFacts(None, None, errors=outcome.errors)
                continue
            from cio_fix.checker import scan_facts

            found[path] = FileFacts(
                _pickled(summary), canonical_digest(summary), scan_facts(summary)
            )
            found[path].errors = outcome.errors
        return found

    def collect(
        self, paths: list[Path], data: ProjectData
    ) -> dict[Path, CollectedFacts]:
        project = self._project(data)
        found = {}
        for path in paths:
            with _stack_budget():
                facts, errors = self.checker.collect_file(path, project)
            # Only cache keys read the digest, and a run whose configuration
            # turns the cache off opens none (`engine._run_project`).
            facts_digest = canonical_digest(facts) if self.config.cache else ""
            found[path] = CollectedFacts(_pickled(facts), facts_digest, errors)
        return found

    def check(
        self, paths: list[Path], data: ProjectData, facts_blobs: list[bytes]
    ) -> dict[Path, CheckOutcome]:
        project = self._project(data)
        for summary, blob in zip(project.summaries, facts_blobs, strict=True):
            summary.rule_facts = _load_rule_facts(blob)
        found = {}
        for number, path in enumerate(paths, 1):
            with _stack_budget(), recording() as lookups:
                outcome = self.checker.check_file(path, project)
            outcome.lookups = lookups
            # The caller has the bytes already; they need not cross processes.
            outcome.file.original = None
            found[path] = outcome
            self.checker.contexts.pop(path).index.release()
            if number % TRIM_EVERY == 0:
                trim_memory()
        return found

    def _project(self, data: ProjectData) -> ProjectIndex:
        if self.project is None or self.project_key != data.key:
            self.project = build_project(data)
            self.project_key = data.key
        return self.project


def _pickled(value: Any) -> bytes:
    try:
        data = dumps(value)
        loads(data)
    except Exception as error:
        raise PipelineUnavailable(
            f"a summary or rule fact cannot be cached ({type(error).__name__}: {error})"
        ) from error
    return data


class _SerialBackend:
    """A backend that runs the phases in this process."""

    def __init__(self, config: Config) -> None:
        self.worker = _Worker(config)

    @property
    def held(self) -> set[Path]:
        return set(self.worker.checker.contexts)

    def parse(self, files: dict[Path, bytes]) -> dict[Path, FileFacts]:
        return self.worker.parse(files)

    def collect(
        self, paths: list[Path], data: ProjectData
    ) -> dict[Path, CollectedFacts]:
        return self.worker.collect(paths, data)

    def check(
        self, paths: list[Path], data: ProjectData, facts_blobs: list[bytes]
    ) -> dict[Path, CheckOutcome]:
        outcomes = self.worker.check(paths, data, facts_blobs)
        # Each outcome goes through pickle, as from a worker process, so that
        # a result that cannot be cached fails the same way in every run.
        return {path: _round_trip(outcome) for path, outcome in outcomes.items()}

    def close(self, wait: bool = True) -> None:
        pass


def _round_trip(outcome: CheckOutcome) -> CheckOutcome:
    try:
        return loads(dumps(outcome))
    except Exception as error:
        raise PipelineUnavailable(
            f"a check result cannot be cached ({type(error).__name__}: {error})"
        ) from error


class _ParallelBackend:
    """This process and `jobs - 1` workers, each keeping its shard of parsed files.

    A file goes to one shard when it is parsed and stays there: its collect
    and check requests go to the same process (sticky shards). Shard 0 is
    this process's own, so a run with two jobs keeps two sets of parsed
    files in two processes rather than three.
    """

    def __init__(self, config: Config, jobs: int) -> None:
        # Imported before the workers fork, so that they start with the
        # rules and libcst loaded.
        import cio_fix.checker  # noqa: F401

        # black too, which the fixes of most runs import: a worker that
        # imports it itself keeps a copy of its own. On the heavy benchmark
        # corpus that was 3.6 MB of the peak memory of two processes.
        with contextlib.suppress(ImportError):
            import black  # noqa: F401

        method = "fork" if sys.platform.startswith("linux") else "spawn"
        context = multiprocessing.get_context(method)
        # Objects that exist now move out of the garbage collector's reach,
        # so that its passes in either process do not write to (and so copy)
        # the memory pages a forked worker shares with this one.
        gc.freeze()
        self.jobs = jobs
        self.connections: list[Connection] = []
        self.processes: list[Any] = []
        self.load = [0] * jobs
        self.owner: dict[Path, int] = {}
        self.held: set[Path] = set()
        for _ in range(jobs - 1):
            ours, theirs = context.Pipe()
            # A forked worker inherits this process's end of its own pipe and
            # of the earlier workers' pipes. It closes them, so that its read
            # gets end-of-file when this process ends, even by a signal.
            inherited = [*self.connections, ours] if method == "fork" else []
            process = context.Process(
                target=_serve, args=(theirs, config, inherited), daemon=True
            )
            process.start()
            theirs.close()
            self.connections.append(ours)
            self.processes.append(process)
        self.local = _Worker(config)

    def parse(self, files: dict[Path, bytes]) -> dict[Path, FileFacts]:
        shards: list[dict[Path, bytes]] = [{} for _ in range(self.jobs)]
        # The largest files first, each to the worker with the least work so far.
        ordered = sorted(files, key=lambda path: (-len(files[path]), path.as_posix()))
        for path in ordered:
            worker = self.owner.get(path)
            if worker is None:
                worker = self.load.index(min(self.load))
                self.owner[path] = worker
            self.load[worker] += len(files[path])
            shards[worker][path] = files[path]
        requests = [("parse", shard) if shard else None for shard in shards]
        found: dict[Path, FileFacts] = {}
        for reply in self._exchange(requests):
            found.update(reply)
        for path, facts in found.items():
            if facts.summary_digest is not None:
                self.held.add(path)
        return found

    def collect(
        self, paths: list[Path], data: ProjectData
    ) -> dict[Path, CollectedFacts]:
        shards = self._shards(paths)
        requests = [("collect", shard, data) if shard else None for shard in shards]
        found: dict[Path, CollectedFacts] = {}
        for reply in self._exchange(requests):
            found.update(reply)
        return found

    def check(
        self, paths: list[Path], data: ProjectData, facts_blobs: list[bytes]
    ) -> dict[Path, CheckOutcome]:
        shards = self._shards(paths)
        requests = [
            ("check", shard, data, facts_blobs) if shard else None for shard in shards
        ]
        found: dict[Path, CheckOutcome] = {}
        for reply in self._exchange(requests):
            found.update(reply)
        self.held.difference_update(paths)
        return found

    def _shards(self, paths: list[Path]) -> list[list[Path]]:
        shards: list[list[Path]] = [[] for _ in range(self.jobs)]
        for path in paths:
            shards[self.owner[path]].append(path)
        return shards

    def _exchange(self, requests: list[Any]) -> list[Any]:
        """Send each worker its request, run this process's own, then collect the replies.

        `requests` has one entry per shard, None for a shard with no work.
        """
        own, theirs = requests[0], requests[1:]
        for number, request in enumerate(theirs):
            if request is not None:
                try:
                    self.connections[number].send_bytes(dumps(request))
                except OSError as error:
                    raise self._lost(number, error) from error
        answers = []
        if own is not None:
            answers.append(_handle(self.local, own))
        for number, request in enumerate(theirs):
            if request is not None:
                try:
                    answers.append(self.connections[number].recv_bytes())
                except (OSError, EOFError) as error:
                    raise self._lost(number, error) from error
        replies = []
        for answer in answers:
            try:
                status, payload = pickle.loads(answer)
            except pickle.PickleError as error:
                raise PipelineUnavailable(
                    f"a worker process's reply cannot be read ({error})"
                ) from error
            if status != "ok":
                message, from_cache = payload
                raise PipelineUnavailable(message, from_cache)
            replies.append(payload)
        return replies

    def _lost(self, number: int, error: BaseException) -> PipelineUnavailable:
        """Describe how worker `number` was lost, by its exit when it ended."""
        process = self.processes[number]
        # The pipe closes as the process ends, so the exit status follows soon.
        process.join(timeout=WORKER_EXIT_WAIT_SECONDS)
        status = process.exitcode
        if status is None:
            reason = f"the connection to it failed: {type(error).__name__}: {error}"
            return PipelineUnavailable(f"a worker process stopped answering ({reason})")
        if status < 0:
            how = f"killed by signal {-status}"
            with contextlib.suppress(ValueError):
                how += f", {signal.Signals(-status).name}"
        else:
            how = f"exit status {status}"
        return PipelineUnavailable(f"a worker process ended unexpectedly ({how})")

    def close(self, wait: bool = True) -> None:
        """Stop the workers, or without `wait` kill them even amid a request."""
        for connection in self.connections:
            if wait:
                with contextlib.suppress(OSError):
                    connection.send_bytes(dumps(("stop",)))
            connection.close()
        for process in self.processes:
            if wait:
                process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()


def _serve(connection: Connection, config: Config, inherited: list[Connection]) -> None:
    """Handle parse, collect and check requests in a worker process until a stop request.

    `inherited` contains the main process's ends of the pipes, which a
    forked worker closes. The worker then returns when the main process
    ends, at the next read or reply.
    """
    for end in inherited:
        end.close()
    # Ctrl-C reaches every process of the terminal's group: the main process
    # stops the run and its workers, which would only print tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A forked worker inherits the main process's SIGTERM handler, whose
    # cleanups concern only the main process.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # A worker started with spawn rather than fork has the default threshold.
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    worker = _Worker(config)
    while True:
        try:
            request = pickle.loads(connection.recv_bytes())
        except (EOFError, ConnectionError):
            # The main process closed its end or ended.
            return
        if request[0] == "stop":
            return
        try:
            connection.send_bytes(_handle(worker, request))
        except ConnectionError:
            # The main process ended while this request ran.
            return


def _handle(worker: _Worker, request: tuple[Any, ...]) -> bytes:
    """Run one parse, collect or check request and return the pickled status and reply.

    The reply is pickled in this process too, so that what crosses from a
    worker and what stays here are the same.
    """
    try:
        if request[0] == "parse":
            reply: Any = worker.parse(request[1])
        elif request[0] == "collect":
            reply = worker.collect(request[1], request[2])
        else:
            reply = worker.check(request[1], request[2], request[3])
        return dumps(("ok", reply))
    except Exception as error:
        logger.debug("worker request %s failed", request[0], exc_info=True)
        from_cache = isinstance(error, PipelineUnavailable) and error.from_cache
        message = str(error)
        if not isinstance(error, PipelineUnavailable):
            message = f"checking the files failed ({type(error).__name__}: {error})"
        return dumps(("failed", (message, from_cache)))


def _reexported_modules(scanned: Collection[ScanFacts]) -> set[str]:
    """Return the modules that define the imported values that a read module re-exports.

    `from app import Event` reads `app/__init__.py`. When that imports
    `Event` from `app.events`, the value is defined in `app.events`.
    """
    names: set[str] = set()
    for facts in scanned:
        names.update(facts.imported_names)
    return _modules_through_reexports(scanned, names)


def _route_modules(scanned: Collection[ScanFacts]) -> set[str]:
    """Return the modules that may define the read modules' route factories and their apps.

    They are the modules named by the imports (`from app.routing import
    json_post`), and those that a read package re-exports the names from.
    """
    names: set[str] = set()
    for facts in scanned:
        names.update(facts.route_names)
    if not names:
        return set()
    return modules_defining(names) | _modules_through_reexports(scanned, names)


def _modules_through_reexports(
    scanned: Collection[ScanFacts], names: set[str]
) -> set[str]:
    """Return the modules that define `names` where the read modules re-export them."""
    if not names:
        return set()
    exports: dict[str, str] = {}
    for facts in scanned:
        for local, qualified in facts.exports:
            exports[f"{facts.module}.{local}"] = qualified
    return modules_defining(reexported_names(names, exports))


def _read_named_modules(
    module_names: set[str], all_files: list[Path], root: Path, seen: dict[Path, bytes]
) -> dict[Path, bytes]:
    """Read the files of `all_files` not in `seen` that may be the modules of `module_names`."""
    if not module_names:
        return {}
    # Only a file named like the module's last part, or the `__init__.py`
    # of a folder so named, can be that module.
    last_parts = {name.rpartition(".")[2] for name in module_names}
    named = [
        path
        for path in all_files
        if path.stem in last_parts
        or (path.name == "__init__.py" and path.parent.name in last_parts)
    ]
    modules = modules_by_name(named, root)
    return _read_modules(module_names, modules, seen)


def _read_modules(
    wanted: set[str], modules: dict[str, list[Path]], seen: dict[Path, bytes]
) -> dict[Path, bytes]:
    found: dict[Path, bytes] = {}
    for name in wanted:
        # When several files could be the module (`app/cio.py` in two
        # services), all are read, so the project index finds the name
        # ambiguous instead of taking the one it happened to parse.
        for path in modules.get(name, []):
            if path in seen or path in found:
                continue
            try:
                found[path] = path.read_bytes()
            except OSError:
                continue
    return found
