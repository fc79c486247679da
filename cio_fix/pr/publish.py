"""`cio-fix --apply --pr`: fix on the bot branch, one commit per rule, publish the pull request."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from cio_fix import __version__
from cio_fix.config import Config
from cio_fix.files import resolve_or_absolute
from cio_fix.pr.body import (
    BodyContext,
    has_marker,
    keep_ticked_items,
    renamed_by_person,
    render_body,
    without_fixes_line,
)
from cio_fix.pr.changes import Outcome, RuleChange, apply_by_rule
from cio_fix.pr.git import Git, GitError, Identity
from cio_fix.pr.github import DEFAULT_API_URL, GitHub, GitHubError, PullRequest
from cio_fix.pr.ownership import (
    OwnershipError,
    check_branch_owner,
    declining_pull,
    find_bot_pulls,
    fix_fingerprints,
)
from cio_fix.pr.remote import (
    REMOTE,
    RemoteError,
    check_origin,
    credential_hosts,
    github_hosts,
    resolve_repository,
)
from cio_fix.pr.settings import PrSettings
from cio_fix.report import mask_credential_shapes, quoted_path

logger = logging.getLogger(__name__)

# Commit subjects stay within git's customary 72 characters.
MAX_SUBJECT = 72
CLOSE_COMMENT = (
    "cio-fix found nothing left to fix on `{base}`, so this pull request is no longer"
    " needed. The next run opens a new one if a pitfall comes back."
)


class PublishError(Exception):
    """The pull request could not be published. The message gives the reason and the next step."""


@dataclass
class Publication:
    """The result of `--pr`: the outcome of the fixes and the action on the pull request."""

    outcome: Outcome
    # "opened", "updated", "closed", "declined" (a person closed a pull
    # request with these fixes) or "unchanged" (nothing to fix, none open).
    action: str
    pull: PullRequest | None = None
    body: str = ""
    commits: list[str] = field(default_factory=list)
    branch: str = ""
    # False when the branch on origin already had these commits.
    pushed: bool = False
    # The title a person gave the pull request, kept instead of cio-fix's own.
    kept_title: str | None = None
    # The title cio-fix gives the pull request.
    title: str = ""
    # Other open cio-fix pull requests into the same base, from other
    # branches: an earlier `--pr-branch` leaves its pull request open.
    others: list[PullRequest] = field(default_factory=list)


def token_from(environ: Mapping[str, str]) -> str:
    token = environ.get("GITHUB_TOKEN") or environ.get("GH_TOKEN")
    if not token:
        raise PublishError(
            "no GitHub token: set GITHUB_TOKEN or GH_TOKEN to a token that may push"
            " branches and open pull requests (contents: write, pull-requests: write)"
        )
    return token


def publish(
    targets: list[Path],
    make_config: Callable[[], Config],
    settings: PrSettings,
    command: str,
    environ: Mapping[str, str],
    body_path: Path | None = None,
) -> Publication:
    """Fix on a bot branch made from the base, push it, and publish or close its pull request."""
    token = token_from(environ)
    token_hosts = credential_hosts(github_hosts(environ))
    try:
        git = Git.at(Path.cwd(), token, token_hosts)
    except GitError as error:
        raise PublishError(str(error)) from error
    _refuse_dirty(git)
    try:
        targets = _check_targets(git, targets, make_config().force_exclude)
    except GitError as error:
        raise PublishError(str(error)) from error
    try:
        repository = resolve_repository(environ, git)
        check_origin(git, environ)
    except (RemoteError, GitError) as error:
        raise PublishError(str(error).replace(token, "****")) from error
    github = GitHub(environ.get("GITHUB_API_URL") or DEFAULT_API_URL, token, repository)

    try:
        return _publish(git, github, targets, make_config, settings, command, body_path)
    except (GitError, GitHubError, OwnershipError) as error:
        raise PublishError(str(error).replace(token, "****")) from error


def _refuse_dirty(git: Git) -> None:
    dirty = git.dirty_paths()
    if dirty:
        raise PublishError(
            f"the work tree has uncommitted changes ({_some(dirty)}); commit or stash"
            " them first, so that none of them ends up in a bot commit"
        )
    # `git reset --hard`, which ends every run, overwrites an assume-unchanged
    # file, and the checkout of a base that changes a skip-worktree file fails.
    hidden = git.hidden_changes()
    listed = "; ".join(
        f"{flag}: {_some(paths)}" for flag, paths in hidden.items() if paths
    )
    if listed:
        raise PublishError(
            f"the index hides local changes from git status ({listed}), and cio-fix's"
            " checkout and reset could overwrite them; run `git update-index"
            " --no-assume-unchanged --no-skip-worktree PATH...` on those files, then"
            " commit or stash their changes"
        )


def _check_targets(git: Git, targets: list[Path], force_exclude: bool) -> list[Path]:
    """Reject a PATH whose fixes cannot be committed on the bot branch, before any fix.

    A fix is written in place before its commit, and the restore at the
    end of a run resets only the work tree of this repository. So a fix
    written outside it, inside a submodule or another nested repository,
    or in a file that git ignores, would stay behind.

    Returns the PATHs with symbolic links resolved. A fix through a link
    writes the file that the link names, as `cio-fix --apply` does, so
    that file is the one to check and commit. With `force_exclude`, a
    named file that git ignores is left out instead of rejected.
    """
    work_tree = git.work_tree.resolve()
    checked = []
    for target in targets:
        _path_in_work_tree(git.work_tree, target.as_posix())
        # A symbolic link loop is left to the engine, which reports it.
        resolved = resolve_or_absolute(target)
        try:
            relative = resolved.relative_to(work_tree).as_posix()
        except ValueError:
            raise PublishError(
                f"{target} leads through a symbolic link to {resolved}, outside the git"
                f" work tree {git.work_tree}, so cio-fix cannot commit its fixes; run"
                " cio-fix --pr on paths inside the clone"
            ) from None
        folder = resolved if resolved.is_dir() else resolved.parent
        if not folder.is_dir():
            # A missing PATH: the engine reports it as a file error.
            checked.append(target)
            continue
        _reject_nested(git, target, folder, work_tree)
        # A folder's walk lists no ignored file. With --force-exclude a named
        # one is left out here, as a run without --pr leaves it out. The
        # engine cannot do it, because it runs on the base commit, whose
        # ignore files may differ, and it checks the link's target, not the link.
        ignored = None
        if resolved.is_file():
            ignored = _ignoring_rule(git, target, resolved, relative, work_tree)
        if ignored is not None:
            if force_exclude:
                continue
            name, pattern = ignored
            raise PublishError(
                f"{name} is ignored by git ({pattern}), so cio-fix cannot commit its"
                " fixes; leave it out of the PATHs, stop ignoring it, or add"
                " --force-exclude to skip ignored files as a run over their folder does"
            )
        checked.append(_without_links(target, resolved))
    return checked


def _reject_nested(git: Git, target: Path, folder: Path, work_tree: Path) -> None:
    nested = Git.at(folder).work_tree.resolve()
    if nested == work_tree:
        return
    nested_name = nested.relative_to(work_tree).as_posix()
    kind = "submodule" if git.is_submodule(nested_name) else "nested git repository"
    raise PublishError(
        f"{target} is inside the {kind} {nested_name}, a repository of its own, so"
        " cio-fix cannot commit its fixes on this repository's bot branch; run"
        " cio-fix --pr in a clone of that repository instead"
    )


def _ignoring_rule(
    git: Git, target: Path, resolved: Path, relative: str, work_tree: Path
) -> tuple[str, str] | None:
    """Return the name that git ignores, `target`'s or its target's, and the rule, or None.

    A link is checked under its own name first, as a run without --pr
    checks it, and then under the name of the file it leads to.
    """
    link_name = _link_name(target, work_tree)
    if link_name is not None:
        pattern = git.ignoring_pattern(link_name)
        if pattern is not None:
            return str(target), pattern
    pattern = git.ignoring_pattern(relative)
    if pattern is None:
        return None
    if Path(os.path.abspath(target)) == resolved:
        return str(target), pattern
    return f"{relative}, which {target} links to,", pattern


def _link_name(target: Path, work_tree: Path) -> str | None:
    """Return the name of the link `target` relative to the work tree root, or None.

    The folders above the link are resolved, as git resolves its working
    directory, so that the name has no link but the last one.
    """
    if not target.is_symlink():
        return None
    folder = resolve_or_absolute(target.absolute().parent)
    try:
        return (folder / target.name).relative_to(work_tree).as_posix()
    except ValueError:
        return None


def _without_links(target: Path, resolved: Path) -> Path:
    """Return `target` as the path it names once its symbolic links are resolved.

    A path without links is returned unchanged, and a relative path stays
    relative to the working directory.
    """
    if Path(os.path.abspath(target)) == resolved or not resolved.exists():
        # A broken link stays as named, so the engine reports the link.
        return target
    if target.is_absolute():
        return resolved
    return Path(os.path.relpath(resolved))


def _some(paths: list[str]) -> str:
    shown = ", ".join(paths[:5])
    if len(paths) > 5:
        shown += f" and {len(paths) - 5} more"
    return shown


def _publish(
    git: Git,
    github: GitHub,
    targets: list[Path],
    make_config: Callable[[], Config],
    settings: PrSettings,
    command: str,
    body_path: Path | None,
) -> Publication:
    info = github.repository_info()
    base = settings.base or info["default_branch"]
    branch = settings.branch
    if not git.check_branch_name(branch):
        raise PublishError(
            f"{branch!r} is not a valid branch name; choose another with --pr-branch"
        )
    if branch == base or branch == info["default_branch"]:
        raise PublishError(
            f"the bot branch {branch!r} is the base branch; cio-fix pushes only to its own"
            " branch, so choose another with --pr-branch"
        )
    pulls = find_bot_pulls(github, branch)
    pull = pulls.open
    identity = Identity(settings.author_name, settings.author_email)
    recorded_identity = git.recorded_identity(identity)

    def tracked_config() -> Config:
        # An untracked file in the base commit's checkout, such as one that
        # only the user's branch ignores, must not end up in a bot commit.
        return make_config().with_overrides(tracked_only=True)

    original = git.current_ref()
    commits: list[str] = []
    secrets: set[str] = set()

    def path_name(path: str) -> str:
        return _relative_to(git.work_tree, path) or path

    message_text = _message_text_from_top(git.work_tree)

    def commit(change: RuleChange) -> None:
        for finding in change.findings:
            secrets.update(finding.secrets)
        paths = [_path_in_work_tree(git.work_tree, path) for path in change.files]
        change.parent = git.head()
        change.commit = git.commit_paths(
            paths, commit_message(change, secrets, path_name, message_text), identity
        )
        commits.append(change.commit)

    try:
        base_commit = git.fetch_branch(REMOTE, base)
        if base_commit is None:
            raise PublishError(
                f"the base branch {base!r} does not exist on {REMOTE}; check --pr-base"
            )
        remote_commit = git.fetch_branch(REMOTE, branch)
        if remote_commit is not None:
            git.deepen_to_common_commit(REMOTE, base_commit, remote_commit)
            check_branch_owner(
                git, branch, base, base_commit, remote_commit, recorded_identity, pulls
            )

        git.checkout_detached(base_commit)
        try:
            outcome = apply_by_rule(targets, tracked_config, commit)
            head = git.head()
            # Nothing changed since the last run: keep the branch as it is, so
            # reviewers' comments on its commits stay where they are.
            unchanged = (
                bool(commits)
                and remote_commit is not None
                and _same_changes(git, base_commit, head, remote_commit)
            )
            # The base contains the whole branch: its pull request was merged,
            # maybe outside GitHub, so its fixes were not declined.
            branch_merged = remote_commit is not None and git.is_ancestor(
                remote_commit, base_commit
            )
            remote_commits: list[str] = []
            if unchanged:
                # Oldest first, one per rule like `commits`.
                remote_commits = [
                    commit.id
                    for commit in reversed(git.commits(base_commit, remote_commit))
                ]
        finally:
            git.restore(original)
    finally:
        git.drop_fetched(base)
        git.drop_fetched(branch)

    if not commits:
        if pull is not None and outcome.errors:
            # A file that could not be checked may still have a pitfall, so
            # "nothing to fix" is not known for sure.
            failed = "; ".join(
                f"{quoted_path(error.path.as_posix())}: {error.message}"
                for error in outcome.errors[:3]
            )
            raise PublishError(
                f"pull request #{pull.number} stays open because cio-fix could not check"
                f" every file ({failed}); fix that and run cio-fix again"
            )
        return _close(github, pull, base, outcome)

    fingerprints = fix_fingerprints(
        (finding for change in outcome.changes for finding in change.findings),
        lambda finding: path_name(finding.path.as_posix()),
    )
    declined = declining_pull(
        pulls, remote_commit is not None and not branch_merged, fingerprints
    )
    if declined is not None:
        # The local commits were never pushed, so no output names them.
        for change in outcome.changes:
            change.commit = None
        return Publication(outcome, "declined", declined, branch=branch)

    if unchanged:
        # Name the commits that are on the branch, not the identical local ones.
        head = remote_commit
        # The branch has the same commits on the same base.
        parent = base_commit
        for change, commit_id in zip(outcome.changes, remote_commits, strict=True):
            change.commit = commit_id
            change.parent = parent
            parent = commit_id
        commits = remote_commits
    else:
        git.push_branch(REMOTE, head, branch, remote_commit)

    title = mask_credential_shapes(settings.title)
    context = _body_context(info, head, branch, command, git.work_tree)
    body = render_body(
        outcome,
        replace(
            context,
            fixes=fingerprints,
            title=title,
            path_name=path_name,
            message_text=message_text,
        ),
    )
    if pull is not None:
        # A reviewer's ticks and a person's new title survive the update.
        body = keep_ticked_items(body, pull.body)
    if body_path is not None:
        write_body(body_path, body)
    kept_title = None
    others: list[PullRequest] = []
    if pull is None:
        pull = github.create_pull(title, branch, base, body)
        action = "opened"
        others = [
            other
            for other in github.open_pulls(base)
            if other.number != pull.number
            and other.head_ref != branch
            and has_marker(other.body)
        ]
    else:
        kept_title = pull.title if renamed_by_person(pull.body, pull.title) else None
        sent_title = None if kept_title is not None else title
        pull = github.update_pull(pull.number, sent_title, base, body)
        action = "updated"
    if settings.labels:
        github.add_labels(pull.number, list(settings.labels))
    return Publication(
        outcome,
        action,
        pull,
        body,
        commits,
        branch,
        not unchanged,
        kept_title,
        title,
        others,
    )


def _same_changes(git: Git, base: str, head: str, remote: str) -> bool:
    """Return whether the remote branch has the same commits, tree by tree, on the same base."""
    if git.tree(head) != git.tree(remote):
        return False
    if not git.is_ancestor(base, remote):
        return False
    if git.subjects(base, head) != git.subjects(base, remote):
        return False
    return git.commit_trees(base, head) == git.commit_trees(base, remote)


def _close(
    github: GitHub, pull: PullRequest | None, base: str, outcome: Outcome
) -> Publication:
    if pull is None:
        return Publication(outcome, "unchanged")
    # A pull request that cio-fix closes itself declines nothing. Without
    # the fixes line, the same fixes get a new pull request if they come back.
    if without_fixes_line(pull.body) != pull.body:
        github.update_body(pull.number, without_fixes_line(pull.body))
    github.comment(pull.number, mask_credential_shapes(CLOSE_COMMENT.format(base=base)))
    github.close_pull(pull.number)
    return Publication(outcome, "closed", pull)


def _body_context(
    info: dict, head: str, branch: str, command: str, work_tree: Path
) -> BodyContext:
    html_url = str(info.get("html_url") or "").rstrip("/")

    def link_at(commit: str, path: str, line: int) -> str | None:
        relative = _relative_to(work_tree, path)
        if not html_url or relative is None:
            return None
        return f"{html_url}/blob/{commit}/{urllib.parse.quote(relative)}#L{line}"

    def link(path: str, line: int) -> str | None:
        return link_at(head, path, line)

    return BodyContext(
        version=__version__,
        command=_command_from_top(command, work_tree),
        branch=branch,
        link=link,
        link_at=link_at,
    )


def _command_from_top(command: str, work_tree: Path) -> str:
    """Prefix `command` with the `cd` from the top of the work tree to where it ran.

    The PATHs of the command, and the folder where cio-fix looks for its
    configuration when no PATH is given, are relative to the working directory.
    """
    folder = Path.cwd().resolve().relative_to(work_tree.resolve())
    if folder == Path("."):
        return command
    return f"cd {shlex.quote(folder.as_posix())} && {command}"


def _named_from_top(context: BodyContext, work_tree: Path) -> BodyContext:
    """Return `context` naming files from the top of `work_tree`, with the `cd` in its command."""
    return replace(
        context,
        command=_command_from_top(context.command, work_tree),
        path_name=lambda path: _relative_to(work_tree, path) or path,
        message_text=_message_text_from_top(work_tree),
    )


def _message_text_from_top(work_tree: Path) -> Callable[[str], str]:
    """Return a function that names the work tree's files in a message from its top.

    A message names a file above the working directory, such as the
    `pyproject.toml` that pins the SDK, by its absolute path on the runner.
    """
    top = re.escape(work_tree.as_posix().rstrip("/") + "/")
    # Only a whole path: `/ci/repo/x` must not match inside `/other/ci/repo/x`.
    absolute = re.compile(rf"(?<![\w./~-]){top}")
    return lambda text: absolute.sub("", text)


def _relative_to(work_tree: Path, path: str) -> str | None:
    """Return `path` (relative to the working directory) relative to the work tree root."""
    try:
        return (Path.cwd() / path).resolve().relative_to(work_tree.resolve()).as_posix()
    except ValueError:
        return None


def _path_in_work_tree(work_tree: Path, path: str) -> str:
    """Return `path` (relative to the working directory) relative to the work tree root.

    Symbolic links are not resolved, so a fixed link names the link itself.
    """
    absolute = Path(os.path.abspath(Path.cwd() / path))
    try:
        return absolute.relative_to(work_tree).as_posix()
    except ValueError:
        raise PublishError(
            f"{path} is outside the git work tree {work_tree}, so cio-fix cannot commit"
            " its fix; run cio-fix --pr on paths inside the clone"
        ) from None


def commit_message(
    change: RuleChange,
    secrets: set[str],
    path_name: Callable[[str], str],
    message_text: Callable[[str], str],
) -> str:
    """Return the commit message of one rule's fixes: what the rule fixes, why, and where.

    `path_name` returns the name of a file relative to the top of the work
    tree, and `message_text` renames the absolute paths in a finding's message so.
    """
    from cio_fix.pr.body import why_it_matters
    from cio_fix.report import redact
    from cio_fix.rules import all_rules

    rule = all_rules().get(change.code)
    name = rule.name if rule else change.code
    subject = f"Fix {change.code} {name} in {_count(len(change.files), 'file')}"
    if len(subject) > MAX_SUBJECT:
        subject = f"Fix {change.code} {name}"[:MAX_SUBJECT]
    paragraphs = []
    if rule is not None:
        if rule.summary:
            paragraphs.append(
                _wrap(f"{change.code} {name}: {rule.summary.rstrip('.')}.")
            )
        why = why_it_matters(rule.documentation())
        if why:
            paragraphs.append(_wrap(why))
    listing = [
        f"- {quoted_path(path_name(finding.path.as_posix()))}:{finding.line}:"
        f" {message_text(finding.message)}"
        for finding in change.findings
    ]
    if listing:
        paragraphs.append("\n".join(listing))
    paragraphs.append(f"Run `cio-fix --explain {change.code}` for the whole rule.")
    message = redact("\n\n".join([subject, *paragraphs]) + "\n", secrets)
    return mask_credential_shapes(message)


def _wrap(text: str) -> str:
    import textwrap

    return textwrap.fill(text, width=72, break_long_words=False, break_on_hyphens=False)


def _count(count: int, word: str) -> str:
    return f"{count} {word if count == 1 else word + 's'}"


def write_body(path: Path, body: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    except OSError as error:
        raise PublishError(
            f"cannot write the description to {path}: {error.strerror}"
        ) from error


def describe_only(
    targets: list[Path],
    make_config: Callable[[], Config],
    branch: str,
    command: str,
    body_path: Path,
) -> Outcome:
    """`--apply --pr-body FILE` without `--pr`: fix the work tree and write the description.

    Inside a git work tree the description names files from its top, as
    `--pr` does, and outside one relative to the working directory.
    """
    outcome = apply_by_rule(targets, make_config)
    context = BodyContext(
        version=__version__,
        command=command,
        branch=branch,
        link=lambda path, line: None,
        commit_per_rule=False,
    )
    # Outside a clone, or without git, files keep the names findings give them.
    with contextlib.suppress(GitError):
        context = _named_from_top(context, Git.at(Path.cwd()).work_tree)
    write_body(body_path, render_body(outcome, context))
    return outcome
