"""The git layer of `--pr`: credentials through the environment, identity, branch names."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cio_fix.pr.git import TOKEN_VARIABLE, Git, GitError, Identity, one_line

from pr_github_stub import OtherHost

TOKEN = "ghp_credentialHelperToken0123456789"


@pytest.fixture(autouse=True)
def isolated_git(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path_factory.mktemp("home") / "gitconfig"
    # A credential helper of the user's own, which the bot must not ask.
    config.write_text(
        "[user]\n\tname = Test Developer\n\temail = developer@example.invalid\n"
        "[credential]\n\thelper = !echo password=users-own-secret; :\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "file")
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    subprocess.run(
        ["git", "init", "--quiet", "--initial-branch=main", str(tmp_path)],
        check=True,
        timeout=60,
    )
    (tmp_path / "a.txt").write_text("one\n", encoding="utf-8")
    subprocess.run(["git", "add", "a.txt"], cwd=tmp_path, check=True, timeout=60)
    subprocess.run(
        ["git", "commit", "--quiet", "-m", "Start"],
        cwd=tmp_path,
        check=True,
        timeout=60,
    )
    return tmp_path


def credential_fill(git: Git, protocol: str = "https", host: str = "github.com") -> str:
    # `git credential fill` queries the configured helpers, as a push would.
    # Without an answer git would prompt, which GIT_TERMINAL_PROMPT=0 turns
    # into a failure, so the status is not checked.
    request = f"protocol={protocol}\nhost={host}\npath=owner/repo.git\n\n"
    completed = git.run(
        "credential", "fill", remote=True, input_text=request, check=False
    )
    return completed.stdout


def test_git_credential_helper_gives_token(repository: Path) -> None:
    answer = credential_fill(Git(repository, TOKEN))

    assert "username=x-access-token\n" in answer
    assert f"password={TOKEN}\n" in answer


def test_git_credential_helper_other_host_gets_nothing(repository: Path) -> None:
    git = Git(repository, TOKEN)

    for host in ("gitlab.invalid", "github.com.invalid", "127.0.0.1:8080"):
        assert TOKEN not in credential_fill(git, host=host), host


def test_git_credential_helper_http_gets_nothing(repository: Path) -> None:
    answer = credential_fill(Git(repository, TOKEN), protocol="http")

    assert TOKEN not in answer


def test_git_credential_helper_enterprise_host(repository: Path) -> None:
    git = Git(repository, TOKEN, ("ghe.invalid", "ghe.invalid:443"))

    assert f"password={TOKEN}\n" in credential_fill(git, host="ghe.invalid")
    assert f"password={TOKEN}\n" in credential_fill(git, host="GHE.invalid:443")
    assert TOKEN not in credential_fill(git, host="github.com")


def test_git_credential_helper_real_other_host(
    repository: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = OtherHost().start()
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "file:http:https")
    try:
        completed = Git(repository, TOKEN).run(
            "ls-remote", f"{other.url}/mirror/repo.git", remote=True, check=False
        )
    finally:
        other.stop()

    assert completed.returncode != 0
    assert other.requests
    for request in other.requests:
        assert "authorization" not in request.headers


def test_git_credential_helper_replaces_users_helpers(repository: Path) -> None:
    answer = credential_fill(Git(repository, TOKEN))

    assert "users-own-secret" not in answer


def test_git_token_only_in_environment(
    repository: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[list[str], dict[str, str]]] = []
    original_run = subprocess.run

    def recording_run(command, *args, **kwargs):
        calls.append((list(command), dict(kwargs.get("env") or {})))
        return original_run(command, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", recording_run)

    credential_fill(Git(repository, TOKEN))

    assert len(calls) == 1
    assert TOKEN not in " ".join(calls[0][0])
    assert calls[0][1][TOKEN_VARIABLE] == TOKEN


def test_git_local_commands_get_no_token(
    repository: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_VARIABLE, "inherited")
    environments: list[dict[str, str]] = []
    original_run = subprocess.run

    def recording_run(command, *args, **kwargs):
        environments.append(dict(kwargs.get("env") or {}))
        return original_run(command, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", recording_run)

    Git(repository, TOKEN).head()

    assert TOKEN_VARIABLE not in environments[0]


def test_git_commit_uses_identity(repository: Path) -> None:
    git = Git(repository)
    (repository / "a.txt").write_text("two\n", encoding="utf-8")

    git.commit_paths(
        ["a.txt"],
        "Change a\n\nBecause.\n",
        Identity("cio-fix[bot]", "bot@example.invalid"),
    )

    author = git.output("log", "-1", "--format=%an <%ae>|%cn <%ce>|%B")
    assert (
        author
        == "cio-fix[bot] <bot@example.invalid>|cio-fix[bot] <bot@example.invalid>|Change a\n\nBecause."
    )


def test_git_commit_skips_untracked_files(repository: Path) -> None:
    git = Git(repository)
    (repository / "a.txt").write_text("two\n", encoding="utf-8")
    (repository / "new.txt").write_text("new\n", encoding="utf-8")

    git.commit_paths(["a.txt"], "Change a\n", Identity("bot", "bot@example.invalid"))

    assert git.output("show", "--name-only", "--format=", "HEAD") == "a.txt"


def test_git_commit_rejects_other_changes(repository: Path) -> None:
    (repository / "b.txt").write_text("one\n", encoding="utf-8")
    subprocess.run(["git", "add", "b.txt"], cwd=repository, check=True, timeout=60)
    subprocess.run(
        ["git", "commit", "--quiet", "-m", "Add b"],
        cwd=repository,
        check=True,
        timeout=60,
    )
    git = Git(repository)
    before = git.head()
    (repository / "a.txt").write_text("two\n", encoding="utf-8")
    (repository / "b.txt").write_text("written by a hook\n", encoding="utf-8")

    with pytest.raises(GitError, match=r"files changed that no fix wrote \(b\.txt\)"):
        git.commit_paths(
            ["a.txt"], "Change a\n", Identity("bot", "bot@example.invalid")
        )

    assert git.head() == before


def test_git_commit_rejects_untracked_path(repository: Path) -> None:
    git = Git(repository)
    before = git.head()
    (repository / "new.txt").write_text("new\n", encoding="utf-8")

    with pytest.raises(GitError, match=r"a fix wrote new\.txt, which the base"):
        git.commit_paths(
            ["new.txt"], "Add new\n", Identity("bot", "bot@example.invalid")
        )

    assert git.head() == before
    assert git.output("ls-files", "--stage", "new.txt") == ""
    assert (repository / "new.txt").read_text(encoding="utf-8") == "new\n"


def test_git_hooks_do_not_run(repository: Path) -> None:
    hook = repository / ".git" / "hooks" / "post-checkout"
    hook.write_text("#!/bin/sh\necho hook > hook-ran.txt\n", encoding="utf-8")
    hook.chmod(0o755)

    Git(repository).run("checkout", "--quiet", "--detach", "HEAD")

    assert not (repository / "hook-ran.txt").exists()


def test_git_dirty_paths_lists_changes(repository: Path) -> None:
    (repository / "a.txt").write_text("two\n", encoding="utf-8")
    (repository / "b.txt").write_text("new\n", encoding="utf-8")

    assert Git(repository).dirty_paths() == ["a.txt", "b.txt"]


def test_git_dirty_paths_ignores_ignored(repository: Path) -> None:
    (repository / ".gitignore").write_text(".venv/\n", encoding="utf-8")
    subprocess.run(["git", "add", ".gitignore"], cwd=repository, check=True, timeout=60)
    subprocess.run(
        ["git", "commit", "--quiet", "-m", "Ignore"],
        cwd=repository,
        check=True,
        timeout=60,
    )
    (repository / ".venv").mkdir()
    (repository / ".venv" / "x").write_text("x\n", encoding="utf-8")

    assert Git(repository).dirty_paths() == []


def test_git_outside_work_tree(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not inside a git work tree"):
        Git.at(tmp_path)


def test_git_branch_name_checked(repository: Path) -> None:
    git = Git(repository)

    assert git.check_branch_name("cio-fix/pitfalls")
    assert not git.check_branch_name("bad..name")
    assert not git.check_branch_name("-x")


def test_git_error_hides_token(repository: Path) -> None:
    git = Git(repository, TOKEN)

    with pytest.raises(GitError) as raised:
        git.run("rev-parse", f"no-such-{TOKEN}")

    assert TOKEN not in str(raised.value)


def test_git_error_is_one_line(repository: Path) -> None:
    git = Git(repository)

    # git prints a `fatal:` line, a blank line and two lines of advice.
    with pytest.raises(GitError) as raised:
        git.run("fetch", "--quiet", str(repository / "missing"))

    message = str(raised.value)
    assert "\n" not in message
    assert "does not appear to be a git repository; fatal: Could not read" in message


def test_git_one_line_drops_remote_padding() -> None:
    text = "remote: rejected: protected        \nremote:\nerror: failed\n"

    assert one_line(text) == "rejected: protected; error: failed"


def test_git_one_line_drops_hints() -> None:
    text = (
        "The following paths are ignored by one of your .gitignore files:\n"
        "build\n"
        "hint: Use -f if you really want to add them.\n"
        "remote: hint: ask the release team\n"
    )

    assert one_line(text) == (
        "The following paths are ignored by one of your .gitignore files:; build;"
        " hint: ask the release team"
    )


def test_git_error_leaves_out_hints(repository: Path) -> None:
    (repository / ".gitignore").write_text("build/\n", encoding="utf-8")
    (repository / "build").mkdir()
    (repository / "build" / "app.py").write_text("x = 1\n", encoding="utf-8")
    git = Git(repository)

    # Unless advice.addIgnoredFile is off, git adds `hint:` lines here.
    with pytest.raises(GitError) as raised:
        git.run("add", "--", "build/app.py")

    message = str(raised.value)
    assert "paths are ignored by one of your .gitignore files" in message
    assert "hint:" not in message


def commit_all(repository: Path, message: str) -> None:
    subprocess.run(["git", "add", "--all"], cwd=repository, check=True, timeout=60)
    subprocess.run(
        ["git", "commit", "--quiet", "-m", message],
        cwd=repository,
        check=True,
        timeout=60,
    )


def test_git_ignoring_pattern(repository: Path) -> None:
    (repository / ".gitignore").write_text("build/\ngen/*\n", encoding="utf-8")
    commit_all(repository, "Ignore build output")
    (repository / "gen").mkdir()
    (repository / "gen" / ".gitignore").write_text("!keep.py\n", encoding="utf-8")
    (repository / "gen" / "keep.py").write_text("x = 1\n", encoding="utf-8")
    (repository / "build").mkdir()
    (repository / "build" / ":odd.py").write_text("x = 1\n", encoding="utf-8")
    git = Git(repository)

    assert git.ignoring_pattern("build/:odd.py") == "build/ in .gitignore"
    assert git.ignoring_pattern("gen/other.py") == "gen/* in .gitignore"
    assert git.ignoring_pattern("gen/keep.py") is None
    assert git.ignoring_pattern("a.txt") is None


def test_git_ignoring_pattern_tracked_file(repository: Path) -> None:
    (repository / ".gitignore").write_text("*.txt\n", encoding="utf-8")
    (repository / "b.txt").write_text("two\n", encoding="utf-8")
    git = Git(repository)

    # a.txt was committed before the pattern, so git add still takes it.
    assert git.ignoring_pattern("a.txt") is None
    assert git.ignoring_pattern("b.txt") == "*.txt in .gitignore"


def test_git_is_submodule(
    repository: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    library = tmp_path_factory.mktemp("library")
    subprocess.run(["git", "init", "--quiet", str(library)], check=True, timeout=60)
    subprocess.run(
        ["git", "commit", "--quiet", "--allow-empty", "-m", "Start"],
        cwd=library,
        check=True,
        timeout=60,
    )
    subprocess.run(
        ["git", "submodule", "--quiet", "add", str(library), "vendor/library"],
        cwd=repository,
        check=True,
        timeout=60,
    )
    git = Git(repository)

    assert git.is_submodule("vendor/library")
    assert not git.is_submodule("a.txt")
    assert not git.is_submodule("vendor")
