"""Parse the candidate files, build the indexes, run the rules and the fixes.

Kept apart from `engine` so that a run without candidate files never
imports libcst.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import libcst as cst

from cio_fix.config import Config
from cio_fix.customerio import FileIndex, build_index
from cio_fix.edits import apply_fixes, choose_fixes, keeps_comments, moved_pragma
from cio_fix.engine import (
    AFTER_ANOTHER_FIX,
    MAX_PASSES,
    changes_code,
    display_path,
    fix_allowed,
    mark_applied,
)
from cio_fix.formatting import format_fixed_file
from cio_fix.interrupts import stop_if_interrupted
from cio_fix.metadata import code_of, parents
from cio_fix.model import (
    FileError,
    FileResult,
    Finding,
    Fix,
    FixSafety,
    PartlyCheckedError,
    RunResult,
    has_note,
    with_note,
)
from cio_fix.modules import SdkShadowing
from cio_fix.pipeline import (
    CheckOutcome,
    FindingUpdate,
    ScanFacts,
    add_project_findings,
    read_project_files,
    unread_candidates,
    update_findings,
)
from cio_fix.project import (
    ModuleSummary,
    ProjectIndex,
    class_modules,
    imported_modules,
    imported_names,
    module_name_for,
    prefilter_words,
    summarise,
)
from cio_fix.quotes import requote_replacements, with_quote
from cio_fix.round_trip import (
    ChangedLineRewritten,
    RoundTrip,
    has_mixed_line_endings,
    with_source_line_endings,
)
from cio_fix.rules import FileContext, Rule, all_rules, select_rules
from cio_fix.style import FormatterSettings
from cio_fix.suppressions import (
    moves_silenced_code,
    reported_findings,
    reported_project_findings,
)
from cio_fix.wrappers import withhold_wrapper_fixes
from cio_fix.writer import SourceError, decode_source

logger = logging.getLogger(__name__)


# libcst and the index walk recurse once per level of nesting, so a file of
# generated code (350 nested conditional expressions) can exceed Python's
# recursion limit. Long chains of strings, `+` and `and`/`or` are read with
# loops instead (`cio_fix.chains`).
NESTED_TOO_DEEPLY = "nested too deeply to analyse (past Python's recursion limit)"
TOO_DEEP = (
    f"{NESTED_TOO_DEEPLY}; the file is unchanged, exclude it if it is generated code"
)
# The key of a file's rule facts under which `collect_file` lists the rules
# whose `collect` went past the recursion limit, for `check_file`. No rule
# code looks like it.
TOO_DEEP_RULES = "too-deep-rules"


# The known causes of a line that libcst prints back with other bytes,
# seen with libcst 1.9 (`cio_fix.round_trip`).
_KNOWN_CAUSES = (
    "a form feed that starts a line, a carriage return that ends the file, and"
    " a space before the colon of `except X :` are known causes"
)
# The reason that a run without `--unsafe-fixes` gives for an unsafe fix it
# takes off. The fix would change a line that libcst does not print back,
# so `--apply --unsafe-fixes` would leave the whole file unfixed.
CHANGES_UNREPRODUCED_LINE = (
    "not fixed: the fix would change a line that libcst does not print back"
    f" byte for byte; {_KNOWN_CAUSES}, so fix it by hand or remove the cause"
)


def _lines_do_not_align(round_trip: RoundTrip) -> str:
    """Describe a file whose print by libcst has a different number of lines."""
    return (
        f"not fixed: libcst does not print line {round_trip.first_changed_line}"
        f" back byte for byte ({_KNOWN_CAUSES}), and its print of the file"
        " has a different number of lines, so the fixes would change other lines"
        " too; the findings are reported, fix them by hand or change that line"
    )


def _fixes_change_unreproduced_line(line: int) -> str:
    return (
        f"not fixed: the fixes would change line {line}, which libcst does not"
        f" print back byte for byte ({_KNOWN_CAUSES}); the findings are"
        " reported, fix them by hand or change that line"
    )


BROKEN_CODE = (
    "internal error: a fix produced code that does not compile;"
    " the file is unchanged, please report it"
)
MOVES_SILENCED = (
    "not fixed: the fix would move code that a `# noqa` comment silences away"
    " from the comment; fix it by hand"
)
LOSES_COMMENT = (
    "not fixed: the fix would lose a comment inside the code it rewrites;"
    " fix it by hand"
)
MOVES_PRAGMA = (
    "not fixed: the fixed statement does not fit on one line, and splitting it"
    " would move `{comment}` off the line of the code that it is about;"
    " fix it by hand"
)
NOT_SETTLED = (
    "not fixed: the fixes in this file kept changing each other's code and did"
    " not settle, so this rule's fixes are left out; please report it"
)
UNENCODABLE = (
    "not fixed: the fixed code contains characters that the file's encoding"
    " {encoding} cannot contain; fix it by hand"
)
# The two reasons above, filled in, where `with_note` puts them in a message.
_UNENCODABLE_SUFFIX = re.compile(
    " \\((?P<reason>"
    + re.escape(UNENCODABLE).replace("\\{encoding\\}", "\\S+")
    + ")\\)\\.?$"
)
_MOVES_PRAGMA_SUFFIX = re.compile(
    " \\((?P<reason>"
    + re.escape(MOVES_PRAGMA).replace("\\{comment\\}", ".+?")
    + ")\\)\\.?$"
)
# A finding that only the fixed code has: its line is one of the fixed file.
REVEALED = "in code that this run's fixes wrote; the line is that of the fixed file"
REVEALED_FIXABLE = REVEALED + "; run cio-fix again to fix it"


# libcst's parser recurses in native code, which Python's recursion limit
# does not guard: `a and a and ...` with 8,000 operands overflowed the
# main thread's stack (8 MB here) and killed the process. The parse runs in
# a thread with this much stack, which is reserved, not used, until needed.
PARSER_STACK_BYTES = 256 * 1024 * 1024


def parse_with_large_stack(text: str) -> cst.Module:
    """Parse `text` with libcst on a thread whose stack deep code cannot overflow."""
    return _parser().submit(_parse_without_validation, text).result()


_VALIDATE = cst.CSTNode.__post_init__


def _skip_validation(node: cst.CSTNode) -> None:
    pass


def _parse_without_validation(text: str) -> cst.Module:
    """Parse `text` without libcst's check of each node it builds.

    libcst validates every node it builds, and its parser builds only
    valid ones: the checks cost about an eighth of a parse. They are off
    only while this thread parses, and cio-fix builds no other node then,
    because the callers wait for the parse. With a libcst whose
    `__post_init__` does more than validate, the checks stay on.
    """
    if _VALIDATE.__code__.co_names != ("_validate",):
        return cst.parse_module(text)
    # NOTE: the switch is process-wide, so a program that embeds cio-fix
    # and builds libcst nodes on another thread meanwhile gets them unchecked.
    cst.CSTNode.__post_init__ = _skip_validation  # type: ignore[method-assign]
    try:
        return cst.parse_module(text)
    finally:
        cst.CSTNode.__post_init__ = _VALIDATE  # type: ignore[method-assign]


# The thread that parses, started once per process: starting a thread with
# a large stack for every file cost about a fifth of the parse.
_PARSER: ThreadPoolExecutor | None = None


def _parser() -> ThreadPoolExecutor:
    global _PARSER
    if _PARSER is None:
        previous = threading.stack_size(PARSER_STACK_BYTES)
        try:
            executor = ThreadPoolExecutor(1, thread_name_prefix="cio-fix-parse")
            # The executor starts its thread on the first task, so this task
            # makes it start while the large stack size is set.
            executor.submit(int).result()
        finally:
            threading.stack_size(previous)
        _PARSER = executor
    return _PARSER


def _forget_parser() -> None:
    """Drop the parser thread in a forked worker, which does not inherit the thread."""
    global _PARSER
    _PARSER = None


os.register_at_fork(after_in_child=_forget_parser)


def _encodes(fix: Fix, encoding: str, module: cst.Module) -> bool:
    """Tell whether the file's encoding can write the code that `fix` adds.

    UTF-8 writes every character that a parsed file can contain, so only
    files that declare another encoding are checked.
    """
    if encoding in ("utf-8", "utf-8-sig"):
        return True
    texts = [statements.code for statements in fix.inserts]
    for node in fix.replacements.values():
        if isinstance(node, cst.CSTNode):
            texts.append(code_of(node, module))
    try:
        for text in texts:
            text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


class _Unfixable(Exception):
    """The fixes of one file failed verification; the file stays as it is."""


class _BrokenCode(_Unfixable):
    """The fixes of one file produced code that does not compile."""


class _NotSettled(_Unfixable):
    """The fixes of one file still changed the code after MAX_PASSES passes."""

    def __init__(self, codes: set[str]) -> None:
        super().__init__(
            f"internal error: fixes did not settle after {MAX_PASSES} passes;"
            " the file is unchanged, please report it"
        )
        # The rules whose fixes the last pass still had to apply.
        self.codes = codes


def _round_trip_of(context: FileContext) -> RoundTrip | None:
    """Compare a file with libcst's print of it, or return None when they are equal."""
    printed = context.printed_code()
    if printed == context.source.text:
        return None
    return RoundTrip(context.source.text, printed)


def _aligned_round_trip_of(
    context: FileContext, findings: list[Finding]
) -> RoundTrip | None:
    """Compare a file that has findings with fixes with libcst's print of it.

    Returns None when there is no fix, or when the print is the file.
    Raises _Unfixable when the print has a different number of lines,
    because no fix can then tell which of the file's lines to keep.
    """
    if all(finding.fix is None for finding in findings):
        return None
    round_trip = _round_trip_of(context)
    if round_trip is not None and not round_trip.lines_align:
        raise _Unfixable(_lines_do_not_align(round_trip))
    return round_trip


def _with_unreproduced_lines(context: FileContext, new_code: str) -> str:
    """Return the fixed code with the source's bytes on each line the fixes left alone.

    `new_code` is libcst's print of the fixed tree. Raises _Unfixable when
    the fixes change a line that libcst does not print back byte for byte.
    """
    round_trip = _round_trip_of(context)
    if round_trip is None:
        return new_code
    try:
        return round_trip.with_source_lines(new_code)
    except ChangedLineRewritten as error:
        raise _Unfixable(_fixes_change_unreproduced_line(error.line)) from error


def _with_source_line_endings(context: FileContext, code: str) -> str:
    """Restore the source's line endings in the fixed code of a file that mixes them."""
    if not has_mixed_line_endings(context.source.text):
        return code
    return with_source_line_endings(context.source.text, code)


@dataclass
class _Passes:
    """The outcome of the fix passes over one file."""

    # The fixed code.
    code: str
    # The fixes of the first pass.
    first: list[Fix]
    # How many fixes of each rule the later passes applied.
    later: Counter[str]
    # The findings left in the fixed module, with their nodes.
    left: list[tuple[Finding, cst.CSTNode | None]]
    # Findings of rules that had none in the file until the fixes wrote code.
    revealed: list[Finding] = field(default_factory=list)
    # The codes of the rules that the passes re-checked: those of `left`.
    rechecked: set[str] = field(default_factory=set)
    # The codes of the file's rules that the final check ran on the fixed
    # code. These are all of them with `fixed_positions`, and none in a
    # dry run.
    checked_at_end: set[str] = field(default_factory=set)
    # The findings of the file's rules in the fixed code, each with its
    # position in the fixed file (the one black formatted, when it did) and
    # its node there.
    located: list[tuple[Finding, cst.CSTNode | None]] = field(default_factory=list)


@dataclass
class ParseOutcome:
    """The parse of one file: its summary (None when it did not parse) and errors."""

    summary: ModuleSummary | None
    errors: list[FileError] = field(default_factory=list)


def _own_rule_facts(context: FileContext) -> dict[str, Any]:
    """Return the rule facts of the file of `context` in its project index."""
    by_path = context.project.shared(
        "summaries-by-path",
        lambda project: {summary.path: summary for summary in project.summaries},
    )
    summary = by_path.get(context.path)
    return summary.rule_facts if summary is not None else {}


def partly_checked_message(codes: Iterable[str], outcome: str) -> str:
    """Describe a file that the rules `codes` did not finish because of its nesting.

    `outcome` is a clause that states what became of the other rules' findings.
    """
    return (
        f"not fully checked: {NESTED_TOO_DEEPLY} for {', '.join(sorted(codes))};"
        f" {outcome}; exclude it if it is generated code"
    )


def _too_deep_message(codes: set[str], fixed: bool) -> str:
    reported = "the findings of the other rules are reported"
    if not fixed:
        reported += ", but the file is not fixed"
    return partly_checked_message(codes, reported)


class Checker:
    """Parse, index, check and fix files in this process.

    `check` runs every phase over a whole project. The worker processes of
    `cio_fix.pipeline` call the phases one by one instead: `parse_files`,
    `collect_file`, `check_file` and `check_project`, and each keeps its
    parsed files (`contexts`) between the phases.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.rules = select_rules(config.selected, config.ignored)
        self.rules_by_code = {rule.code: rule for rule in self.rules}
        selected = {rule.code for rule in self.rules}
        # Rules that find secrets run even when not selected, only so that
        # their secrets are masked in every output.
        self.secret_rules = [
            rule_class()
            for code, rule_class in all_rules().items()
            if rule_class.finds_secrets and code not in selected
        ]
        self.contexts: dict[Path, FileContext] = {}
        self.formatter_settings = FormatterSettings(config.root)
        self.summaries: dict[Path, ModuleSummary] = {}
        self.shadowing = SdkShadowing(config.root)

    @property
    def rule_words(self) -> set[str]:
        """Words that make a file worth parsing for one of the selected rules."""
        return {word for rule in self.rules for word in rule.prefilter_words}

    def check(
        self, all_files: list[Path], raw_files: dict[Path, bytes], result: RunResult
    ) -> None:
        """Check the candidate files and the files they import, in this process."""

        # The errors wait for the order of the files, which leaves out the
        # files that were read only for a rule's words and did not parse.
        parse_errors: dict[Path, list[FileError]] = {}

        def parse(files: dict[Path, bytes]) -> dict[Path, ScanFacts]:
            scanned = {}
            for path, outcome in self.parse_files(files).items():
                parse_errors[path] = outcome.errors
                if outcome.summary is not None:
                    scanned[path] = scan_facts(outcome.summary)
            return scanned

        order = read_project_files(
            all_files, raw_files, self.config.root, self.rule_words, parse
        )
        for path in order:
            result.errors.extend(parse_errors[path])
        summaries = [self.summaries[path] for path in order if path in self.summaries]
        unread = unread_candidates(order, set(self.summaries), self.config.root)
        project = ProjectIndex(summaries, unread)
        paths = sorted(self.contexts, key=lambda item: item.as_posix())
        for path in paths:
            facts, errors = self.collect_file(path, project)
            self.summaries[path].rule_facts.update(facts)
            result.errors.extend(errors)
        for path in paths:
            outcome = self.check_file(path)
            result.files.append(outcome.file)
            result.errors.extend(outcome.errors)
            result.secrets.update(outcome.secrets)
        self._check_project(project, result)

    # -- phase 1: parse and index every candidate --------------------------------

    def parse_files(self, raw_files: dict[Path, bytes]) -> dict[Path, ParseOutcome]:
        """Parse and index files in path order, keeping each parsed file in `contexts`."""
        empty_project = ProjectIndex([])
        outcomes: dict[Path, ParseOutcome] = {}
        for path, raw in sorted(raw_files.items(), key=lambda item: item[0].as_posix()):
            errors = RunResult()
            context = self._context(path, raw, empty_project, errors)
            if context is None:
                outcomes[path] = ParseOutcome(None, errors.errors)
                continue
            try:
                summary = summarise(context.index, path)
            except RecursionError:
                errors.errors.append(FileError(Path(context.display_path), TOO_DEEP))
                outcomes[path] = ParseOutcome(None, errors.errors)
                continue
            self.contexts[path] = context
            self.summaries[path] = summary
            outcomes[path] = ParseOutcome(summary, errors.errors)
        return outcomes

    def _context(
        self, path: Path, raw: bytes, project: ProjectIndex, result: RunResult
    ) -> FileContext | None:
        shown = display_path(path)
        try:
            source = decode_source(path, raw)
        except SourceError as error:
            result.errors.append(FileError(Path(shown), str(error)))
            return None
        try:
            module = parse_with_large_stack(source.text)
            module_name, is_package = module_name_for(path, self.config.root)
            index = self._index(path, module, module_name, is_package)
        except cst.ParserSyntaxError as error:
            result.errors.append(
                FileError(Path(shown), _syntax_message(source.text, error))
            )
            return None
        except RecursionError:
            result.errors.append(FileError(Path(shown), TOO_DEEP))
            return None
        context = FileContext(path, shown, source, module, index, project, self.config)
        settings = self.formatter_settings.for_file(path)
        context.line_length = settings.line_length
        context.configured_quote = settings.quote
        context.ruff_layout = settings.ruff_layout
        return context

    def _index(
        self, path: Path, module: cst.Module, module_name: str, is_package: bool
    ) -> FileIndex:
        shadowed = self.shadowing.packages_for(path)
        index = build_index(module, module_name, is_package, shadowed)
        index.client_names = frozenset(self.config.client_names)
        index.background_helper = self.config.background_helper
        return index

    # -- phase 2: rules and fixes, file by file ----------------------------------

    def collect_file(
        self, path: Path, project: ProjectIndex
    ) -> tuple[dict[str, Any], list[FileError]]:
        """Return each rule's facts about one parsed file, by rule code, and the errors.

        This runs once the project index exists, so that `collect` resolves the
        calls on clients imported from other files of the project.
        """
        errors = RunResult()
        too_deep: set[str] = set()
        facts_by_code, _ = self._collect(self.contexts[path], project, errors, too_deep)
        # `check_file` reports them, once for the file, also when these
        # facts come from the cache.
        if too_deep:
            facts_by_code[TOO_DEEP_RULES] = sorted(too_deep)
        return facts_by_code, errors.errors

    def _collect(
        self,
        context: FileContext,
        project: ProjectIndex,
        errors: RunResult,
        too_deep: set[str] | None = None,
    ) -> tuple[dict[str, Any], set[str]]:
        """Return each rule's facts about one file, and the codes of the rules that failed.

        With `too_deep`, a rule that goes past the recursion limit is added
        to it instead of to `errors`.
        """
        context.project = project
        context.index.attach_project(project)
        facts_by_code: dict[str, Any] = {}
        failed: set[str] = set()
        for rule in self.rules:
            errors_before = len(errors.errors)
            deep_before = len(too_deep) if too_deep is not None else 0
            facts = self._guarded(rule, context, errors, rule.collect, too_deep)
            if len(errors.errors) > errors_before:
                failed.add(rule.code)
            if too_deep is not None and len(too_deep) > deep_before:
                failed.add(rule.code)
            if facts is not None:
                facts_by_code[rule.code] = facts
        return facts_by_code, failed

    def check_file(
        self, path: Path, project: ProjectIndex | None = None
    ) -> CheckOutcome:
        """Run the rules and the fixes on one parsed file.

        `project` replaces the index that `collect_file` attached; it must
        then hold every file's rule facts.
        """
        context = self.contexts[path]
        if project is not None and project is not context.project:
            context.project = project
            context.index.attach_project(project)
        result = RunResult()
        file_result = FileResult(
            path=path, original=context.source.raw, encoding=context.source.encoding
        )
        too_deep = set(_own_rule_facts(context).get(TOO_DEEP_RULES, ()))
        file_result.findings = self._run_rules(context, result, self.rules, too_deep)
        for rule in self.secret_rules:
            for finding in self._run_rules(context, result, [rule], too_deep):
                result.secrets.update(finding.secrets)
        # Silenced findings hide their secrets too, so these are taken first.
        for finding in file_result.findings:
            result.secrets.update(finding.secrets)
        file_result.findings, context.silenced = reported_findings(
            context, file_result.findings
        )
        if too_deep:
            fixed = self._fix_without(too_deep, context, file_result)
            message = _too_deep_message(too_deep, fixed)
            result.errors.append(
                PartlyCheckedError(
                    Path(context.display_path), message, tuple(sorted(too_deep))
                )
            )
        else:
            self._fix(context, file_result)
        # Again for the findings that only the fixed code has.
        for finding in file_result.findings:
            result.secrets.update(finding.secrets)
        _release_fixes(file_result.findings)
        context.release_caches()
        return CheckOutcome(file_result, result.errors, result.secrets)

    def _fix_without(
        self, skipped: set[str], context: FileContext, file_result: FileResult
    ) -> bool:
        """Fix a file that the rules `skipped` did not finish; tell whether it is fixed.

        A skipped rule whose fixes this run may apply could have a finding
        whose fix would conflict with the others, so then no fix is applied.
        """
        for code in skipped:
            rule = self.rules_by_code.get(code)
            if rule is not None and rule.fix_safety is not None:
                if fix_allowed(Fix(rule.fix_safety), self.config.unsafe_fixes):
                    for finding in file_result.findings:
                        finding.fix = None
                    return False
        self._fix(context, file_result)
        # The fix passes run the rules again, so they may go past the limit
        # too, and the file's one error then reports that it is not fixed.
        deep = [error for error in file_result.errors if error.message == TOO_DEEP]
        for error in deep:
            file_result.errors.remove(error)
        return not deep

    def _run_rules(
        self,
        context: FileContext,
        result: RunResult,
        rules: list[Rule],
        too_deep: set[str] | None = None,
    ) -> list[Finding]:
        findings: list[Finding] = []
        for rule in rules:
            found = self._guarded(rule, context, result, rule.check, too_deep)
            if found:
                withhold_wrapper_fixes(context, rule.code, found)
            findings.extend(found or [])
        return findings

    @staticmethod
    def _guarded(
        rule: Rule,
        context: FileContext,
        result: RunResult,
        action: Callable[[FileContext], Any],
        too_deep: set[str] | None = None,
    ) -> Any:
        """Run `action(context)` for one rule; a bug in a rule must not stop the run.

        A rule that goes past the recursion limit is added to `too_deep`
        when it is given, so that the file gets one error for all such
        rules, and else gets an error of its own.
        """
        try:
            found = action(context)
            return list(found) if isinstance(found, Iterator) else found
        except RecursionError:
            if too_deep is not None:
                too_deep.add(rule.code)
                return None
            message = (
                f"{rule.code} skipped this file, which is {NESTED_TOO_DEEPLY};"
                " exclude it if it is generated code"
            )
            result.errors.append(FileError(Path(context.display_path), message))
            return None
        except Exception as error:
            stop_if_interrupted()
            logger.debug(
                "rule %s failed on %s", rule.code, context.display_path, exc_info=True
            )
            result.errors.append(
                FileError(
                    Path(context.display_path),
                    f"internal error in {rule.code} ({type(error).__name__}: {error});"
                    " the file was not fixed by this rule, please report it",
                )
            )
            return None

    def _fixable(
        self,
        context: FileContext,
        findings: list[Finding],
        round_trip: RoundTrip | None = None,
    ) -> dict[int, tuple[Fix, str]]:
        """Return the fixes this run may apply, by id, with their rule codes.

        A fix that cio-fix would never write is taken off its finding, whose
        message then gives the reason. Unsafe fixes are checked without
        `--unsafe-fixes` too, so that a dry run does not count a fix that
        `--apply --unsafe-fixes` would withhold. With `round_trip`, the
        file's comparison with libcst's print of it, a fix this run does not
        apply is taken off too when it would change a line that libcst does
        not print back, because `--apply --unsafe-fixes` would then leave
        the whole file unfixed.
        """
        fixes = {}
        for finding in findings:
            if finding.fix is None:
                continue
            allowed = fix_allowed(finding.fix, self.config.unsafe_fixes)
            reason = self._unwritable(context, finding.fix)
            if reason is None and round_trip is not None and not allowed:
                reason = self._unreproduced_line_reason(
                    context, finding.fix, round_trip
                )
            if reason is not None:
                finding.fix = None
                # Another rule's fix may remove the reason in a later pass,
                # and `_settle_findings` then gives back this message.
                if finding.fixed_message is None:
                    finding.fixed_message = finding.message
                finding.message = with_note(finding.message, reason)
                continue
            if allowed:
                fixes[id(finding.fix)] = (finding.fix, finding.code)
        return fixes

    def _unreproduced_line_reason(
        self, context: FileContext, fix: Fix, round_trip: RoundTrip
    ) -> str | None:
        """Return why `fix` cannot be written when alone it changes a line libcst alters.

        NOTE: with the file's other fixes, the lines that `fix` changes may
        differ, and `--apply --unsafe-fixes` may then leave the file
        unfixed although this returns None.
        """
        black = self.formatter_settings.for_file(context.path)
        parent_of = _parents_of_targets(context, [fix])
        fixed = code_of(apply_fixes(context.module, [fix], black, parent_of))
        if round_trip.line_fixes_change(fixed) is None:
            return None
        return CHANGES_UNREPRODUCED_LINE

    def _unwritable(self, context: FileContext, fix: Fix) -> str | None:
        """Return why `fix` cannot be written, or None when it can.

        It cannot when it would lose a comment, move away the code of a
        finding that a `# noqa` comment silences, move a directive comment
        such as `# noqa` off the line of its code, or add characters that
        the file's encoding cannot contain.
        """
        if not keeps_comments(fix):
            return LOSES_COMMENT
        if context.silenced and moves_silenced_code(
            fix.replacements,
            [node for _, node in context.silenced],
            context.parent_map(),
        ):
            return MOVES_SILENCED
        black = self.formatter_settings.for_file(context.path)
        pragma = moved_pragma(fix, context.module, context.parent_map(), black)
        if pragma is not None:
            return MOVES_PRAGMA.format(comment=pragma.value)
        encoding = context.source.encoding
        if not _encodes(fix, encoding, context.module):
            return UNENCODABLE.format(encoding=encoding)
        return None

    def _fix(self, context: FileContext, file_result: FileResult) -> None:
        try:
            round_trip = _aligned_round_trip_of(context, file_result.findings)
            fixes = self._fixable(context, file_result.findings, round_trip)
            if not fixes:
                return
            # The rules of silenced findings are checked again after each
            # pass too, so that no later fix moves their code away.
            reported = {finding.code for finding in file_result.findings}
            reported |= {code for code, _ in context.silenced}
            try:
                passes = self._apply_passes(context, fixes, reported)
            except _NotSettled as error:
                settled = self._without_unsettled_rules(
                    context, fixes, file_result, reported, error.codes
                )
                if settled is None:
                    return
                passes, fixes = settled
            except _BrokenCode:
                passes, fixes = self._without_broken_rule(
                    context, fixes, file_result, reported
                )
        except (_Unfixable, RecursionError) as error:
            message = TOO_DEEP if isinstance(error, RecursionError) else str(error)
            file_result.errors.append(FileError(Path(context.display_path), message))
            # The findings stay, but none of them has a fix this run can apply.
            for finding in file_result.findings:
                finding.fix = None
            return
        try:
            file_result.fixed = context.source.encode(passes.code)
        except UnicodeEncodeError:
            file_result.errors.append(
                FileError(
                    Path(context.display_path),
                    "internal error: the fixed code cannot be encoded as"
                    f" {context.source.encoding}; the file is unchanged",
                )
            )
            return
        self._settle_findings(context, file_result.findings, fixes, passes)
        file_result.findings.extend(passes.revealed)

    def _without_broken_rule(
        self,
        context: FileContext,
        fixes: dict[int, tuple[Fix, str]],
        file_result: FileResult,
        reported: set[str],
    ) -> tuple[_Passes, dict[int, tuple[Fix, str]]]:
        """Fix the file without the fixes of the one rule that broke its code.

        Each rule's fixes are left out in turn; the first run whose code
        compiles is kept, and the rule's findings lose their fixes. Raises
        _BrokenCode when leaving out one rule is not enough.
        """
        for code in sorted({code for _, code in fixes.values()}):
            remaining = {key: value for key, value in fixes.items() if value[1] != code}
            if not remaining:
                continue
            try:
                passes = self._apply_passes(
                    context, remaining, reported - {code}, left_out={code}
                )
            except _BrokenCode:
                continue
            for finding in file_result.findings:
                if finding.code == code:
                    finding.fix = None
            file_result.errors.append(
                FileError(
                    Path(context.display_path),
                    f"internal error in {code}: its fixes produced code that does not"
                    f" compile, so the file is fixed without them and {code}'s"
                    " findings are reported only; please report it",
                )
            )
            return passes, remaining
        raise _BrokenCode(BROKEN_CODE)

    def _without_unsettled_rules(
        self,
        context: FileContext,
        fixes: dict[int, tuple[Fix, str]],
        file_result: FileResult,
        reported: set[str],
        codes: set[str],
    ) -> tuple[_Passes, dict[int, tuple[Fix, str]]] | None:
        """Fix the file without the fixes of the rules whose fixes did not settle.

        Two fixes that undo each other, or a fix that waits for another one
        that never comes, would otherwise cost the file every fix. A pass
        rebuilds the findings, so no finding can be followed from one pass
        to the next. The fixes left out are therefore those of the rules
        that still had one after the last pass, and of any rule that then
        does not settle either. Their findings lose their fixes, and their
        messages give the reason. Returns None when no rule's fixes are left.
        """
        left_out = set(codes)
        while True:
            remaining = {
                key: value for key, value in fixes.items() if value[1] not in left_out
            }
            if not remaining:
                passes = None
                break
            try:
                passes = self._apply_passes(
                    context, remaining, reported - left_out, left_out=left_out
                )
                break
            except _NotSettled as error:
                left_out |= error.codes
        for finding in file_result.findings:
            if id(finding.fix) in fixes and finding.code in left_out:
                finding.fix = None
                finding.message = with_note(finding.message, NOT_SETTLED)
        return None if passes is None else (passes, remaining)

    def _settle_findings(
        self,
        context: FileContext,
        findings: list[Finding],
        fixes: dict[int, tuple[Fix, str]],
        passes: _Passes,
    ) -> None:
        """Mark the findings the passes fixed, and make the others report-only.

        A finding that another rule's fix made fixable gets a fix, and its
        message loses the reason it had no fix. One that another fix made
        report-only loses its fix and takes the reason that the fixed
        code's finding gives.
        """
        paired = _still_found(findings, context.finding_nodes, passes.left)
        made_fixable = mark_applied(
            findings,
            passes.first,
            Counter(passes.later),
            set(paired),
            passes.rechecked,
        )
        for finding in made_fixable:
            rule = self.rules_by_code[finding.code]
            assert rule.fix_safety is not None
            finding.fix = Fix(rule.fix_safety, description=AFTER_ANOTHER_FIX)
            if finding.fixed_message is not None:
                finding.message = finding.fixed_message
        for finding in findings:
            if id(finding.fix) not in fixes or finding.applied:
                continue
            # A fix that changes no code waits for another rule's fix, and its
            # message describes what the rule would write after that fix. When
            # it is not written, the fixed code's finding gives the reason.
            waited = not changes_code(finding.fix)
            finding.fix = None
            left_over = paired.get(id(finding))
            if left_over is None:
                continue
            if waited or left_over.message.startswith(finding.message):
                finding.message = left_over.message
        # Located last, so that the fixed file's message keeps the reasons
        # that the messages above gained.
        located = _locate_in_fixed_code(findings, context, paired, passes)
        for finding in findings:
            if (
                not finding.applied
                and finding.code in passes.checked_at_end - passes.rechecked
                and id(finding) not in located
            ):
                # The fixed code no longer has this finding, though its own
                # fix was not applied, because another rule's fix removed it.
                # The CIO101 fix that gives the App API client its own key
                # ends the CIO102 finding that the key is the Track API key.
                finding.applied = True

    def _apply_passes(
        self,
        context: FileContext,
        fixes: dict[int, tuple[Fix, str]],
        reported: set[str],
        left_out: Collection[str] = (),
    ) -> _Passes:
        """Apply fixes until none is left, re-checking the fixed module after each pass.

        The re-check runs only the rules of `reported`, the codes of the
        file's findings, whose fixes this run may apply (a rule's fixes are
        never safer than the fix safety it declares). The findings of other rules do not
        decide whether another pass is needed. A fix that no finding of the
        report explains is never written. A rule whose finding appears only
        in the fixed code waits for the next run; `_revealed` reports it.

        Each re-check reads the module the fixes built, without printing
        and parsing it: tests check that the fixes come out the same as
        from a parse of its code. The code is verified once, at the end.
        """
        original_code = context.source.text
        fixing_rules = [
            rule
            for rule in self.rules
            if rule.code in reported
            and (
                rule.fix_safety is FixSafety.SAFE
                or rule.fix_safety is FixSafety.UNSAFE
                and self.config.unsafe_fixes
            )
        ]
        current = context
        passes = _Passes("", [], Counter(), [])
        passes.rechecked = {rule.code for rule in fixing_rules}
        black = self.formatter_settings.for_file(context.path)
        literals = context.index.literals
        quote = context.literal_quote()
        for number in range(MAX_PASSES):
            candidates = [fix for fix, _ in fixes.values()]
            parent_of = _parents_of_targets(current, candidates)
            chosen = choose_fixes(candidates, parent_of)
            for fix in chosen:
                requote_replacements(fix.replacements, parent_of, quote)
            if number == 0:
                passes.first = chosen
            else:
                for fix in chosen:
                    passes.later[fixes[id(fix)][1]] += 1
            module = apply_fixes(current.module, chosen, black, parent_of)
            previous = current
            current, fixes, found = self._recheck(context, module, fixing_rules)
            if previous is not context:
                previous.index.release()
            if not fixes:
                new_code = code_of(with_quote(current.module, quote, literals))
                written = _with_unreproduced_lines(context, new_code)
                written = _with_source_line_endings(context, written)
                _verify(written, original_code, context.display_path)
                passes.code = format_fixed_file(black, original_code, written)
                passes.left = [
                    (finding, current.finding_nodes.get(id(finding)))
                    for finding in found
                ]
                if passes.code != new_code:
                    # black laid the file out again: its lines are the ones to report.
                    current.index.release()
                    current = self._fixed_context(context, _parse_fixed(passes.code))
                passes.revealed, passes.located = self._check_fixed_code(
                    current, reported, left_out
                )
                if self.config.fixed_positions:
                    passes.checked_at_end = set(reported)
                current.index.release()
                return passes
        raise _NotSettled({code for _, code in fixes.values()})

    def _check_fixed_code(
        self, fixed: FileContext, reported: set[str], left_out: Collection[str] = ()
    ) -> tuple[list[Finding], list[tuple[Finding, cst.CSTNode | None]]]:
        """Run the rules on the final fixed code, with positions in it.

        Returns the findings of rules that had none in the file and, with
        `fixed_positions` (`--apply`), those of the rules of `reported` with
        their nodes. The latter locate the findings left after the fixes in
        the file as `--apply` writes it, and tell which findings of rules
        that the passes did not re-check the fixes removed. A dry run does
        not need them, so it does not run those rules again.

        The passes re-check only the rules that reported findings, so that
        no fix is written without a finding of the report to explain it. A
        fix may still write code that another rule reports (a CIO301 fix
        that sends a millisecond value as `created_at`). Without this
        check, only the next run would report it. Of the other rules, only
        those whose fixes this run may apply run here, because their
        findings are what a second `--apply` would change.
        """
        rules = []
        for rule in self.rules:
            if rule.code in left_out:
                # Its fixes broke the code or did not settle, so its findings
                # are reported as they are. In the fixed code they would be
                # reported twice.
                continue
            if rule.code in reported:
                if self.config.fixed_positions:
                    rules.append(rule)
            elif rule.fix_safety is not None and fix_allowed(
                Fix(rule.fix_safety), self.config.unsafe_fixes
            ):
                rules.append(rule)
        if not rules:
            return [], []
        fixed.finding_nodes = {}
        fixed.locates_findings = True
        found, _ = reported_findings(fixed, self._run_rules(fixed, RunResult(), rules))
        revealed = []
        located = []
        for finding in found:
            if finding.code in reported:
                located.append((finding, fixed.finding_nodes.get(id(finding))))
                continue
            fixable = fix_allowed(finding.fix, self.config.unsafe_fixes)
            finding.fix = None
            note = REVEALED_FIXABLE if fixable else REVEALED
            finding.message = with_note(finding.message, note)
            finding.in_fixed_code = True
            revealed.append(finding)
        return revealed, located

    def _recheck(
        self, context: FileContext, module: cst.Module, rules: list[Rule]
    ) -> tuple[FileContext, dict[int, tuple[Fix, str]], list[Finding]]:
        """Run `rules` on a fixed module and return its context, fixes left and findings."""
        fixed = self._fixed_context(context, module)
        found, fixed.silenced = reported_findings(
            fixed, self._run_rules(fixed, RunResult(), rules)
        )
        return fixed, self._fixable(fixed, found), found

    def _fixed_context(self, context: FileContext, module: cst.Module) -> FileContext:
        """Return the context of a fixed module, for the re-check after a pass.

        A fix may put one node in two places, and fixes find nodes by
        identity, so a module with such a node is printed and parsed first.
        The code is verified once, when the passes end.
        """
        name, is_package = context.index.module_name, context.index.is_package
        index = self._index(context.path, module, name, is_package)
        if index.shared_nodes:
            index.release()
            module = _parse_fixed(code_of(module))
            index = self._index(context.path, module, name, is_package)
        index.attach_project(context.project)
        fixed = FileContext(
            context.path,
            context.display_path,
            context.source,
            module,
            index,
            context.project,
            context.config,
            named_like_tests=context.named_like_tests,
        )
        fixed.locates_findings = False
        fixed.line_length = context.line_length
        fixed.ruff_layout = context.ruff_layout
        # The literals of the fixed module include those that fixes wrote,
        # in double quotes until the passes end, so the original file's
        # literals decide the quote.
        fixed.configured_quote = context.literal_quote()
        return fixed

    # -- project-level findings --------------------------------------------------

    def check_project(
        self, project: ProjectIndex
    ) -> tuple[list[Finding], list[FileError]]:
        """Run the project-level rules once, after every file's facts are in."""
        findings: list[Finding] = []
        errors: list[FileError] = []
        for rule in self.rules:
            try:
                findings.extend(rule.check_project(project))
            except Exception as error:
                logger.debug("rule %s failed on the project", rule.code, exc_info=True)
                errors.append(
                    FileError(
                        Path("."),
                        f"internal error in {rule.code} ({type(error).__name__}:"
                        f" {error}); please report it",
                    )
                )
        return findings, errors

    def settle_project_findings(
        self,
        project: ProjectIndex,
        findings: list[Finding],
        fixed_files: dict[Path, bytes],
        checked: Mapping[Path, list[Finding]],
        sources: Mapping[Path, bytes],
    ) -> tuple[list[Finding], list[FindingUpdate]]:
        """Check the findings about other files again with the fixed code of the changed files.

        `project` contains every file's summary and rule facts from the original
        code, and `findings` are what `check_project` found there.
        `fixed_files` maps each file that the fixes changed to its fixed
        bytes, `checked` each file to the findings of its check, and
        `sources` each file to its original bytes.

        The project-level findings that the fixed code no longer gives are
        marked as fixed, and those that it still gives keep it as
        `in_fixed_project`. So a finding whose cause a fix removed (a class
        that no longer builds a client in `__init__`) is not reported as
        remaining, and the lines that a finding left quotes are those of
        the fixed files. The same goes for the findings of a file's check
        that quote a line of a changed file (the Track client in a CIO102
        message), and for those of the files that a rule names in
        `files_to_check_again`. These are returned as updates, because the
        cache keeps a file's check apart from the project's.

        Also returns the findings that only the fixed code gives (an
        attribute that the CIO301 fix sends with another type than another
        file does), marked as such, so they are not left to the next run.
        Only `--apply` pays for this, because it parses the changed files
        again. The engine takes all of it back when it does not write every
        changed file.
        """
        if not fixed_files:
            return [], []
        quoting = self._findings_quoting(fixed_files, checked)
        # Without a rule that reads other files, such as with `--select
        # CIO301`, there is nothing to check again.
        if not quoting and not any(
            type(rule).check_project is not Rule.check_project
            or type(rule).files_to_check_again is not Rule.files_to_check_again
            for rule in self.rules
        ):
            return [], []
        removed, revealed, updates = self._recheck_project(
            project, findings, fixed_files, checked, sources, quoting
        )
        for finding in removed:
            finding.applied = True
            # A project-level finding has no fix of its own, so it gets the
            # rule's safety as a finding that another fix removed does in
            # `mark_applied`.
            rule = self.rules_by_code[finding.code]
            if rule.fix_safety is not None:
                finding.fix = Fix(rule.fix_safety, description=AFTER_ANOTHER_FIX)
        for finding in revealed:
            # Its position and the lines that its message quotes are those of
            # the fixed files, as for a finding that `_check_fixed_code`
            # reveals.
            fixable = fix_allowed(finding.fix, self.config.unsafe_fixes)
            finding.fix = None
            note = REVEALED_FIXABLE if fixable else REVEALED
            finding.message = with_note(finding.message, note)
            finding.in_fixed_code = True
        return revealed, updates

    @staticmethod
    def _findings_quoting(
        fixed_files: dict[Path, bytes], checked: Mapping[Path, list[Finding]]
    ) -> dict[Path, set[str]]:
        """Return the codes of each file's findings left that quote a changed file's line.

        NOTE: a message that lists many places names only the first few
        (`places.list_labels`), so a changed file among the places it only
        counts does not get the finding checked again.
        """
        display_paths = sorted(display_path(path) for path in fixed_files)
        alternatives = "|".join(re.escape(path) for path in display_paths)
        # Not preceded by more of a path: `a.py:3` is not in `data.py:3`.
        places = re.compile(r"(?<![\w./\\-])(?:" + alternatives + r"):\d")
        quoting: dict[Path, set[str]] = {}
        for path, findings in checked.items():
            for finding in findings:
                if not finding.applied and places.search(finding.message):
                    quoting.setdefault(path, set()).add(finding.code)
        return quoting

    def _recheck_project(
        self,
        project: ProjectIndex,
        findings: list[Finding],
        fixed_files: dict[Path, bytes],
        checked: Mapping[Path, list[Finding]],
        sources: Mapping[Path, bytes],
        quoting: dict[Path, set[str]],
    ) -> tuple[list[Finding], list[Finding], list[FindingUpdate]]:
        """Run the rules that read other files against the fixed code of the changed files.

        Returns the project-level `findings` that the rules no longer give,
        the findings that the rules give only for the fixed code, and the
        updates of the findings in `checked`. The changed files are
        parsed, summarised and collected again, and put in place of the
        original files. A rule that fails on the fixed code keeps all its
        findings and reveals none, and so does every rule when a fixed file
        cannot be read back.
        NOTE: the other files keep the rule facts that they had with the
        original code, so a fact of another file that depends on what a
        changed file exports stays as it was until the next run.
        """
        fixed_summaries: dict[Path, ModuleSummary] = {}
        contexts: dict[Path, FileContext] = {}
        errors = RunResult()
        empty_project = ProjectIndex([])
        try:
            for path, raw in sorted(fixed_files.items(), key=lambda item: item[0]):
                context = self._context(path, raw, empty_project, errors)
                if context is None:
                    return [], [], []
                contexts[path] = context
                fixed_summaries[path] = summarise(context.index, path)
            fixed_project = ProjectIndex(
                (
                    fixed_summaries.get(summary.path, summary)
                    for summary in project.summaries
                ),
                project.unread_files,
            )
            failed: set[str] = set()
            for context in contexts.values():
                facts, failed_here = self._collect(context, fixed_project, errors)
                fixed_summaries[context.path].rule_facts.update(facts)
                failed |= failed_here
            removed, revealed = self._recheck_project_rules(
                fixed_project, findings, failed
            )
            to_check = self._files_to_check_again(
                project, fixed_project, checked, quoting, failed
            )
            updates, revealed_in_files = self._recheck_files(
                to_check, fixed_project, contexts, checked, sources
            )
        except RecursionError:
            return [], [], []
        finally:
            for context in contexts.values():
                context.index.release()
        return removed, [*revealed, *revealed_in_files], updates

    def _recheck_project_rules(
        self, fixed_project: ProjectIndex, findings: list[Finding], failed: set[str]
    ) -> tuple[list[Finding], list[Finding]]:
        """Return the project-level findings that the fixed project no longer gives, and new ones.

        Each finding that it still gives keeps it as `in_fixed_project`.
        """
        failed = set(failed)
        left: list[Finding] = []
        for rule in self.rules:
            if rule.code in failed:
                continue
            try:
                left.extend(rule.check_project(fixed_project))
            except Exception:
                logger.debug(
                    "rule %s failed on the fixed project", rule.code, exc_info=True
                )
                failed.add(rule.code)

        # A finding is left when the fixed project has one of its rule in
        # its file with a similar message: the lines it names have moved.
        # One of the fixed project that pairs with none is new.
        still_found: dict[int, Finding] = {}
        for path in {finding.path for finding in [*findings, *left]}:
            before = [finding for finding in findings if finding.path == path]
            after = [(finding, None) for finding in left if finding.path == path]
            still_found.update(_still_found(before, {}, after))
        removed = []
        for finding in findings:
            if finding.code in failed:
                continue
            found = still_found.get(id(finding))
            if found is None:
                removed.append(finding)
            else:
                finding.in_fixed_project = found
        paired = {id(finding) for finding in still_found.values()}
        revealed = [
            finding
            for finding in left
            if finding.code not in failed and id(finding) not in paired
        ]
        return removed, revealed

    def _files_to_check_again(
        self,
        project: ProjectIndex,
        fixed_project: ProjectIndex,
        checked: Mapping[Path, list[Finding]],
        quoting: dict[Path, set[str]],
        failed: set[str],
    ) -> dict[Path, set[str]]:
        """Return the codes of the rules to run again in each file, against the fixed project."""
        by_display_path = {display_path(path): path for path in checked}
        to_check = {path: set(codes) for path, codes in quoting.items()}
        for rule in self.rules:
            if rule.code in failed:
                continue
            for displayed in rule.files_to_check_again(project, fixed_project):
                path = by_display_path.get(displayed)
                if path is not None:
                    to_check.setdefault(path, set()).add(rule.code)
        for codes in to_check.values():
            codes -= failed
        return {path: codes for path, codes in to_check.items() if codes}

    def _recheck_files(
        self,
        to_check: dict[Path, set[str]],
        fixed_project: ProjectIndex,
        contexts: dict[Path, FileContext],
        checked: Mapping[Path, list[Finding]],
        sources: Mapping[Path, bytes],
    ) -> tuple[list[FindingUpdate], list[Finding]]:
        """Run rules of a file's check again against the fixed project, file by file.

        A changed file is checked in its fixed code, any other file in its
        original code. Returns the updates of the findings in `checked`,
        and the findings that only the fixed project gives.
        """
        updates: list[FindingUpdate] = []
        revealed: list[Finding] = []
        for path, codes in sorted(to_check.items(), key=lambda item: item[0]):
            context = contexts.get(path)
            parsed_here = context is None
            if context is None:
                raw = sources.get(path)
                if raw is None:
                    continue
                context = self._context(path, raw, fixed_project, RunResult())
                if context is None:
                    continue
                context.index.attach_project(fixed_project)
            try:
                for code in sorted(codes):
                    rule = self.rules_by_code[code]
                    found = self._check_again(context, rule)
                    if found is None:
                        continue
                    file_updates, new = _settle_file_findings(
                        path, checked[path], rule, found
                    )
                    updates.extend(file_updates)
                    revealed.extend(new)
            finally:
                if parsed_here:
                    context.index.release()
        return updates, revealed

    def _check_again(self, context: FileContext, rule: Rule) -> list[Finding] | None:
        """Return the reported findings of one rule in a file, or None when the rule fails."""
        errors = RunResult()
        context.finding_nodes = {}
        found = self._run_rules(context, errors, [rule])
        if errors.errors:
            return None
        reported, _ = reported_findings(context, found)
        return reported

    def _check_project(self, project: ProjectIndex, result: RunResult) -> None:
        findings, errors = self.check_project(project)
        result.errors.extend(errors)
        fixed_files = {
            file.path: file.fixed
            for file in result.files
            if file.changed and file.fixed is not None
        }
        if self.config.fixed_positions:
            checked = {file.path: file.findings for file in result.files}
            revealed, updates = self.settle_project_findings(
                project,
                findings,
                fixed_files,
                checked,
                {path: context.source.raw for path, context in self.contexts.items()},
            )
            findings.extend(revealed)
            update_findings({file.path: file for file in result.files}, updates, result)
        sources = {
            Path(context.display_path): context.source.raw
            for context in self.contexts.values()
        }
        fixed_sources = {
            **sources,
            **{Path(display_path(path)): raw for path, raw in fixed_files.items()},
        }
        add_project_findings(
            result,
            reported_project_findings(findings, self.config, sources, fixed_sources),
        )


def scan_facts(summary: ModuleSummary) -> ScanFacts:
    """Return what the search for more project files needs from one summary."""
    aliased = {qualified.rpartition(".")[0] for qualified in summary.aliases.values()}
    # `from .client import *` imports the names that the package may re-export.
    aliased.update(summary.star_imports)
    return ScanFacts(
        tuple(sorted(prefilter_words([summary]))),
        tuple(sorted(imported_modules([summary]))),
        tuple(sorted(module for module in aliased if module)),
        summary.module_name if summary.path.name == "__init__.py" else "",
        summary.module_name,
        tuple(sorted(imported_names([summary]))),
        tuple(sorted(summary.aliases.items())),
        tuple(
            sorted(
                name
                for name, value in summary.constants.items()
                if isinstance(value, str)
            )
        ),
        tuple(sorted(class_modules(summary))),
        tuple(sorted(_route_names(summary))),
    )


def _route_names(summary: ModuleSummary) -> set[str]:
    """Return the route factories that a module imports and the apps its factories call."""
    names = set(summary.route_decorators)
    for app in summary.route_factories.values():
        if app is not None:
            names.add(app)
    return names


def _parents_of_targets(
    context: FileContext, fixes: list[Fix]
) -> dict[cst.CSTNode, cst.CSTNode]:
    """Return a parent map that has every node the fixes replace.

    The index walk passes whitespace and punctuation by. A fix that
    replaces such a node needs the parent links of every node.
    """
    parent_of = context.parent_map()
    for fix in fixes:
        for node in fix.replacements:
            if node not in parent_of and node is not context.module:
                return parents(context.module)
    return parent_of


def _still_found(
    findings: list[Finding],
    nodes: dict[int, cst.CSTNode],
    left: list[tuple[Finding, cst.CSTNode | None]],
) -> dict[int, Finding]:
    """Return the findings left in the fixed module, by the ids of `findings` they pair with.

    A finding is still there when the fixed module has a finding of the
    same rule on the same node. Fixes rebuild the nodes around what they
    change, so each finding left over is then paired with the original
    finding of its rule whose message is the most similar.
    """
    by_node = {}
    for finding in findings:
        node = nodes.get(id(finding))
        if node is not None:
            by_node[(finding.code, id(node))] = finding
    pairs: dict[int, Finding] = {}
    unpaired = []
    for found, node in left:
        original = by_node.get((found.code, id(node))) if node is not None else None
        if original is not None and id(original) not in pairs:
            pairs[id(original)] = found
        else:
            unpaired.append(found)
    # The matches are tried in this order. The same message comes first,
    # then the same message apart from the lines it quotes (a re-check
    # writes them as 0). Next is a message that the fixed code's finding
    # extends with a reason, then the same message apart from the reason it
    # has no fix, which another rule's fix may change. The most similar
    # message comes last.
    # NOTE: a heuristic. Messages name the handler, the method or the value,
    # which a fix elsewhere in the statement leaves as it was.
    matches: list[Callable[[Finding, Finding], bool]] = [
        lambda original, found: original.message == found.message,
        lambda original, found: _without_lines(original.message)
        == _without_lines(found.message),
        lambda original, found: found.message.startswith(original.message),
        lambda original, found: original.fixed_message is not None
        and original.fixed_message == found.fixed_message,
    ]
    for matches_message in matches:
        still_unpaired = []
        for found in unpaired:
            original = next(
                (
                    finding
                    for finding in findings
                    if finding.code == found.code
                    and id(finding) not in pairs
                    and matches_message(finding, found)
                ),
                None,
            )
            if original is None:
                still_unpaired.append(found)
            else:
                pairs[id(original)] = found
        unpaired = still_unpaired
    # The most similar pairs first, so that a finding which comes first in
    # `left` does not take the original that another one matches better.
    scored = sorted(
        (
            (
                -difflib.SequenceMatcher(None, original.message, found.message).ratio(),
                found_index,
                original_index,
            )
            for found_index, found in enumerate(unpaired)
            for original_index, original in enumerate(findings)
            if original.code == found.code and id(original) not in pairs
        ),
    )
    paired_found: set[int] = set()
    for _, found_index, original_index in scored:
        original = findings[original_index]
        if found_index in paired_found or id(original) in pairs:
            continue
        pairs[id(original)] = unpaired[found_index]
        paired_found.add(found_index)
    return pairs


# A line that a message quotes: `views.py:11`, or "on line 11", which a
# re-check of fixed code writes as line 0.
_QUOTED_LINE = re.compile(r":\d+\b|\bline \d+\b")


def _without_lines(message: str) -> str:
    return _QUOTED_LINE.sub(":", message)


def _settle_file_findings(
    path: Path,
    findings: list[Finding],
    rule: Rule,
    found: list[Finding],
) -> tuple[list[FindingUpdate], list[Finding]]:
    """Pair the findings of `rule` in one file's check with `found`, those of the fixed project.

    Returns an update for each finding left (with the fixed project's
    finding) or gone (with None), and the findings of `found` that pair
    with none.
    """
    index_of = {id(finding): index for index, finding in enumerate(findings)}
    before = [
        finding
        for finding in findings
        if finding.code == rule.code and not finding.applied
    ]
    pairs = _still_found(before, {}, [(finding, None) for finding in found])
    updates = []
    for finding in before:
        if finding.in_fixed_code:
            # Only the fixed code of its own file gives it, and it reports
            # that file's lines already.
            continue
        after = pairs.get(id(finding))
        index = index_of[id(finding)]
        if after is None:
            updates.append(FindingUpdate(path, index, None, rule.fix_safety))
            continue
        message = _message_in_fixed_file(finding, after)
        # Without its fix, which contains nodes that neither the cache nor
        # another process can take.
        settled = replace(after, message=message, fix=None)
        updates.append(FindingUpdate(path, index, settled))
    paired = {id(finding) for finding in pairs.values()}
    return updates, [finding for finding in found if id(finding) not in paired]


def _locate_in_fixed_code(
    findings: list[Finding],
    context: FileContext,
    paired: dict[int, Finding],
    passes: _Passes,
) -> set[int]:
    """Give each finding that the fixes left its position in the fixed file.

    A finding of a re-checked rule goes to the finding that `_still_found`
    paired it with. The final check ran the same rules on the same tree
    (or on black's layout of it), so that finding's rule found the same
    findings there, in the same order. Findings of the other rules are
    paired with the final check's as `_still_found` pairs them.

    Returns the ids of the findings of the other rules that the final
    check found again.
    """
    located_by_code: dict[str, list[Finding]] = {}
    for found, _ in passes.located:
        located_by_code.setdefault(found.code, []).append(found)
    left_by_code: dict[str, list[Finding]] = {}
    for found, _ in passes.left:
        left_by_code.setdefault(found.code, []).append(found)
    in_fixed_file: dict[int, Finding] = {}
    for code, left in left_by_code.items():
        located = located_by_code.get(code, [])
        # NOTE: black can change what a rule finds in the code (parentheses
        # it adds or drops), and then the counts may differ. Those findings
        # keep their original positions, which `--apply` maps line by line.
        if len(located) == len(left):
            in_fixed_file.update(
                (id(before), after) for before, after in zip(left, located, strict=True)
            )

    others = [
        finding
        for finding in findings
        if finding.code not in passes.rechecked and not finding.applied
    ]
    located_others = [
        (found, node)
        for found, node in passes.located
        if found.code not in passes.rechecked
    ]
    other_pairs = _still_found(others, context.finding_nodes, located_others)

    for finding in findings:
        if finding.applied:
            continue
        left_over = paired.get(id(finding))
        if left_over is not None:
            where = in_fixed_file.get(id(left_over))
        else:
            where = other_pairs.get(id(finding))
        if where is not None:
            finding.fixed_position = (
                where.line,
                where.column,
                where.end_line,
                where.end_column,
            )
            finding.message_in_fixed_file = _message_in_fixed_file(finding, where)
            finding.secrets = tuple(dict.fromkeys(finding.secrets + where.secrets))
    return set(other_pairs)


def _message_in_fixed_file(finding: Finding, found: Finding) -> str:
    """Return the message of `found`, the same finding in the fixed file.

    Its message names the lines of the fixed file (the loop that a CIO603
    finding is in). The reasons that the checker adds to the message of a
    fix it cannot apply are not the rule's, so they are added again.
    A rule reads the other statements of the project from the facts of
    the original files, so the lines it names there (the Track client in
    a CIO102 message) are those before the fixes, until
    `settle_project_findings` gives the message of the fixed project.
    """
    message = found.message
    reasons = [LOSES_COMMENT, MOVES_SILENCED, CHANGES_UNREPRODUCED_LINE]
    for pattern in (_UNENCODABLE_SUFFIX, _MOVES_PRAGMA_SUFFIX):
        match = pattern.search(finding.message)
        if match is not None:
            reasons.append(match.group("reason"))
    for reason in reasons:
        if has_note(finding.message, reason) and not has_note(message, reason):
            message = with_note(message, reason)
    return message


def _release_fixes(findings: list[Finding]) -> None:
    """Replace each fix by its safety and description once the file is fixed.

    The replacement nodes keep the whole parsed tree alive and cannot be
    cached or sent between processes, and the reports read only the safety.
    """
    for finding in findings:
        if finding.fix is not None:
            finding.fix = Fix(
                safety=finding.fix.safety, description=finding.fix.description
            )


def _verify(code: str, original: str, filename: str) -> None:
    """Fail when the fixes broke the code.

    Fixed code must compile when the original compiled. Otherwise (code
    that only libcst reads, such as a `return` outside a function) it must
    still parse. The original is compiled only when the fixed code does
    not compile, which is rare.
    """
    if _compiles(code, filename):
        return
    if _compiles(original, filename):
        raise _BrokenCode(BROKEN_CODE)
    _parse_fixed(code)


def _parse_fixed(code: str) -> cst.Module:
    try:
        return cst.parse_module(code)
    except cst.ParserSyntaxError as error:
        raise _BrokenCode(
            f"internal error: a fix produced invalid code ({error.message});"
            " the file is unchanged, please report it"
        ) from error


def _compiles(code: str, filename: str) -> bool:
    try:
        compile(code, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def _syntax_message(text: str, error: cst.ParserSyntaxError) -> str:
    """Describe a parse error with the interpreter's own words where it has them."""
    try:
        compile(text, "<file>", "exec", dont_inherit=True)
    except SyntaxError as syntax:
        return (
            f"invalid Python 3 syntax at line {syntax.lineno}, column {syntax.offset}:"
            f" {syntax.msg}; fix the syntax, or exclude the file if it is Python 2"
        )
    except ValueError:
        pass
    return (
        f"cannot parse line {error.raw_line}: libcst rejects code that this Python"
        " accepts; please report it, and exclude the file meanwhile"
    )
