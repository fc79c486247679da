"""Apply the fixes one rule code at a time, so that each rule's changes stand alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cio_fix.config import Config
from cio_fix.model import FileError, Finding, RunResult


@dataclass
class RuleChange:
    """The fixes of one rule code, applied on top of those of the codes before it."""

    code: str
    findings: list[Finding]
    # (path, unified diff lines) per changed file, secrets masked.
    diffs: list[tuple[str, list[str]]]
    commit: str | None = None
    # The commit that `commit` was made on. The line numbers of `findings`
    # are those of its files, after the fixes of the codes before this one.
    parent: str | None = None

    @property
    def files(self) -> list[str]:
        return [path for path, _ in self.diffs]


@dataclass
class Outcome:
    changes: list[RuleChange] = field(default_factory=list)
    # The findings left after every change: none of them was fixed.
    remaining: list[Finding] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    errors: list[FileError] = field(default_factory=list)


def apply_by_rule(
    targets: list[Path],
    make_config: Callable[[], Config],
    after_each: Callable[[RuleChange], None] | None = None,
) -> Outcome:
    """Apply each rule's fixes in code order; call `after_each` for each code that changed files.

    A first dry run over all selected rules finds the codes with a fix to
    apply. A last one, after every change, finds what is left. A fix of one
    code that makes room for a fix of a code already done is picked up by the
    next run of the bot, not by this one.
    """
    from cio_fix.engine import fix_allowed, run
    from cio_fix.report import unified_diffs

    config = make_config()
    outcome = Outcome()
    survey = run(targets, config, apply=False)
    outcome.secrets |= survey.secrets
    codes = sorted(
        {
            finding.code
            for finding in survey.findings
            if fix_allowed(finding.fix, config.unsafe_fixes)
        }
    )

    for code in codes:
        result = run(targets, config.with_overrides(select=(code,)), apply=True)
        outcome.secrets |= result.secrets
        outcome.errors.extend(_errors_of(result))
        if not result.changed_files:
            continue
        applied = [
            finding
            for finding in result.findings
            if finding.applied and finding.code == code
        ]
        change = RuleChange(code=code, findings=applied, diffs=unified_diffs(result))
        if after_each is not None:
            after_each(change)
        outcome.changes.append(change)

    final = run(targets, config, apply=False)
    outcome.secrets |= final.secrets
    outcome.errors.extend(_errors_of(final))
    outcome.remaining = final.findings
    outcome.errors = unique_errors(outcome.errors)
    return outcome


def _errors_of(result: RunResult) -> list[FileError]:
    return list(result.all_errors)


def unique_errors(errors: list[FileError]) -> list[FileError]:
    """Drop repeats: every run of the engine reports the same unreadable file again."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for error in errors:
        key = (error.path.as_posix(), error.message)
        if key not in seen:
            seen.add(key)
            unique.append(error)
    return unique
