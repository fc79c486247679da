"""Parse the candidate files, build the indexes, run the rules and the fixes.

Kept apart from `engine` so that a run without candidate files never
imports libcst.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import libcst as cst

from cio_fix.config import Config
from cio_fix.customerio import FileIndex, build_index
from cio_fix.edits import apply_fixes, choose_fixes
from cio_fix.engine import (
    MAX_PASSES,
    MAX_PREFILTER_ROUNDS,
    display_path,
    fix_allowed,
    follow_imports,
    mark_applied,
)
from cio_fix.formatting import black_settings, format_fixed_file
from cio_fix.model import FileError, FileResult, Finding, Fix, RunResult
from cio_fix.project import (
    ModuleSummary,
    ProjectIndex,
    SdkVersion,
    detect_sdk_version,
    imported_modules,
    module_name_for,
    prefilter_words,
    summarise,
)
from cio_fix.rules import FileContext, Rule, all_rules, select_rules
from cio_fix.writer import SourceError, decode_source

logger = logging.getLogger(__name__)


class _Unfixable(Exception):
    """The fixes of one file failed verification; the file stays as it is."""


class Checker:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.rules = select_rules(config.select, config.ignore)
        selected = {rule.code for rule in self.rules}
        # Rules that find secrets run even when not selected, only so that
        # their secrets are masked in every output.
        self.secret_rules = [
            rule_class()
            for code, rule_class in all_rules().items()
            if rule_class.finds_secrets and code not in selected
        ]
        self.contexts: dict[Path, FileContext] = {}
        self.black = black_settings(config.root)
        self.summaries: dict[Path, ModuleSummary] = {}

    # -- phase 1: parse and index every candidate --------------------------------

    def check(
        self, all_files: list[Path], raw_files: dict[Path, bytes], result: RunResult
    ) -> None:
        empty_project = ProjectIndex([], None)
        summaries: list[ModuleSummary] = []
        self._parse(raw_files, empty_project, summaries, result)

        seen = dict(raw_files)
        rule_words = {word for rule in self.rules for word in rule.prefilter_words}
        for_rules = follow_imports(all_files, seen, rule_words)
        if for_rules:
            seen.update(for_rules)
            self._parse(for_rules, empty_project, summaries, result)

        used_words: set[str] = set()
        modules = _modules_by_name(all_files, self.config.root)
        for _ in range(MAX_PREFILTER_ROUNDS):
            words = prefilter_words(summaries) - used_words
            used_words |= words
            more = follow_imports(all_files, seen, words)
            more.update(_read_modules(imported_modules(summaries), modules, seen))
            if not more:
                break
            seen.update(more)
            self._parse(more, empty_project, summaries, result)

        project = ProjectIndex(summaries, self._sdk_version(raw_files))
        self._check_files(project, result)
        self._check_project(project, result)

    def _sdk_version(self, raw_files: dict[Path, bytes]) -> SdkVersion | None:
        """Return the SDK version from the config, else the one the project declares."""
        if self.config.sdk_version is not None:
            return SdkVersion(self.config.sdk_version, "sdk-version in [tool.cio-fix]")
        folders = [str(path.resolve().parent) for path in raw_files]
        start = Path(os.path.commonpath(folders)) if folders else None
        return detect_sdk_version(self.config.root, start)

    def _parse(
        self,
        raw_files: dict[Path, bytes],
        project: ProjectIndex,
        summaries: list[ModuleSummary],
        result: RunResult,
    ) -> None:
        for path, raw in sorted(raw_files.items(), key=lambda item: item[0].as_posix()):
            context = self._context(path, raw, project, result)
            if context is None:
                continue
            self.contexts[path] = context
            summary = summarise(context.index, path)
            self.summaries[path] = summary
            summaries.append(summary)

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
            module = cst.parse_module(source.text)
        except cst.ParserSyntaxError as error:
            result.errors.append(
                FileError(Path(shown), _syntax_message(source.text, error))
            )
            return None
        module_name, is_package = module_name_for(path, self.config.root)
        index = self._index(module, module_name, is_package)
        return FileContext(path, shown, source, module, index, project, self.config)

    def _index(
        self, module: cst.Module, module_name: str, is_package: bool
    ) -> FileIndex:
        index = build_index(module, module_name, is_package)
        index.client_names = frozenset(self.config.client_names)
        index.background_helper = self.config.background_helper
        return index

    # -- phase 2: rules and fixes, file by file ----------------------------------

    def _check_files(self, project: ProjectIndex, result: RunResult) -> None:
        paths = sorted(self.contexts, key=lambda item: item.as_posix())
        for path in paths:
            self.contexts[path].project = project
            self.contexts[path].index.attach_project(project)
        self._collect(paths, result)
        for path in paths:
            context = self.contexts[path]
            file_result = FileResult(
                path=path, original=context.source.raw, encoding=context.source.encoding
            )
            file_result.findings = self._run_rules(context, result, self.rules)
            for rule in self.secret_rules:
                for finding in self._run_rules(context, result, [rule]):
                    result.secrets.update(finding.secrets)
            for finding in file_result.findings:
                result.secrets.update(finding.secrets)
            self._fix(context, file_result)
            context.release_caches()
            result.files.append(file_result)

    def _collect(self, paths: list[Path], result: RunResult) -> None:
        """Store each rule's facts about each file in its summary.

        This runs once the project index exists, so that `collect` resolves the
        calls on clients imported from other files of the project.
        """
        for path in paths:
            context = self.contexts[path]
            summary = self.summaries[path]
            for rule in self.rules:
                facts = self._guarded(rule, context, result, rule.collect)
                if facts is not None:
                    summary.rule_facts[rule.code] = facts

    def _run_rules(
        self, context: FileContext, result: RunResult, rules: list[Rule]
    ) -> list[Finding]:
        findings: list[Finding] = []
        for rule in rules:
            found = self._guarded(rule, context, result, rule.check)
            findings.extend(found or [])
        return findings

    @staticmethod
    def _guarded(
        rule: Rule,
        context: FileContext,
        result: RunResult,
        action: Callable[[FileContext], Any],
    ) -> Any:
        """Run `action(context)` for one rule; a bug in a rule must not stop the run."""
        try:
            found = action(context)
            return list(found) if isinstance(found, Iterator) else found
        except Exception as error:
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

    def _fixable(self, findings: list[Finding]) -> dict[int, tuple[Fix, str]]:
        """Return the fixes this run may apply, by id, with their rule codes."""
        fixes = {}
        for finding in findings:
            if finding.fix is not None and fix_allowed(
                finding.fix, self.config.unsafe_fixes
            ):
                fixes[id(finding.fix)] = (finding.fix, finding.code)
        return fixes

    def _fix(self, context: FileContext, file_result: FileResult) -> None:
        fixes = self._fixable(file_result.findings)
        if not fixes:
            return
        try:
            new_code, first_pass, later = self._apply_passes(context, fixes)
        except _Unfixable as error:
            file_result.errors.append(FileError(Path(context.display_path), str(error)))
            # The findings stay, but none of them has a fix this run can apply.
            for finding in file_result.findings:
                finding.fix = None
            return
        try:
            file_result.fixed = context.source.encode(new_code)
        except UnicodeEncodeError:
            file_result.errors.append(
                FileError(
                    Path(context.display_path),
                    "internal error: the fixed code cannot be encoded as"
                    f" {context.source.encoding}; the file is unchanged",
                )
            )
            return
        mark_applied(file_result.findings, first_pass, later)

    def _apply_passes(
        self, context: FileContext, fixes: dict[int, tuple[Fix, str]]
    ) -> tuple[str, list[Fix], Counter[str]]:
        """Apply fixes until none is left, re-checking the fixed source after each pass.

        Returns the fixed code, the fixes of the first pass, and how many
        fixes of each rule later passes applied. The re-check runs only the
        rules that can fix anything: the findings of the others do not
        decide whether another pass is needed.
        """
        original_code = context.module.code
        must_compile = _compiles(original_code, context.display_path)
        fixing_rules = [rule for rule in self.rules if rule.fix_safety is not None]
        current = context
        first_pass: list[Fix] = []
        later: Counter[str] = Counter()
        for number in range(MAX_PASSES):
            chosen = choose_fixes([fix for fix, _ in fixes.values()], current.position)
            if number == 0:
                first_pass = chosen
            else:
                for fix in chosen:
                    later[fixes[id(fix)][1]] += 1
            new_code = apply_fixes(
                current.module, chosen, self.black, current.parent_map()
            ).code
            current = self._reparse(context, new_code, must_compile)
            fixes = self._fixable(self._run_rules(current, RunResult(), fixing_rules))
            if not fixes:
                return (
                    format_fixed_file(self.black, original_code, new_code),
                    first_pass,
                    later,
                )
        raise _Unfixable(
            f"internal error: fixes did not settle after {MAX_PASSES} passes;"
            " the file is unchanged, please report it"
        )

    def _reparse(
        self, context: FileContext, code: str, must_compile: bool
    ) -> FileContext:
        """Parse fixed code for the next pass, failing when a fix broke it.

        The code must parse, and compile as well when the original compiled.
        """
        try:
            module = cst.parse_module(code)
        except cst.ParserSyntaxError as error:
            raise _Unfixable(
                f"internal error: a fix produced invalid code ({error.message});"
                " the file is unchanged, please report it"
            ) from error
        if must_compile and not _compiles(code, context.display_path):
            raise _Unfixable(
                "internal error: a fix produced code that does not compile;"
                " the file is unchanged, please report it"
            )
        index = self._index(module, context.index.module_name, context.index.is_package)
        index.attach_project(context.project)
        fixed = FileContext(
            context.path,
            context.display_path,
            context.source,
            module,
            index,
            context.project,
            context.config,
        )
        fixed.locates_findings = False
        return fixed

    # -- project-level findings --------------------------------------------------

    def _check_project(self, project: ProjectIndex, result: RunResult) -> None:
        by_path = {Path(display_path(file.path)): file for file in result.files}
        for rule in self.rules:
            try:
                findings = list(rule.check_project(project))
            except Exception as error:
                logger.debug("rule %s failed on the project", rule.code, exc_info=True)
                result.errors.append(
                    FileError(
                        Path("."),
                        f"internal error in {rule.code} ({type(error).__name__}:"
                        f" {error}); please report it",
                    )
                )
                continue
            for finding in findings:
                owner = by_path.get(finding.path)
                if owner is None:
                    owner = FileResult(path=finding.path)
                    by_path[finding.path] = owner
                    result.files.append(owner)
                owner.findings.append(finding)


def _modules_by_name(files: list[Path], root: Path) -> dict[str, list[Path]]:
    """Index files by every dotted suffix of their module name (`app.settings`, `settings`)."""
    modules: dict[str, list[Path]] = {}
    for path in files:
        name, _ = module_name_for(path, root)
        parts = name.split(".")
        for start in range(len(parts)):
            modules.setdefault(".".join(parts[start:]), []).append(path)
    return modules


def _read_modules(
    wanted: set[str], modules: dict[str, list[Path]], seen: dict[Path, bytes]
) -> dict[Path, bytes]:
    found: dict[Path, bytes] = {}
    for name in wanted:
        paths = modules.get(name, [])
        if len(paths) != 1 or paths[0] in seen:
            continue
        try:
            found[paths[0]] = paths[0].read_bytes()
        except OSError:
            continue
    return found


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
