"""Data that flows between the engine, the rules and the reports."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


class FixSafety(str, enum.Enum):
    """Whether `--apply` alone applies a fix (safe) or needs `--unsafe-fixes`."""

    SAFE = "safe"
    UNSAFE = "unsafe"


def mask_secret(secret: str) -> str:
    """Show the first four characters of a secret and hide the rest: `3f9a****`."""
    if len(secret) <= 8:
        return "****"
    return secret[:4] + "****"


@dataclass(frozen=True)
class AddImport:
    """A module-level import that a fix needs: `import module` or `from module import name`."""

    module: str
    name: str | None = None
    asname: str | None = None
    # The fix uses the name in code that runs while the module is imported.
    # An import of it below the leading imports may run too late, so it does
    # not count as existing.
    on_import: bool = False


@dataclass(frozen=True)
class InsertStatements:
    """Module-level statements (source text) that a fix adds once per module.

    `key` deduplicates: two fixes asking for the same helper insert it once.
    The statements go after the imports and after every module-level
    statement that assigns one of the names in `after_names`.
    """

    key: str
    code: str
    after_names: frozenset[str] = frozenset()


@dataclass
class Fix:
    """A fix as data: node replacements plus module edits.

    `replacements` maps an original node (compared by identity) to its new
    node. Use `cst.RemovalSentinel.REMOVE` as the value to remove a statement.
    """

    safety: FixSafety
    replacements: dict[Any, Any] = field(default_factory=dict)
    imports: tuple[AddImport, ...] = ()
    inserts: tuple[InsertStatements, ...] = ()
    description: str = ""


@dataclass
class Finding:
    code: str
    name: str
    message: str
    path: Path
    line: int
    column: int
    end_line: int
    end_column: int
    severity: Severity = Severity.ERROR
    fix: Fix | None = None
    applied: bool = False
    # Strings that no output may show: a finding about a hard-coded key
    # lists the key here and every report masks it.
    secrets: tuple[str, ...] = ()
    # The message of a finding reported without a fix, for when another
    # rule's fix makes it fixable: the same advice without the reason.
    fixed_message: str | None = None

    @property
    def fix_safety(self) -> FixSafety | None:
        return self.fix.safety if self.fix is not None else None

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path.as_posix(), self.line, self.column, self.code)


@dataclass
class FileError:
    """A file that could not be read, parsed or fixed; the run goes on without it."""

    path: Path
    message: str


@dataclass
class FileResult:
    path: Path
    findings: list[Finding] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    original: bytes | None = None
    fixed: bytes | None = None
    # The encoding of `original` and `fixed`, for showing the diff.
    encoding: str = "utf-8"

    @property
    def changed(self) -> bool:
        return self.fixed is not None and self.fixed != self.original


@dataclass
class RunResult:
    files: list[FileResult] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    # Python files found under the paths, and how many passed the prefilter.
    files_found: int = 0
    candidates: int = 0
    # Projects checked, and the configuration files of projects whose
    # select and ignore left no rule to run.
    checked_projects: int = 0
    projects_without_rules: list[str] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        found = [finding for result in self.files for finding in result.findings]
        return sorted(found, key=Finding.sort_key)

    @property
    def changed_files(self) -> list[FileResult]:
        changed = [result for result in self.files if result.changed]
        return sorted(changed, key=lambda result: result.path.as_posix())

    @property
    def all_errors(self) -> list[FileError]:
        errors = list(self.errors)
        for result in self.files:
            errors.extend(result.errors)
        # A rule can fail the same way in two phases, and the error is shown once.
        unique = dict.fromkeys((error.path, error.message) for error in errors)
        return sorted(
            (FileError(path, message) for path, message in unique),
            key=lambda error: error.path.as_posix(),
        )
