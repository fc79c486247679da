"""The command line: options -> Config -> run -> report -> exit status."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Iterable, Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console
from typer.core import TyperCommand

from cio_fix import __version__
from cio_fix.config import (
    Config,
    ConfigError,
    load_config,
    validate_selectors,
)
from cio_fix.files import resolve_or_absolute
from cio_fix.interrupts import Terminated
from cio_fix.model import FileError, Finding, PartlyCheckedError, RunResult

if TYPE_CHECKING:
    # typer 0.29 carries its own copy of click.
    from typer._click.formatting import HelpFormatter

    from cio_fix.left_out import LeftOut

T = TypeVar("T")

# Exit statuses, as documented in the README.
EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
# The status of a process that SIGINT ended: 128 + 2.
EXIT_INTERRUPTED = 130


class _Command(TyperCommand):
    """The command, with its arguments listed in the help as the usage line shows them.

    typer 0.29 prints an argument's Python type after its name, even with a
    metavar (`PATH <list[Path]>`). The help shows `[PATH]...` instead, as
    the usage line writes it.
    """

    def format_options(self, ctx: typer.Context, formatter: HelpFormatter) -> None:
        arguments = []
        options = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                arguments.append((" ".join(param.get_usage_pieces(ctx)), record[1]))
            else:
                options.append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)


app = typer.Typer(
    add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False
)
# Customer.io event names and messages may hold text like ":smile:", which
# rich would print as an emoji.
console = Console(highlight=False, emoji=False)
errors = Console(stderr=True, highlight=False, emoji=False)


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


def _require_pr_for_pr_options(
    pr: bool,
    pr_body: Path | None,
    pr_branch: str | None,
    pr_base: str | None,
    pr_title: str | None,
    pr_label: list[str] | None,
) -> None:
    """Reject the pull-request options that would do nothing without --pr.

    A workflow that sets a title but lost its --pr would otherwise pass
    quietly without a pull request. The description of --pr-body names
    the branch, so --pr-branch counts with it too.
    """
    if pr:
        return
    without_pr = [
        flag
        for flag, value in (
            ("--pr-branch", None if pr_body is not None else pr_branch),
            ("--pr-base", pr_base),
            ("--pr-title", pr_title),
            ("--pr-label", pr_label or None),
        )
        if value is not None
    ]
    if len(without_pr) == 1:
        raise _fail(f"{without_pr[0]} needs --pr; add it or leave the option out")
    if without_pr:
        raise _fail(
            f"{' and '.join(without_pr)} need --pr; add it or leave the options out"
        )


def _split_codes(values: list[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    codes: list[str] = []
    for value in values:
        codes.extend(code.strip().upper() for code in value.split(",") if code.strip())
    return tuple(codes)


def _version(value: bool) -> None:
    if value:
        console.print(f"cio-fix {__version__}", markup=False)
        raise typer.Exit(EXIT_CLEAN)


class _CommandError(Exception):
    """A usage or configuration error, which ends the run with status 2.

    `path` and `reason` are what the JSON output's `errors` entry shows:
    the configuration file at fault and the message without it, or "."
    and the whole message for an error in the command line.
    """

    def __init__(self, message: str, path: str = ".", reason: str | None = None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.reason = message if reason is None else reason


def _fail(message: str) -> _CommandError:
    return _CommandError(message)


def _config_failure(error: ConfigError) -> _CommandError:
    if error.path is None:
        return _CommandError(str(error))
    from cio_fix.engine import display_path

    return _CommandError(str(error), display_path(error.path), error.reason)


@contextlib.contextmanager
def _report_command_error(document: dict[str, object] | None) -> Iterator[None]:
    """Print a usage or configuration error of the command, then exit with 2.

    The error goes to stderr, or with `document` (the JSON output of the
    run, without results) into that document's `errors` on stdout.
    """
    try:
        yield
    except _CommandError as error:
        if document is None:
            errors.print(
                f"cio-fix: error: {error.message}",
                style="red",
                markup=False,
                soft_wrap=True,
            )
        else:
            import json

            document["errors"] = [{"path": error.path, "message": error.reason}]
            console.print(json.dumps(document, indent=2), markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_ERROR) from None


def _error_document(
    output_format: OutputFormat, *, explain: bool, list_events: bool, add_noqa: bool
) -> dict[str, object] | None:
    """Return the JSON output of this run without results, or None for text output.

    --explain prints text whatever the format.
    """
    if output_format is not OutputFormat.json or explain:
        return None
    if list_events:
        from cio_fix.events import catalog_document

        return catalog_document([])
    if add_noqa:
        return {"version": 1, "added": 0, "files": [], "hard_coded_keys": []}
    return {"version": 1, "findings": [], "changed_files": []}


@app.command(cls=_Command, context_settings={"help_option_names": ["-h", "--help"]})
def main_command(
    paths: list[Path] | None = typer.Argument(
        None,
        metavar="PATH",
        # Discovery reports a path it cannot read and checks the others,
        # which click's usage error for an unreadable path would stop.
        readable=False,
        help="Files or folders to check. Default: the current folder.",
    ),
    # None when neither option is given, so that --add-noqa can tell an
    # explicit --dry-run from the default.
    dry_run_option: bool | None = typer.Option(
        None,
        "--dry-run/--apply",
        help="Report and show the diff only (default), or write the fixes.",
        show_default=False,
    ),
    unsafe_fixes: bool = typer.Option(
        False,
        "--unsafe-fixes",
        help="Also apply fixes that change behaviour beyond the pitfall.",
    ),
    select: list[str] | None = typer.Option(
        None,
        "--select",
        metavar="CODES",
        help="Rule codes or prefixes to enable, comma-separated (CIO1,CIO304).",
    ),
    extend_select: list[str] | None = typer.Option(
        None,
        "--extend-select",
        metavar="CODES",
        help="Rule codes or prefixes to enable besides those the configuration"
        " selects, comma-separated.",
    ),
    ignore: list[str] | None = typer.Option(
        None,
        "--ignore",
        metavar="CODES",
        help="Rule codes or prefixes to disable, comma-separated.",
    ),
    diff: bool = typer.Option(
        True, "--diff/--no-diff", help="Show the unified diff of the fixes."
    ),
    output_format: OutputFormat = typer.Option(
        OutputFormat.text,
        "--output-format",
        help="text for people, json for other tools.",
    ),
    exit_zero: bool = typer.Option(
        False,
        "--exit-zero",
        help=(
            "Exit with 0 even when findings remain or a file cannot be read or"
            " parsed. Usage and configuration errors still exit with 2."
        ),
    ),
    add_noqa: bool = typer.Option(
        False,
        "--add-noqa",
        help="Add a `# noqa: CODE` comment for each finding instead of fixing it,"
        " so that later runs report only new findings. Hard-coded keys (CIO101)"
        " get none unless --select names CIO101.",
    ),
    force_exclude: bool = typer.Option(
        False,
        "--force-exclude",
        help="Apply exclude, extend-exclude, .gitignore files and the skipping of"
        " virtual environments and site-packages folders to the files named as PATH"
        " too, as a pre-commit hook needs.",
    ),
    list_rules: bool = typer.Option(
        False, "--list-rules", help="Print the rule table and exit."
    ),
    list_events: bool = typer.Option(
        False,
        "--list-events",
        help="Print every event name that the projects of the PATHs send, and exit.",
    ),
    explain: str | None = typer.Option(
        None,
        "--explain",
        metavar="CODE",
        help="Print the documentation of one rule and exit.",
    ),
    jobs: int | None = typer.Option(
        None,
        "--jobs",
        "-j",
        min=1,
        metavar="N",
        help="Processes that check files in parallel: this one and N - 1"
        " workers; 1 checks them in this process. Default and maximum: the number"
        " of CPUs."
        " Runs with few files to parse use no workers.",
    ),
    no_cache: bool = typer.Option(
        False,
        "--no-cache",
        help="Neither read nor write the results cache in .cio_fix_cache.",
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Print findings, errors and warnings only."
    ),
    exit_non_zero_on_fix: bool = typer.Option(
        False,
        "--exit-non-zero-on-fix",
        help="With --apply: exit with 1 when a file was changed.",
    ),
    pr: bool = typer.Option(
        False,
        "--pr",
        help="With --apply: commit the fixes on a bot branch, one commit per rule,"
        " push it and open or update its GitHub pull request.",
    ),
    pr_body: Path | None = typer.Option(
        None,
        "--pr-body",
        metavar="FILE",
        help="With --apply: write the pull request description (Markdown) to FILE.",
    ),
    pr_branch: str | None = typer.Option(
        None,
        "--pr-branch",
        metavar="BRANCH",
        help="Branch the bot pushes to. Default: cio-fix/pitfalls.",
    ),
    pr_base: str | None = typer.Option(
        None,
        "--pr-base",
        metavar="BRANCH",
        help="Branch the pull request merges into."
        " Default: the repository's default branch.",
    ),
    pr_title: str | None = typer.Option(
        None, "--pr-title", metavar="TEXT", help="Title of the pull request."
    ),
    pr_label: list[str] | None = typer.Option(
        None,
        "--pr-label",
        metavar="LABEL",
        help="Label to add to the pull request (repeat for several).",
    ),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Find and fix the known pitfalls of Customer.io integrations."""
    _show_logged_warnings()
    dry_run = dry_run_option is not False
    # --add-noqa writes its comments unless --dry-run is given explicitly.
    noqa_dry_run = add_noqa and dry_run_option is True
    document = _error_document(
        output_format,
        explain=explain is not None,
        list_events=list_events,
        add_noqa=add_noqa,
    )
    with (
        _report_interrupt(_writing_option(dry_run, add_noqa, noqa_dry_run, pr)),
        _report_command_error(document),
    ):
        if list_rules:
            _print_rules(output_format)
            raise typer.Exit(EXIT_CLEAN)
        if explain is not None:
            _print_explanation(explain)
            raise typer.Exit(EXIT_CLEAN)

        _require_working_directory()
        targets = list(paths) if paths else [Path(".")]
        if list_events:
            _print_events(targets, output_format, force_exclude)
        _require_pr_for_pr_options(pr, pr_body, pr_branch, pr_base, pr_title, pr_label)
        if pr or pr_body is not None:
            from cio_fix.pr.command import PrOptions, command_line, run_pr_command

            if dry_run:
                raise _fail("--pr and --pr-body need --apply")
            if pr_body is not None and pr_body.suffix in (".py", ".pyi", ".pyw"):
                # A slip of the hand would replace a source file with Markdown.
                raise _fail(
                    f"--pr-body {pr_body} is a Python file; name a Markdown file such as"
                    " cio-fix.md"
                )
            if pr_body is not None:
                # The fixes are written before the description, so a path
                # that cannot take it must stop the run before any fix.
                problem = _unwritable_file(pr_body)
                if problem is not None:
                    raise _fail(f"--pr-body {pr_body} {problem}; name a Markdown file")
            for flag, value in (
                ("--pr-branch", pr_branch),
                ("--pr-base", pr_base),
                ("--pr-title", pr_title),
                *(("--pr-label", label) for label in pr_label or ()),
            ):
                if value is not None and not value.strip():
                    raise _fail(
                        f"{flag} is empty; give a value or leave the option out"
                    )
            options = PrOptions(
                pr, pr_body, pr_branch, pr_base, pr_title, tuple(pr_label or ())
            )
            status = run_pr_command(
                targets,
                lambda: _configure(
                    targets, select, extend_select, ignore, unsafe_fixes, force_exclude
                ),
                options,
                command_line(
                    list(paths or []),
                    options,
                    select,
                    extend_select,
                    ignore,
                    unsafe_fixes,
                ),
                exit_zero,
                console,
                errors,
            )
            raise typer.Exit(status)

        if add_noqa and not dry_run:
            raise _fail("--add-noqa writes comments, not fixes; leave out --apply")
        try:
            config = _configure(
                targets, select, extend_select, ignore, unsafe_fixes, force_exclude
            )
            config = config.with_overrides(jobs=jobs, cache=False if no_cache else None)
            from cio_fix.engine import run

            result = run(targets, config, apply=not dry_run)
        except ConfigError as error:
            raise _config_failure(error) from error
        if not result.checked_projects and result.projects_without_rules:
            # A run that checks nothing would pass every CI job it guards,
            # unless the projects it reaches leave every rule out on purpose,
            # as a pre-commit hook over a vendored project's files does.
            raise _fail(
                "no rule is left to run: select and ignore (on the command line and in"
                f" {', '.join(result.projects_without_rules)}) exclude every rule"
            )
        _warn_projects_without_rules(result)
        _warn_unchecked(result, targets, config)
        if add_noqa:
            status = _add_noqa(
                result,
                output_format,
                write=not noqa_dry_run,
                show_diff=diff and not quiet,
                exit_zero=exit_zero,
                # Only a request that names the code silences hard-coded keys.
                silence_keys="CIO101"
                in (
                    *(_split_codes(select) or ()),
                    *(_split_codes(extend_select) or ()),
                ),
            )
            raise typer.Exit(status)

        _report(
            result,
            output_format,
            apply=not dry_run,
            diff=diff,
            quiet=quiet,
            config=config,
        )
        _warn_python_assumed(result, apply=not dry_run)
        status = _exit_status(result, apply=not dry_run, exit_zero=exit_zero)
        if (
            not dry_run
            and exit_non_zero_on_fix
            and not exit_zero
            and result.changed_files
        ):
            status = EXIT_FINDINGS
        raise typer.Exit(status)


def _unwritable_file(path: Path) -> str | None:
    """Say why a file cannot be written at `path`, or None when it can be.

    Missing folders on the way are fine, because the description's folder
    is created when it is written.
    """
    if path.is_dir():
        return "is a folder"
    if path.exists():
        return None if os.access(path, os.W_OK) else "is not writable"
    folder = path.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"is below {folder}, which is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"is below {folder}, which is not writable"
    return None


def _require_working_directory() -> None:
    """Exit with 2 when the working directory was deleted, which every path needs.

    A shell keeps a deleted folder as its working directory, and
    `os.getcwd()` raises FileNotFoundError in it.
    """
    try:
        os.getcwd()
    except FileNotFoundError:
        raise _fail(
            "the current folder no longer exists; cd into the project and run"
            " cio-fix again"
        ) from None


def _warn_not_python(paths: list[Path]) -> None:
    from cio_fix.report import quoted_path

    for path in paths:
        errors.print(
            f"{quoted_path(path.as_posix())}: warning: not a Python file (no .py, .pyi"
            " or .pyw suffix and no python shebang line); not checked",
            style="yellow",
            markup=False,
            soft_wrap=True,
        )


def _warn_projects_without_rules(result: RunResult) -> None:
    """Warn on stderr about each project of the run that select and ignore left without a rule.

    A run that reaches only such projects ends earlier, with a usage error.
    Next to other projects, one is a warning, not an error: its own
    configuration may leave every rule out on purpose, as a vendored
    project's may.
    """
    from cio_fix.report import quoted_path

    for config_path in result.projects_without_rules:
        errors.print(
            f"{quoted_path(config_path)}: warning: select and ignore (on the command"
            " line and in this file) leave no rule to run, so the files of this"
            " project were not checked",
            markup=False,
            soft_wrap=True,
        )


def _warn_unchecked(result: RunResult, targets: list[Path], config: Config) -> None:
    """Warn on stderr about each named file that is not Python, and about a run that found no file.

    A wrong PATH in a CI job would otherwise pass with "0 files checked".
    When the paths contain Python files that the run left out, the warning
    gives the reason, so that the user looks at the exclusions, not at the
    paths.
    The warnings leave the exit status as it is, as ruff's do.
    """
    from cio_fix.left_out import count_left_out
    from cio_fix.report import quoted_path

    _warn_not_python(result.not_python)
    found_nothing = (
        result.files_found == 0
        and not result.all_errors
        and not result.left_out
        and not result.projects_without_rules
        and not result.projects_opted_out
    )
    # A run over non-Python files only has its warnings already.
    if found_nothing and set(targets) - set(result.not_python):
        names = ", ".join(quoted_path(target.as_posix()) for target in targets)
        left_out = count_left_out(targets, config)
        if left_out.files:
            problem = _left_out_problem(left_out, names)
        elif left_out.unlisted:
            problem = (
                f"cannot list {_unlisted_folders(left_out)}, which the run leaves"
                f" out, so the Python files in {names} are unknown"
            )
        else:
            problem = f"no Python files (.py, .pyi, .pyw) found in {names}"
        errors.print(
            f"cio-fix: warning: {problem}; nothing was checked",
            style="yellow",
            markup=False,
            soft_wrap=True,
        )


def _warn_python_assumed(result: RunResult, apply: bool) -> None:
    """Warn once per run when the Python version of the fixes may be wrong.

    Each invalid version specifier that the fixes ignore gets a warning.
    Fixes written for Python 3.9 because no version is declared, or none
    can be read, get one more. A project that runs on an older Python
    would get code that it cannot import (`functools.cache`, a
    positional-only parameter), so the warning names what to change. Both
    come from the findings, so a run prints them once whatever the number
    of processes, and a cached run prints them too.
    """
    from cio_fix.report import quoted_path

    fixed = [
        finding
        for finding in result.findings
        if (finding.applied if apply else finding.fix is not None)
    ]
    invalid = _unique(
        specifier for finding in fixed for specifier in finding.invalid_python
    )
    for specifier in invalid:
        _warn(
            f"{quoted_path(specifier.source)}: Python version specifier"
            f" {specifier.specifier!r} is not valid; it is ignored, so fixes are"
            " written as if it were not there"
        )

    assumed = [finding for finding in fixed if finding.python_assumed]
    unreadable = [finding for finding in assumed if finding.invalid_python]
    if unreadable:
        sources = _unique(
            specifier.source
            for finding in unreadable
            for specifier in finding.invalid_python
        )
        _warn_python_39(
            _unique(finding.path for finding in unreadable),
            apply,
            f"the Python version specifier in {_joined(sources)} is not valid;"
            " if the code runs on an older Python, correct it",
        )
    undeclared = [finding for finding in assumed if not finding.invalid_python]
    if undeclared:
        _warn_python_39(
            _unique(finding.path for finding in undeclared),
            apply,
            "the project declares no Python version that cio-fix reads; if the"
            " code runs on an older Python, declare it (requires-python in"
            " pyproject.toml, for example)",
        )


def _unique(items: Iterable[T]) -> list[T]:
    """Return the distinct items, in the order they first come."""
    return list(dict.fromkeys(items))


def _warn_python_39(paths: list[Path], apply: bool, reason: str) -> None:
    """Warn that the fixes of `paths` need the default Python, because of `reason`."""
    from cio_fix.python_version import DEFAULT_TARGET
    from cio_fix.report import quoted_path

    named = quoted_path(paths[0].as_posix())
    if len(paths) > 1:
        others = len(paths) - 1
        named += f" and {others} other {'file' if others == 1 else 'files'}"
    verb = "are" if apply else "would be"
    _warn(
        f"the fixes of {named} {verb} written for Python"
        f" {DEFAULT_TARGET[0]}.{DEFAULT_TARGET[1]} or newer, because {reason}"
        " or set target-version in [tool.cio-fix]"
    )


def _joined(names: list[str]) -> str:
    """Join file names as a sentence does: "a", "a and b", "a, b and c"."""
    from cio_fix.report import quoted_path

    quoted = [quoted_path(name) for name in names]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


class _WarningHandler(logging.Handler):
    """Print the warnings that cio-fix's modules log, as `_warn` prints the others."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        _warn(record.getMessage())


def _show_logged_warnings() -> None:
    """Print cio-fix's logged warnings with the `cio-fix: warning:` prefix.

    Without a handler, Python's last-resort handler prints the bare
    message. Worker processes fork with the handler in place.
    """
    package_logger = logging.getLogger("cio_fix")
    if not any(isinstance(item, _WarningHandler) for item in package_logger.handlers):
        package_logger.addHandler(_WarningHandler())


def _warn(problem: str) -> None:
    errors.print(
        f"cio-fix: warning: {problem}",
        style="yellow",
        markup=False,
        soft_wrap=True,
    )


def _left_out_problem(left_out: LeftOut, names: str) -> str:
    """Describe the Python files under `names` that a run left out, by the reason."""
    from cio_fix.engine import display_path
    from cio_fix.report import quoted_path

    reasons = []
    for config_path, count in sorted(left_out.excluded.items()):
        config_name = quoted_path(display_path(config_path))
        reasons.append(
            f"{count} excluded by `exclude` or `extend-exclude` in {config_name}"
        )
    if left_out.excluded_by_default:
        reasons.append(f"{left_out.excluded_by_default} excluded by default")
    if left_out.in_nested_repository:
        reasons.append(
            f"{left_out.in_nested_repository} in a nested git repository or submodule"
        )
    if left_out.in_environment:
        reasons.append(
            f"{left_out.in_environment} in a virtual environment or site-packages"
            " folder"
        )
    if left_out.ignored:
        reasons.append(f"{left_out.ignored} ignored by git or a .gitignore file")
    if left_out.links_out:
        reasons.append(
            _plural(
                left_out.links_out,
                "symbolic link to a file outside the folder",
                "symbolic links to files outside the folder",
            )
        )
    if left_out.not_regular:
        reasons.append(
            _plural(
                left_out.not_regular,
                "broken symbolic link or special file",
                "broken symbolic links or special files",
            )
        )
    if left_out.unexplained:
        reasons.append(f"{left_out.unexplained} left out for another reason")
    problem = f"every Python file in {names} is left out ({', '.join(reasons)})"
    if left_out.unlisted:
        problem += f", and the left-out {_unlisted_folders(left_out)} cannot be listed"
    return problem


# The maximum number of unlisted folders that a warning names. It counts the others.
_MAX_SHOWN_FOLDERS = 3


def _unlisted_folders(left_out: LeftOut) -> str:
    """Name the folders that the count of left-out files could not list, with the reason."""
    from cio_fix.engine import display_path
    from cio_fix.report import quoted_path

    named = [
        f"{quoted_path(display_path(folder))} ({reason})"
        for folder, reason in left_out.unlisted[:_MAX_SHOWN_FOLDERS]
    ]
    more = len(left_out.unlisted) - len(named)
    if more:
        named.append(f"{more} more")
    noun = "folder" if len(left_out.unlisted) == 1 else "folders"
    return f"{noun} {', '.join(named)}"


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def _writing_option(
    dry_run: bool, add_noqa: bool, noqa_dry_run: bool, pr: bool
) -> str | None:
    """Return the option that makes this run leave written files behind, or None."""
    if add_noqa:
        return None if noqa_dry_run else "--add-noqa"
    # --pr writes the fixes on a bot branch and checks the user's branch out
    # again when it stops, also when it is interrupted.
    if dry_run or pr:
        return None
    return "--apply"


@contextlib.contextmanager
def _report_interrupt(writing_option: str | None) -> Iterator[None]:
    """Print what a run that Ctrl-C or SIGTERM stopped leaves behind, and exit.

    The exit status is 130 after Ctrl-C and 143 after SIGTERM, as the
    signals' default actions give in a shell.

    typer 0.29 (`_main` in typer/core.py) turns KeyboardInterrupt into a
    silent exit with 130, so the command catches it first. `writing_option` is the option that makes
    this run write files, or None.
    """
    from cio_fix.writer import record_writes

    with record_writes() as written:
        try:
            yield
        except KeyboardInterrupt:
            errors.print(
                _interrupt_message(writing_option, len(written)),
                markup=False,
                soft_wrap=True,
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Terminated:
            # The exit status stays 143, as after SIGTERM's default action.
            errors.print(
                _interrupt_message(writing_option, len(written), "terminated"),
                markup=False,
                soft_wrap=True,
            )
            raise


def _interrupt_message(
    writing_option: str | None, written: int, stopped: str = "interrupted"
) -> str:
    """Return what a stopped run leaves behind.

    `stopped` is "interrupted" after Ctrl-C and "terminated" after SIGTERM.
    """
    if writing_option is None:
        return f"cio-fix: {stopped}"
    if not written:
        return f"cio-fix: {stopped} before any file was written"
    whole = (
        "completely fixed" if writing_option == "--apply" else "has all its comments"
    )
    return (
        f"cio-fix: {stopped} after writing {written}"
        f" {'file' if written == 1 else 'files'}; each file is either unchanged or"
        f" {whole}, so running the same command again finishes the job"
    )


def _add_noqa(
    result: RunResult,
    output_format: OutputFormat,
    *,
    write: bool,
    show_diff: bool,
    exit_zero: bool,
    silence_keys: bool,
) -> int:
    """Add the `# noqa` comments for every finding, print what was done, return the status.

    Without `write` (an explicit --dry-run), print the comments as a diff
    and write nothing, and exit with 1 when there are comments to add.
    Hard-coded keys (CIO101) get no comment unless `silence_keys` is set,
    and without it a run that finds one exits with 1. Either way each key
    gets a warning after the summary, because it stays in the source and
    must be rotated.
    """
    from cio_fix.report import quoted_path, redact
    from cio_fix.report.json import finding_to_dict
    from cio_fix.suppressions import add_directives
    from cio_fix.writer import terminate_as_exit

    # SIGTERM during a write removes the file's temporary file.
    with terminate_as_exit():
        added = add_directives(result, write=write, silence_keys=silence_keys)
    keys = sorted(
        added.keys,
        key=lambda finding: (finding.path.as_posix(), finding.line, finding.column),
    )
    # The errors of the fixes (fixes that would change a line libcst does not
    # print back, say) do not concern the comments, which are written
    # without them.
    problems = [
        _noqa_wording(error)
        for error in [*RunResult(errors=result.errors).all_errors, *added.errors]
    ]
    if exit_zero:
        status = EXIT_CLEAN
    elif problems:
        status = EXIT_ERROR
    elif (added.directives and not write) or (keys and not silence_keys):
        # Comments to add, or keys that later runs still report.
        status = EXIT_FINDINGS
    else:
        status = EXIT_CLEAN
    if output_format is OutputFormat.json:
        import json

        secrets = frozenset(result.secrets)
        document = {
            "version": 1,
            "added": added.directives,
            "files": [path.as_posix() for path in added.files],
            "hard_coded_keys": [
                {**finding_to_dict(finding, secrets), "silenced": silence_keys}
                for finding in keys
            ],
            "errors": [
                {"path": error.path.as_posix(), "message": error.message}
                for error in problems
            ],
        }
        text = redact(json.dumps(document, indent=2), result.secrets)
        console.print(text, markup=False, soft_wrap=True)
        return status
    for error in problems:
        errors.print(
            redact(
                f"{quoted_path(error.path.as_posix())}: error: {error.message}",
                result.secrets,
            ),
            style="red",
            markup=False,
            soft_wrap=True,
        )
    if not write and show_diff:
        from cio_fix.report.text import print_diffs

        print_diffs(console, RunResult(files=added.changes, secrets=result.secrets))
    comments = "comment" if added.directives == 1 else "comments"
    files = f"{len(added.files)} {'file' if len(added.files) == 1 else 'files'}"
    if write:
        summary = f"Added {added.directives} noqa {comments} to {files}."
    elif not added.directives:
        summary = "No noqa comment to add."
    else:
        summary = (
            f"Would add {added.directives} noqa {comments} to {files};"
            " run `cio-fix --add-noqa` without --dry-run to add"
            f" {'it' if added.directives == 1 else 'them'}."
        )
    console.print(summary, markup=False, soft_wrap=True)
    _warn_hard_coded_keys(keys, silenced=silence_keys, secrets=result.secrets)
    return status


def _warn_hard_coded_keys(
    keys: list[Finding], *, silenced: bool, secrets: Iterable[str]
) -> None:
    """Print one warning per hard-coded key that --add-noqa silenced or left reported."""
    from cio_fix.report import redact

    for finding in keys:
        # The message starts with the key's kind and its masked value:
        # "Customer.io Track API key is hard-coded (e4f2****)".
        key = finding.message.partition(";")[0]
        state = "silenced, but" if silenced else "left without a noqa comment:"
        errors.print(
            redact(
                f"cio-fix: warning: {finding.path.as_posix()}:{finding.line}:"
                f"{finding.column}: {finding.code} {state} {key}, and it stays in the"
                " source and its version control history; read it from the"
                " environment and rotate it in Customer.io",
                secrets,
            ),
            style="yellow",
            markup=False,
            soft_wrap=True,
        )
    if keys and not silenced:
        errors.print(
            "cio-fix: warning: --add-noqa does not silence hard-coded keys, so every"
            " run reports them until they are gone; to keep one on purpose, write"
            " `# noqa: CIO101` by hand or run `cio-fix --add-noqa --select CIO101`",
            style="yellow",
            markup=False,
            soft_wrap=True,
        )


def _noqa_wording(error: FileError) -> FileError:
    """Return `error` worded for --add-noqa, which comments on findings and fixes none."""
    if not isinstance(error, PartlyCheckedError):
        return error
    from cio_fix.checker import partly_checked_message

    message = partly_checked_message(
        error.codes, "the findings of the other rules get their noqa comments"
    )
    return FileError(error.path, message)


def _configure(
    targets: list[Path],
    select: list[str] | None,
    extend_select: list[str] | None,
    ignore: list[str] | None,
    unsafe_fixes: bool,
    force_exclude: bool,
) -> Config:
    config = _loaded_config(targets)
    selected = _split_codes(select)
    extended = _split_codes(extend_select)
    ignored = _split_codes(ignore)
    for option, codes in (("--select", selected), ("--extend-select", extended)):
        if codes == ():
            # An empty CI variable would otherwise turn every rule off unnoticed.
            raise ConfigError(
                f"{option} names no rule; give rule codes or prefixes (CIO101,CIO3),"
                " or ALL"
            )
    # Unknown selectors are usage errors even when no file needs the rules.
    validate_selectors(selected or (), "--select")
    validate_selectors(extended or (), "--extend-select")
    validate_selectors(ignored or (), "--ignore")
    # --ignore adds to the configuration's ignore, so that a hook cannot
    # turn back on the rules a project turned off.
    config = config.with_overrides(
        select=selected, extend_select=extended, extend_ignore=ignored
    )
    if unsafe_fixes:
        config = config.with_overrides(unsafe_fixes=True)
    if force_exclude:
        config = config.with_overrides(force_exclude=True)
    return config


def _report(
    result: RunResult,
    output_format: OutputFormat,
    *,
    apply: bool,
    diff: bool,
    quiet: bool,
    config: Config,
) -> None:
    if output_format is OutputFormat.json:
        from cio_fix.report.json import render_json

        console.print(render_json(result), markup=False, soft_wrap=True)
        return
    from cio_fix.report.text import render_text

    render_text(
        console,
        errors,
        result,
        apply=apply,
        show_diff=diff,
        quiet=quiet,
        unsafe_fixes=config.unsafe_fixes,
    )


def _exit_status(result: RunResult, apply: bool, exit_zero: bool) -> int:
    if exit_zero:
        return EXIT_CLEAN
    if result.all_errors:
        return EXIT_ERROR
    remaining = [
        finding for finding in result.findings if not (apply and finding.applied)
    ]
    return EXIT_FINDINGS if remaining else EXIT_CLEAN


def _print_rules(output_format: OutputFormat) -> None:
    from cio_fix.rules import all_rules

    rules = all_rules()
    if output_format is OutputFormat.json:
        import json

        table = [
            {
                "code": code,
                "name": rule.name,
                "fix": rule().fix_label,
                "summary": rule.summary,
            }
            for code, rule in rules.items()
        ]
        console.print(json.dumps(table, indent=2), markup=False, soft_wrap=True)
        return
    width = max(len(rule.name) for rule in rules.values())
    for code, rule in rules.items():
        fix = rule().fix_label
        console.print(
            f"{code}  {rule.name:<{width}}  {fix:<6}  {rule.summary}",
            markup=False,
            soft_wrap=True,
        )


def _loaded_config(targets: list[Path]) -> Config:
    """Load the configuration of the project of `targets[0]`, marking whether they cover it.

    Raises ConfigError when the configuration is invalid.
    """
    config = load_config(targets[0])
    root = config.root.resolve()
    resolved = [resolve_or_absolute(target) for target in targets]
    whole = any(target == root or target in root.parents for target in resolved)
    return config.with_options(whole_project=whole)


def _print_events(
    targets: list[Path], output_format: OutputFormat, force_exclude: bool
) -> None:
    from cio_fix.events import build_catalogs, catalog_json, catalog_lines

    try:
        config = _loaded_config(targets).with_overrides(force_exclude=force_exclude)
        catalogs = build_catalogs(targets, config)
    except ConfigError as error:
        raise _config_failure(error) from error
    from cio_fix.report import quoted_path, redact

    secrets = frozenset().union(*(catalog.secrets for catalog in catalogs))
    errors_found = [error for catalog in catalogs for error in catalog.errors]
    _warn_not_python([path for catalog in catalogs for path in catalog.not_python])
    if output_format is OutputFormat.json:
        text = redact(catalog_json(catalogs), secrets)
        console.print(text, markup=False, soft_wrap=True)
    else:
        for line in catalog_lines(catalogs):
            console.print(redact(line, secrets), markup=False, soft_wrap=True)
        for path, message in errors_found:
            errors.print(
                redact(f"{quoted_path(path)}: error: {message}", secrets),
                style="red",
                markup=False,
                soft_wrap=True,
            )
    raise typer.Exit(EXIT_ERROR if errors_found else EXIT_CLEAN)


def _print_explanation(code: str) -> None:
    from cio_fix.rules import all_rules

    rules = all_rules()
    rule = rules.get(code.strip().upper())
    if rule is None:
        raise _fail(
            f"unknown rule code {code!r}; run `cio-fix --list-rules` for the codes"
        )
    console.print(f"{rule.code} {rule.name}\n", markup=False)
    console.print(rule.documentation(), markup=False, soft_wrap=True)


def _escape_unencodable_output() -> None:
    """Make stdout and stderr escape the characters their encoding cannot encode.

    A diff or a path may contain any character, but a pipe on Windows or a
    terminal in a Latin-1 or C locale cannot encode them all. Python's own
    stderr escapes them, and stdout does the same from here on, so that a
    run never stops halfway through its report.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def main() -> None:
    """Run the command line; an unexpected exception exits with 2, never with 1.

    Exit status 1 means that findings remain, so a crash must not look like it.
    Ctrl-C is reported by the command itself, see `_report_interrupt`.
    """
    from cio_fix.interrupts import install

    install()
    _escape_unencodable_output()
    try:
        app(prog_name="cio-fix")
    except Exception as error:
        traceback.print_exc()
        errors.print(
            f"cio-fix: error: internal error ({type(error).__name__}: {error});"
            " the traceback is above, please report it with the command line",
            style="red",
            markup=False,
            soft_wrap=True,
        )
        raise SystemExit(EXIT_ERROR) from error
