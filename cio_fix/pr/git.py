"""git as a subprocess: the bot's checkout, commits and the push of its own branch.

The token reaches git only through the environment. A credential helper
given on the command line (`-c credential.helper=...`) prints the value of
an environment variable, so neither the token nor a file that contains it
appears in an argument list or in `.git/config`.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# Timeouts in seconds: local commands, and commands that talk to the remote.
LOCAL_TIMEOUT = 60
REMOTE_TIMEOUT = 300

# The environment variables the credential helper reads: the token, and the
# `host=` values (space-separated) of the requests that may get it.
TOKEN_VARIABLE = "CIO_FIX_GIT_TOKEN"
HOSTS_VARIABLE = "CIO_FIX_GIT_TOKEN_HOSTS"
# The hosts that get the token when the caller names none.
DEFAULT_TOKEN_HOSTS = ("github.com", "github.com:443")
# A git credential helper, as gitcredentials(7) describes. For `get` it reads
# git's request from standard input. When the request is for https and one of
# the hosts in HOSTS_VARIABLE, it prints the user name that GitHub accepts with
# an installation or personal token, and the token itself. For any other
# request, and for `store` and `erase`, it prints nothing.
CREDENTIAL_HELPER = (
    '!f() { test "$1" = get || return 0; protocol=; host=;'
    ' while IFS= read -r line; do case "$line" in'
    ' protocol=*) protocol="${line#protocol=}";;'
    ' host=*) host="$(printf %s "${line#host=}" | tr "[:upper:]" "[:lower:]")";;'
    ' "") break;; esac; done;'
    ' test "$protocol" = https && test -n "$host" || return 0;'
    f' case " ${HOSTS_VARIABLE} " in *" $host "*) ;; *) return 0;; esac;'
    f' echo username=x-access-token; echo "password=${TOKEN_VARIABLE}"; }}; f'
)


def one_line(text: str) -> str:
    """Join git's output lines with "; " into one line.

    The `remote: ` prefix of the lines that the remote sent, and the spaces
    that git pads those lines with, are dropped. So are git's own `hint:`
    lines, advice such as "Use -f if you really want to add them" that
    would mislead next to cio-fix's own next step. A remote's `hint:`
    lines, such as a pre-receive hook's, are kept.
    """
    parts = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("hint:"):
            continue
        if line.startswith("remote:"):
            line = line.removeprefix("remote:").strip()
        if line:
            parts.append(line)
    return "; ".join(parts)


def _push_failure(completed: subprocess.CompletedProcess[str]) -> str:
    """Return the reasons of a failed `git push --porcelain` as one line.

    The reasons are the remote's messages (a pre-receive hook's output), then
    the status of each rejected ref, such as `[rejected] (stale info)` for a
    lost lease. git's closing `failed to push some refs` line adds nothing,
    so it is left out.
    """
    messages = [
        line
        for line in completed.stderr.splitlines()
        if not line.startswith("error: failed to push some refs")
    ]
    # A porcelain status line of a rejected ref: "!<TAB>FROM:TO<TAB>SUMMARY".
    for line in completed.stdout.splitlines():
        fields = line.split("\t")
        if fields[0] == "!" and len(fields) >= 3:
            messages.append(fields[2])
    return one_line("\n".join(messages))


class GitError(Exception):
    """A git command failed; the message has the command and git's own error."""


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


@dataclass(frozen=True)
class Commit:
    """A commit's id, author, committer and subject line."""

    id: str
    author: Identity
    committer: Identity
    subject: str


# `git var GIT_COMMITTER_IDENT`: "Name <email> 1700000000 +0000".
_IDENT = re.compile(r"^(?P<name>.*) <(?P<email>.*)> \d+ [+-]\d{4}$")


class Git:
    """Run git in one work tree, with the token (if any) offered only to `token_hosts`."""

    def __init__(
        self,
        work_tree: Path,
        token: str | None = None,
        token_hosts: tuple[str, ...] = DEFAULT_TOKEN_HOSTS,
    ) -> None:
        self.work_tree = work_tree
        self._token = token
        self._token_hosts = tuple(host.lower() for host in token_hosts)

    def run(
        self,
        *args: str,
        remote: bool = False,
        env: dict[str, str] | None = None,
        check: bool = True,
        input_text: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `git ARGS`; `remote` adds the credential helper and the longer timeout."""
        # Hooks of the clone (post-checkout, pre-push, ...) do not run: they
        # could change files that would then land in a bot commit.
        command = ["git", "-c", f"core.hooksPath={os.devnull}"]
        environment = dict(os.environ)
        # git must never stop to ask for a user name or a password.
        environment["GIT_TERMINAL_PROMPT"] = "0"
        environment.pop(TOKEN_VARIABLE, None)
        environment.pop(HOSTS_VARIABLE, None)
        if remote and self._token:
            # The empty value resets the helpers of the user's configuration,
            # so git uses only this one.
            command += [
                "-c",
                "credential.helper=",
                "-c",
                f"credential.helper={CREDENTIAL_HELPER}",
            ]
            environment[TOKEN_VARIABLE] = self._token
            environment[HOSTS_VARIABLE] = " ".join(self._token_hosts)
        if env:
            environment.update(env)
        command += list(args)
        timeout = REMOTE_TIMEOUT if remote else LOCAL_TIMEOUT
        logger.debug("running %s", " ".join(command[:1] + list(args)))
        try:
            completed = subprocess.run(
                command,
                cwd=self.work_tree,
                env=environment,
                input=input_text,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise GitError(
                f"`git {args[0]}` timed out after {timeout} seconds"
            ) from error
        except FileNotFoundError as error:
            raise GitError("git is not installed or not on PATH") from error
        if check and completed.returncode != 0:
            message = one_line(completed.stderr) or one_line(completed.stdout)
            raise GitError(
                self._hide_token(f"`git {' '.join(args)}` failed: {message}")
            )
        return completed

    def output(self, *args: str, remote: bool = False) -> str:
        return self.run(*args, remote=remote).stdout.strip()

    def _hide_token(self, text: str) -> str:
        if self._token:
            text = text.replace(self._token, "****")
        return text

    # Questions about the work tree.

    @classmethod
    def at(
        cls,
        folder: Path,
        token: str | None = None,
        token_hosts: tuple[str, ...] = DEFAULT_TOKEN_HOSTS,
    ) -> Git:
        """Return a Git for the work tree that contains `folder`."""
        probe = cls(folder)
        completed = probe.run("rev-parse", "--show-toplevel", check=False)
        if completed.returncode != 0:
            raise GitError(
                f"{folder} is not inside a git work tree; run cio-fix --pr in a clone"
                " of the repository"
            )
        return cls(Path(completed.stdout.strip()), token, token_hosts)

    def dirty_paths(self) -> list[str]:
        """Return the modified, staged and untracked paths (ignored files do not count)."""
        status = self.run("status", "--porcelain", "--untracked-files=all").stdout
        return [line[3:] for line in status.splitlines() if line.strip()]

    def hidden_changes(self) -> dict[str, list[str]]:
        """Return the files whose local changes the index hides from `git status`.

        The keys are "assume-unchanged" and "skip-worktree". A skip-worktree
        file missing from the work tree is left out, because a sparse
        checkout marks every file outside its cone that way.
        """
        text = self.run("ls-files", "-v", "-z").stdout
        hidden: dict[str, list[str]] = {"assume-unchanged": [], "skip-worktree": []}
        for entry in text.split("\0"):
            if len(entry) < 3:
                continue
            tag, path = entry[0], entry[2:]
            # `git ls-files -v` writes the tag of an assume-unchanged file in
            # lower case, and tags a skip-worktree file with S.
            if tag.islower():
                hidden["assume-unchanged"].append(path)
            elif tag.upper() == "S" and (self.work_tree / path).exists():
                hidden["skip-worktree"].append(path)
        return hidden

    def is_submodule(self, path: str) -> bool:
        """Tell whether the index records `path` (relative to the root) as a submodule."""
        # The pathspec also matches the files below a folder `path`.
        listing = self.run(
            "ls-files", "--stage", "-z", "--", f":(literal){path}"
        ).stdout
        for entry in listing.split("\0"):
            # An entry is "MODE OBJECT STAGE<TAB>PATH". A submodule's entry is
            # a gitlink, with the mode 160000.
            fields, _, name = entry.partition("\t")
            if name == path:
                return fields.startswith("160000 ")
        return False

    def ignoring_pattern(self, path: str) -> str | None:
        """Return the rule that makes git ignore `path` (relative to the root), or None.

        The rule reads "PATTERN in SOURCE", such as "build/ in .gitignore".
        As for `git add`, a tracked file is never ignored.
        """
        # "./" keeps a name that starts with ":" from being read as pathspec magic.
        completed = self.run(
            "check-ignore",
            "--verbose",
            "--stdin",
            "-z",
            input_text=f"./{path}\0",
            check=False,
        )
        # Exit status 1: no pattern matches.
        if completed.returncode == 1:
            return None
        if completed.returncode != 0:
            raise GitError(
                f"`git check-ignore` failed on {path}: {one_line(completed.stderr)}"
            )
        # With -z, each match is "SOURCE NUL LINE NUL PATTERN NUL PATH NUL".
        source, _, pattern, _ = completed.stdout.split("\0", 3)
        # --verbose also reports a matching "!" pattern, which re-includes the path.
        if pattern.startswith("!"):
            return None
        return f"{pattern} in {source}"

    def current_ref(self) -> str:
        """Return the checked-out branch name, or the commit id of a detached HEAD."""
        completed = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        if completed.returncode == 0:
            return completed.stdout.strip()
        return self.output("rev-parse", "HEAD")

    def remote_url(self, remote: str = "origin") -> str | None:
        """Return the URL configured for `remote`, before any `insteadOf` rewriting."""
        completed = self.run("config", "--get", f"remote.{remote}.url", check=False)
        return completed.stdout.strip() or None

    def remote_urls(self, remote: str = "origin", push: bool = False) -> list[str]:
        """Return the URLs git fetches from (or pushes to), after `insteadOf` rewriting."""
        args = ["remote", "get-url", "--all"]
        if push:
            args.append("--push")
        return self.output(*args, remote).splitlines()

    def check_branch_name(self, branch: str) -> bool:
        completed = self.run("check-ref-format", "--branch", branch, check=False)
        return completed.returncode == 0

    def head(self) -> str:
        return self.output("rev-parse", "HEAD")

    def tree(self, revision: str) -> str:
        return self.output("rev-parse", f"{revision}^{{tree}}")

    def commits(self, base: str, head: str) -> list[Commit]:
        """Return the commits of `base..head`, newest first."""
        # Fields end with the unit separator, and -z ends each commit with NUL.
        fields = "%H%x1f%an%x1f%ae%x1f%cn%x1f%ce%x1f%s"
        text = self.run("log", "-z", f"--format={fields}", f"{base}..{head}").stdout
        commits = []
        for record in text.split("\0"):
            if not record.strip():
                continue
            commit_id, author, author_email, committer, committer_email, subject = (
                record.strip("\n").split("\x1f", 5)
            )
            commits.append(
                Commit(
                    commit_id,
                    Identity(author, author_email),
                    Identity(committer, committer_email),
                    subject,
                )
            )
        return commits

    def recorded_identity(self, identity: Identity) -> Identity:
        """Return `identity` as git records it in a commit, or raise GitError if git rejects it.

        git drops some characters from names and e-mail addresses (angle
        brackets, new lines, and punctuation at either end).
        """
        names = {
            "GIT_COMMITTER_NAME": identity.name,
            "GIT_COMMITTER_EMAIL": identity.email,
        }
        line = self.run("var", "GIT_COMMITTER_IDENT", env=names).stdout.strip()
        match = _IDENT.match(line)
        if match is None:
            raise GitError(f"`git var GIT_COMMITTER_IDENT` printed {line!r}")
        return Identity(match.group("name"), match.group("email"))

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        completed = self.run(
            "merge-base", "--is-ancestor", ancestor, descendant, check=False
        )
        return completed.returncode == 0

    def commit_trees(self, base: str, head: str) -> list[str]:
        """Return the tree ids of the commits of `base..head`, oldest first."""
        text = self.output("log", "--reverse", "--format=%T", f"{base}..{head}")
        return text.splitlines()

    def subjects(self, base: str, head: str) -> list[str]:
        """Return the commit subjects of `base..head`, oldest first."""
        text = self.output("log", "--reverse", "--format=%s", f"{base}..{head}")
        return text.splitlines()

    # Talking to the remote.

    def fetch_branch(self, remote: str, branch: str) -> str | None:
        """Fetch `branch` of `remote` and return its commit id, or None when it does not exist."""
        listing = self.output(
            "ls-remote", "--heads", remote, f"refs/heads/{branch}", remote=True
        )
        if not listing:
            return None
        self.run(
            "fetch",
            "--quiet",
            "--no-tags",
            remote,
            f"+refs/heads/{branch}:refs/cio-fix/{branch}",
            remote=True,
        )
        return self.output("rev-parse", f"refs/cio-fix/{branch}")

    def deepen_to_common_commit(self, remote: str, first: str, second: str) -> None:
        """Fetch the history a shallow clone lacks to find where two commits meet.

        A `--depth 1` clone (actions/checkout's default) has no parent of
        the base commit, so `base..branch` would list the whole history of
        the branch as its own commits.
        """
        shallow = self.output("rev-parse", "--is-shallow-repository") == "true"
        if not shallow:
            return
        if self.run("merge-base", first, second, check=False).returncode == 0:
            return
        self.run("fetch", "--quiet", "--no-tags", "--unshallow", remote, remote=True)

    def drop_fetched(self, branch: str) -> None:
        """Delete the private ref that `fetch_branch` made for `branch`, if any."""
        self.run("update-ref", "-d", f"refs/cio-fix/{branch}", check=False)

    def push_branch(
        self, remote: str, commit: str, branch: str, expected: str | None
    ) -> None:
        """Point `branch` on `remote` at `commit`, only if it still is at `expected`.

        `expected` None means the branch must not exist yet. Only this one
        ref is named in the push, so no other branch can move.
        """
        lease = f"--force-with-lease=refs/heads/{branch}:{expected or ''}"
        completed = self.run(
            "push",
            "--porcelain",
            lease,
            remote,
            f"{commit}:refs/heads/{branch}",
            remote=True,
            check=False,
        )
        if completed.returncode != 0:
            detail = self._hide_token(_push_failure(completed))
            raise GitError(
                f"the push of {branch} was rejected: {detail}; if someone else pushed to"
                " the branch, run cio-fix again, or choose another branch with --pr-branch"
            )

    # Changing the checkout.

    def checkout_detached(self, revision: str) -> None:
        """Check out `revision` detached, or raise GitError where it would replace an ignored file.

        By default git overwrites an ignored file that `revision` tracks,
        and removes an ignored folder where `revision` has a file. The
        checkout of the user's branch at the end of the run would then
        delete the file, so the user's copy would be lost.
        """
        completed = self.run(
            "checkout",
            "--quiet",
            "--no-overwrite-ignore",
            "--detach",
            revision,
            check=False,
        )
        if completed.returncode != 0:
            raise GitError(
                f"cannot check out the base commit {revision[:12]}:"
                f" {one_line(completed.stderr)}; when git names files that your"
                " checkout ignores, move them out of the clone, because cio-fix does"
                " not let git overwrite them"
            )

    def restore(self, ref: str) -> None:
        """Drop the bot's uncommitted edits and check out `ref` again."""
        self.run("reset", "--quiet", "--hard")
        self.run("checkout", "--quiet", ref)

    def changed_paths(self) -> list[str]:
        """Return the tracked paths whose work tree or index differs from HEAD."""
        text = self.run(
            "status", "--porcelain", "-z", "--no-renames", "--untracked-files=no"
        ).stdout
        return [entry[3:] for entry in text.split("\0") if entry]

    def commit_paths(self, paths: list[str], message: str, identity: Identity) -> str:
        """Commit the changes to `paths` as `identity` and return the new commit id.

        `paths` are relative to the work tree root. GitError is raised, and
        nothing is committed, when another tracked file changed too, so a
        bot commit contains the bot's changes and nothing else. It is raised
        too when HEAD does not track one of `paths`, because such a file
        belongs to the user's checkout, not to the commit the bot fixes.
        """
        unexpected = sorted(set(self.changed_paths()) - set(paths))
        if unexpected:
            raise GitError(
                f"files changed that no fix wrote ({', '.join(unexpected[:5])}), so"
                " cio-fix commits nothing; check for a process or git filter that"
                " writes into the clone while cio-fix runs"
            )
        literal = [f":(literal){path}" for path in paths]
        # Nothing is staged yet, so the index lists the files that HEAD tracks.
        listing = self.run("ls-files", "-z", "--cached", "--", *literal).stdout
        untracked = sorted(set(paths) - set(listing.split("\0")))
        if untracked:
            raise GitError(
                f"a fix wrote {', '.join(untracked[:5])}, which the base commit does"
                " not track, so cio-fix commits nothing; the file keeps the fix, so"
                " undo it there and report this bug in cio-fix"
            )
        self.run("add", "--", *literal)
        names = {
            "GIT_AUTHOR_NAME": identity.name,
            "GIT_AUTHOR_EMAIL": identity.email,
            "GIT_COMMITTER_NAME": identity.name,
            "GIT_COMMITTER_EMAIL": identity.email,
        }
        # The message goes through standard input (`-F -`).
        self.run(
            "commit", "--quiet", "--no-verify", "-F", "-", env=names, input_text=message
        )
        return self.head()
