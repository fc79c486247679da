"""Whose the bot branch is: cio-fix pushes over its own commits only, never over a person's."""

from __future__ import annotations

from dataclasses import dataclass

from cio_fix.pr.body import has_marker
from cio_fix.pr.git import Commit, Git, Identity
from cio_fix.pr.github import GitHub, PullRequest

# Commits named in the message about a person's commits on the bot branch.
MAX_COMMITS_SHOWN = 3


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
    return (
        f"the branch {branch!r} on origin has {count} that cio-fix did not make"
        f" ({shown}), so cio-fix leaves {kept}; {next_step}"
    )
