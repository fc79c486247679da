"""Respect people's work on the bot branch: their commits, their pull requests, their closures.

cio-fix pushes over its own commits only, and does not open fixes again
that a person declined by closing the bot's pull request.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cio_fix.model import Finding
from cio_fix.pr.body import has_marker, marked_fixes
from cio_fix.pr.git import Commit, Git, Identity
from cio_fix.pr.github import GitHub, PullRequest

# Commits named in the message about a person's commits on the bot branch.
MAX_COMMITS_SHOWN = 3
# Fingerprints kept in a description, 13 characters each. A run that fixes
# more findings keeps none.
MAX_FINGERPRINTS = 1000
# Hexadecimal digits of a finding's fingerprint.
FINGERPRINT_LENGTH = 12
# Line numbers in a message (`line 12`, `app.py:12`), which change when
# other code moves.
_LINE_NUMBER = re.compile(r"(?<=line )\d+|(?<=:)\d+")
# The subject line of a bot commit: "Fix CIO101 hardcoded-credential in 2 files".
_BOT_SUBJECT = re.compile(
    r"^Fix (?P<code>CIO\d{3}) (?P<name>[a-z0-9-]+)(?: in \d+ files?)?$"
)


class OwnershipError(Exception):
    """The bot branch or its pull request belongs to a person; the message states what to do."""


@dataclass(frozen=True)
class BranchPulls:
    """The bot's pull requests from the bot branch."""

    # The open one, which this run updates.
    open: PullRequest | None
    # The newest one in any state: open, closed or merged.
    latest: PullRequest | None


def find_bot_pulls(github: GitHub, branch: str) -> BranchPulls:
    """Return the bot's pull requests from `branch`; raise at an open one a person opened."""
    pulls = github.branch_pulls(branch)
    for pull in pulls:
        if pull.state == "open" and not has_marker(pull.body):
            raise OwnershipError(
                f"the open pull request #{pull.number} from {branch!r} was not opened by"
                " cio-fix; choose another branch with --pr-branch"
            )
    bot_pulls = [pull for pull in pulls if has_marker(pull.body)]
    open_pull = next((pull for pull in bot_pulls if pull.state == "open"), None)
    latest = bot_pulls[0] if bot_pulls else None
    return BranchPulls(open_pull, latest)


def check_branch_owner(
    git: Git,
    branch: str,
    base: str,
    base_commit: str,
    remote_commit: str,
    identity: Identity,
    pulls: BranchPulls,
) -> None:
    """Raise OwnershipError unless every commit of the remote branch beyond the base is the bot's.

    A bot commit has the bot identity as both author and committer, so a
    person's commit, an amended bot commit and a merge made on GitHub all
    count as a person's. A branch with no commit beyond the base is the
    bot's only when a cio-fix pull request was opened from it.
    """
    commits = git.commits(base_commit, remote_commit)
    foreign = [
        commit
        for commit in commits
        if commit.author != identity or commit.committer != identity
    ]
    if foreign:
        raise OwnershipError(_foreign_commits_message(branch, base, foreign, pulls))
    if not commits and pulls.latest is None:
        raise OwnershipError(
            f"the branch {branch!r} already exists on origin, and cio-fix never opened a"
            " pull request from it, so cio-fix does not overwrite it; choose another"
            " branch with --pr-branch"
        )


def _foreign_commits_message(
    branch: str, base: str, foreign: list[Commit], pulls: BranchPulls
) -> str:
    shown = ", ".join(
        f"{commit.id[:12]} {commit.subject!r} by {commit.author.name}"
        for commit in foreign[:MAX_COMMITS_SHOWN]
    )
    if len(foreign) > MAX_COMMITS_SHOWN:
        shown += f" and {len(foreign) - MAX_COMMITS_SHOWN} more"
    count = f"{len(foreign)} commit{'' if len(foreign) == 1 else 's'}"
    if pulls.open is not None:
        kept = f"the branch and pull request #{pulls.open.number} as they are"
        next_step = (
            f"merge pull request #{pulls.open.number}, or delete the branch (which"
            f" closes the pull request), and the next run starts again from {base}"
        )
    elif pulls.latest is not None:
        kept = "the branch as it is"
        next_step = (
            "delete the branch, and the next run starts again from"
            f" {base}; or choose another branch with --pr-branch"
        )
    else:
        # cio-fix never opened a pull request from this branch: it is a
        # person's branch named by mistake, so deleting it is no advice.
        kept = "the branch as it is"
        next_step = "choose another branch with --pr-branch"
    message = (
        f"the branch {branch!r} on origin has {count} that cio-fix did not make"
        f" ({shown}), so cio-fix leaves {kept}; {next_step}"
    )
    if pulls.latest is not None and all(_bot_shaped(commit) for commit in foreign):
        message += (
            ". These commits look like cio-fix's own under another identity: after a"
            " change of author-name or author-email, delete the branch once"
        )
    return message


def _bot_shaped(commit: Commit) -> bool:
    """Tell whether a commit has the subject and single identity of a bot commit.

    The subject must name a rule code with that rule's own name.
    """
    from cio_fix.rules import all_rules

    match = _BOT_SUBJECT.match(commit.subject)
    if match is None or commit.author != commit.committer:
        return False
    rule = all_rules().get(match.group("code"))
    return rule is not None and rule.name == match.group("name")


def fix_fingerprints(
    findings: Iterable[Finding], relative_path: Callable[[Finding], str]
) -> tuple[str, ...]:
    """Return a short fingerprint per fixed finding: its code, path and message.

    Line numbers are left out, so the same fix keeps its fingerprint when
    code above it moves. Returns none for more than MAX_FINGERPRINTS findings.
    NOTE: two findings with the same code and message in one file share a
    fingerprint.
    """
    fingerprints = set()
    for finding in findings:
        message = _LINE_NUMBER.sub("#", finding.message)
        text = f"{finding.code}\n{relative_path(finding)}\n{message}"
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        fingerprints.add(digest[:FINGERPRINT_LENGTH])
    if len(fingerprints) > MAX_FINGERPRINTS:
        return ()
    return tuple(sorted(fingerprints))


def declining_pull(
    pulls: BranchPulls, branch_unmerged: bool, fingerprints: tuple[str, ...]
) -> PullRequest | None:
    """Return the closed, unmerged bot pull request that already had every fix, if any.

    A person who closes the bot's pull request without merging declines its
    fixes, so cio-fix does not open them again while the branch stays.
    `branch_unmerged` is whether the bot branch is on origin with commits
    that the base does not contain. cio-fix opens a new pull request when
    the run finds a fix the closed one did not have, or after the branch was
    deleted or merged.
    """
    latest = pulls.latest
    if pulls.open is not None or latest is None or not branch_unmerged:
        return None
    if latest.state != "closed" or latest.merged:
        return None
    declined = marked_fixes(latest.body)
    if not fingerprints or not declined.issuperset(fingerprints):
        return None
    return latest
