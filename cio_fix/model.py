"""Data that flows between the engine, the rules and the reports."""

from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cio_fix.python_version import InvalidSpecifier


def display_path(path: Path) -> str:
    """Return `path` relative to the working directory, with `/`, when it is below it."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return absolute.as_posix()


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
    # For an import of the project's own code: the top-level packages that
    # isort counts as first-party, of this import and the module's imports.
    # The import then goes in order into their section. Empty for other
    # imports, which go after the leading imports unless standard-library.
    first_party: frozenset[str] = frozenset()


@dataclass(frozen=True)
class InsertStatements:
    """Module-level statements (source text) that a fix adds once per module.

    `key` deduplicates: two fixes asking for the same helper insert it once.
    The statements go after the imports and after every module-level
    statement that assigns one of the names in `after_names`, then after
    the helpers there that come first in `edits.HELPER_ORDER`.
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
    # Comments that the fix removes on purpose: a directive that silenced a
    # check of the hard-coded key which the fix takes out (noqa for S106).
    dropped_comments: tuple[str, ...] = ()


# A line break in a message, with the blanks around it.
_LINE_BREAK = re.compile(r"[ \t]*(?:\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029])\s*")
# Characters that a terminal or a log would not show as written: the other
# control characters, and the marks that change the direction of text.
_UNPRINTABLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def with_note(message: str, note: str) -> str:
    """Return `message` with `note` in brackets at its end, before its closing full stop.

    "Send the identify first." becomes "Send the identify first (note).", so
    a message of full sentences still ends with a full stop.
    """
    if message.endswith("."):
        return f"{message[:-1]} ({note})."
    return f"{message} ({note})"


def has_note(message: str, note: str) -> bool:
    """Tell whether `with_note` added `note` to the end of `message`."""
    return message.endswith((f" ({note})", f" ({note})."))


def one_line(text: str) -> str:
    """Return a message on one line, with the code it quotes joined and escaped.

    A report shows one finding per line, which editors and CI annotations
    parse. A message that quotes code over several lines (an argument list
    laid out one per line, a triple-quoted event name) would split its
    finding in two, and the second half would read as another finding.
    The lines are joined with a space, or with nothing just inside
    brackets; other control characters are escaped.
    """
    if _LINE_BREAK.search(text) is not None:
        text = _LINE_BREAK.sub(_joined, text)
    return _UNPRINTABLE.sub(_escaped_character, text)


def _joined(match: re.Match[str]) -> str:
    before = match.string[match.start() - 1 : match.start()]
    after = match.string[match.end() : match.end() + 1]
    return "" if before in ("(", "[", "{") or after in (")", "]", "}") else " "


def _escaped_character(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


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
    # The fix is written for Python 3.9 or newer because the project declares
    # no Python version (`FileContext.python_assumed`).
    python_assumed: bool = False
    # The invalid Python version specifiers that the fix ignores
    # (`FileContext.invalid_python`).
    invalid_python: tuple[InvalidSpecifier, ...] = ()
    # The position is one in the fixed file already: the finding is one that
    # only the code written by this run's fixes has.
    in_fixed_code: bool = False
    # The position (line, column, end line, end column) of the finding in
    # the fixed file, when the fixes leave it there: `--apply` reports it
    # once it has written the file.
    fixed_position: tuple[int, int, int, int] | None = None
    # The message that the rule gives for the finding in the fixed file,
    # whose line numbers are that file's, reported with `fixed_position`.
    message_in_fixed_file: str | None = None
    # The same finding as the rules give it with the fixed code of every file
    # that the fixes changed, so its message quotes the lines of the fixed
    # files. `--apply` reports its message and position once it has written
    # all of those files.
    in_fixed_project: Finding | None = None

    def __post_init__(self) -> None:
        # Messages are kept on one line from the start. What the checker
        # appends or copies in later is its own text, or a message made this
        # way.
        self.message = one_line(self.message)
        if self.fixed_message is not None:
            self.fixed_message = one_line(self.fixed_message)

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
class PartlyCheckedError(FileError):
    """A file that the rules `codes` did not finish because of its nesting.

    `message` is worded for a check run, which reports the findings of the
    other rules. --add-noqa and --list-events word it for their own output.
    """

    codes: tuple[str, ...] = ()


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
    # Files named on the command line that are not Python and were not
    # checked, and how many named files --force-exclude left out.
    not_python: list[Path] = field(default_factory=list)
    left_out: int = 0
    # Projects checked, the configuration files of projects whose select
    # and ignore left no rule to run, and of those whose own ignore leaves
    # every rule out on purpose (`ignore = ["CIO"]`).
    checked_projects: int = 0
    projects_without_rules: list[str] = field(default_factory=list)
    projects_opted_out: list[str] = field(default_factory=list)
    # `--apply`: the project-level findings that the fixed code of the
    # changed files no longer gives. They are fixed only once every one of
    # those files is written.
    fixed_project_findings: list[Finding] = field(default_factory=list)
    # `--apply`: the project-level findings that only the fixed code of the
    # changed files gives. They are there only once every one of those
    # files is written.
    revealed_project_findings: list[Finding] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        found = [finding for result in self.files for finding in result.findings]
        return sorted(found, key=Finding.sort_key)

    @property
    def changed_files(self) -> list[FileResult]:
        # Sorted by the path that the reports show, as the findings are. The
        # paths kept differ in form (from outside the working directory, a
        # nested project's are absolute), so their own order may differ.
        changed = [result for result in self.files if result.changed]
        return sorted(changed, key=lambda result: display_path(result.path))

    @property
    def all_errors(self) -> list[FileError]:
        errors = list(self.errors)
        for result in self.files:
            errors.extend(result.errors)
        # A rule can fail the same way in two phases, and the error is shown once.
        unique: dict[tuple[Path, str], FileError] = {}
        for error in errors:
            unique.setdefault((error.path, error.message), error)
        return sorted(unique.values(), key=lambda error: error.path.as_posix())
