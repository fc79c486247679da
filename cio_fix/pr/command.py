"""The `--pr` and `--pr-body` part of the command line: run, print, choose the exit status."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from cio_fix.config import Config, ConfigError
from cio_fix.model import Finding
from cio_fix.pr.changes import Outcome
from cio_fix.pr.git import one_line
from cio_fix.pr.publish import Publication, PublishError, describe_only, publish
from cio_fix.report import mask_credential_shapes, quoted_path

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


@dataclass(frozen=True)
class PrOptions:
    """The `--pr*` options as given; None where the option was not given."""

    pr: bool
    body_path: Path | None
    branch: str | None
    base: str | None
    title: str | None
    labels: tuple[str, ...]


def command_line(
    paths: list[Path],
    options: PrOptions,
    select: list[str] | None,
    extend_select: list[str] | None,
    ignore: list[str] | None,
    unsafe_fixes: bool,
) -> str:
    """Return the cio-fix command line that the description names as its source."""
    words = ["cio-fix", "--apply"]
    if unsafe_fixes:
        words.append("--unsafe-fixes")
    for value in select or []:
        words += ["--select", value]
    for value in extend_select or []:
        words += ["--extend-select", value]
    for value in ignore or []:
        words += ["--ignore", value]
    if options.pr:
        words.append("--pr")
    for flag, value in (
        ("--pr-branch", options.branch),
        ("--pr-base", options.base),
        ("--pr-title", options.title),
    ):
        if value is not None:
            words += [flag, value]
    for label in options.labels:
        words += ["--pr-label", label]
    if options.body_path is not None:
        words += ["--pr-body", options.body_path.as_posix()]
    words += [path.as_posix() for path in paths]
    return shlex.join(words)


def run_pr_command(
    targets: list[Path],
    make_config: Callable[[], Config],
    options: PrOptions,
    command: str,
    exit_zero: bool,
    console: Console,
    errors: Console,
) -> int:
    """Publish the pull request (or write only its description) and return the exit status."""
    try:
        config = make_config()
        settings = config.pr.with_options(
            branch=options.branch,
            base=options.base,
            title=options.title,
            labels=options.labels,
        )
        if options.pr:
            publication = publish(
                targets, make_config, settings, command, os.environ, options.body_path
            )
            outcome = publication.outcome
        else:
            assert options.body_path is not None
            publication = None
            outcome = describe_only(
                targets, make_config, settings.branch, command, options.body_path
            )
    except (PublishError, ConfigError) as error:
        # Scripts read the error as one line, so lines from git or the API
        # are joined.
        message = one_line(mask_credential_shapes(str(error)))
        errors.print(
            f"cio-fix: error: {message}",
            style="red",
            markup=False,
            soft_wrap=True,
        )
        return EXIT_ERROR

    declined = publication is not None and publication.action == "declined"
    _print_outcome(console, errors, outcome, declined)
    if publication is not None:
        _print_publication(console, publication)
    elif options.body_path is not None:
        console.print(
            f"Wrote the pull request description to {options.body_path}.", markup=False
        )

    # --exit-zero turns findings and file errors into 0, as in a plain run.
    # The GitHub Action leaves it out and passes its step only on status 1,
    # so that a file error still fails the job.
    if exit_zero:
        return EXIT_CLEAN
    if outcome.errors:
        return EXIT_ERROR
    # Declined fixes were not published, so their findings remain in the base.
    return EXIT_FINDINGS if outcome.remaining or declined else EXIT_CLEAN


def _print_outcome(
    console: Console, errors: Console, outcome: Outcome, declined: bool
) -> None:
    """Print the file errors, each rule's fixes and the findings left.

    `declined` is true when no fix was published, because a closed pull
    request had the same fixes.
    """
    from cio_fix.report import redact

    for error in outcome.errors:
        message = mask_credential_shapes(redact(error.message, outcome.secrets))
        errors.print(
            f"{quoted_path(error.path.as_posix())}: error: {message}",
            style="red",
            markup=False,
            soft_wrap=True,
        )
    for change in outcome.changes:
        findings = _plural(len(change.findings), "finding")
        files = _plural(len(change.files), "file")
        if declined:
            line = (
                f"{change.code}: {findings} in {files} left unfixed, because the"
                " fixes were declined"
            )
        else:
            commit = f" (commit {change.commit[:12]})" if change.commit else ""
            line = f"{change.code}: fixed {findings} in {files}{commit}"
        console.print(line, markup=False, soft_wrap=True)
    for finding in outcome.remaining:
        console.print(
            _finding_line(finding, outcome.secrets), markup=False, soft_wrap=True
        )


def _finding_line(finding: Finding, secrets: set[str]) -> str:
    from cio_fix.report import redact

    path = quoted_path(finding.path.as_posix())
    location = f"{path}:{finding.line}:{finding.column}:"
    message = mask_credential_shapes(redact(finding.message, secrets))
    return f"{location} {finding.code} {message}"


def _print_publication(console: Console, publication: Publication) -> None:
    pull = publication.pull
    if publication.action == "unchanged":
        console.print(
            "Nothing to fix and no cio-fix pull request open: nothing to do.",
            markup=False,
            soft_wrap=True,
        )
    elif publication.action == "declined" and pull is not None:
        console.print(
            f"Pull request #{pull.number} {pull.html_url} had these fixes and was closed"
            " without merging, so cio-fix does not open it again; to get a new pull"
            f" request with them, delete the branch {publication.branch} on origin.",
            markup=False,
            soft_wrap=True,
        )
    elif publication.action == "closed" and pull is not None:
        console.print(
            f"Nothing left to fix: closed pull request #{pull.number} {pull.html_url}",
            markup=False,
            soft_wrap=True,
        )
    elif (
        pull is not None and publication.action == "updated" and not publication.pushed
    ):
        console.print(
            f"Updated the description of pull request #{pull.number} {pull.html_url};"
            f" its branch already has these {_plural(len(publication.commits), 'commit')},"
            " so nothing was pushed.",
            markup=False,
            soft_wrap=True,
        )
    elif pull is not None:
        console.print(
            f"{publication.action.capitalize()} pull request #{pull.number} {pull.html_url}"
            f" with {_plural(len(publication.commits), 'commit')}.",
            markup=False,
            soft_wrap=True,
        )
    for other in publication.others:
        console.print(
            f"Pull request #{other.number} {other.html_url} from {other.head_ref},"
            " also opened by cio-fix, is still open into the same base; close it if"
            " that branch was an earlier --pr-branch of this bot.",
            markup=False,
            soft_wrap=True,
        )
    if pull is not None and publication.kept_title is not None:
        console.print(
            f"Kept the title {publication.kept_title!r}, which a person gave pull"
            f" request #{pull.number} on GitHub; to let cio-fix set the title again,"
            f" rename the pull request to {publication.title!r}.",
            markup=False,
            soft_wrap=True,
        )


def _plural(count: int, word: str) -> str:
    return f"{count} {word if count == 1 else word + 's'}"
