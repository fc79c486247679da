"""`cio-fix --apply --pr` end to end: real git with a local bare `origin`, a stub GitHub API."""

from __future__ import annotations

import email.utils
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import CliResult, run_cli
from pr_github_stub import FakeGitHub, OtherHost, StubServer

TOKEN = "ghs_stubToken0123456789abcdefABCDEF"
SITE_ID = "3f9a0c1d2e4b7a8c"
API_KEY = "0a1b2c3d4e5f6a7b"
REMOTE_URL = "https://github.com/owner/repo.git"

APP = f'''"""Signup handlers."""
import time

from customerio import CustomerIO

cio = CustomerIO("{SITE_ID}", "{API_KEY}")


def signup(user):
    cio.identify(id=user.id, email=user.email, created_at=int(time.time() * 1000))


def bounced(customer_id):
    cio.suppress(customer_id)
'''

APP_FIXED = '''"""Signup handlers."""
import os
import time

from customerio import CustomerIO

cio = CustomerIO(os.environ["CUSTOMERIO_SITE_ID"], os.environ["CUSTOMERIO_TRACK_API_KEY"])


def signup(user):
    cio.identify(id=user.id, email=user.email, created_at=int(time.time()))


def bounced(customer_id):
    cio.suppress(customer_id)
'''

ORDERS_WITH_CLIENT = '''"""Order events."""
import os
import time

from customerio import CustomerIO

cio = CustomerIO(os.environ["CUSTOMERIO_SITE_ID"], os.environ["CUSTOMERIO_TRACK_API_KEY"])


def order_placed(order):
    cio.track(customer_id=order.user_id, name="order_placed", timestamp=time.time() * 1000)
'''

# `os` is bound to something else, so CIO101 cannot add `import os` and
# reports the key without a fix.
LEGACY = f'''"""Legacy settings."""
from customerio import CustomerIO

os = "linux"
legacy = CustomerIO("{SITE_ID}", "9e8d7c6b5a4f3e2d")
'''


@pytest.fixture(autouse=True)
def git_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Isolate git from the machine's configuration and keep every request on 127.0.0.1."""
    home = tmp_path_factory.mktemp("home")
    config = home / "gitconfig"
    config.write_text(
        "[user]\n\tname = Test Developer\n\temail = developer@example.invalid\n"
        "[init]\n\tdefaultBranch = main\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    # Only local repositories: a URL that is not rewritten to the bare
    # repository fails instead of reaching out.
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "file")
    for variable in (
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "GITHUB_REPOSITORY",
        "GITHUB_SERVER_URL",
    ):
        monkeypatch.delenv(variable, raising=False)
    # Nothing listens on port 9 of 127.0.0.1; tests with a stub replace it.
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9/api/v3")


def git(cwd: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=True
    )
    return completed.stdout.strip()


@dataclass
class BotRepository:
    work: Path
    bare: Path
    fake: FakeGitHub

    def commit(self, files: dict[str, str], message: str) -> None:
        """Commit `files` on main in the work tree and push main to origin, as a developer would."""
        for name, text in files.items():
            target = self.work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        git(self.work, "add", "--all")
        git(self.work, "commit", "--quiet", "-m", message)
        git(self.work, "push", "--quiet", "origin", "main")

    def remote_commit(self, branch: str) -> str:
        return git(self.bare, "rev-parse", f"refs/heads/{branch}")

    def branch_subjects(self, branch: str = "cio-fix/pitfalls") -> list[str]:
        return git(
            self.bare, "log", "--reverse", "--format=%s", f"main..{branch}"
        ).splitlines()

    def show(self, revision: str, path: str) -> str:
        return git(self.bare, "show", f"{revision}:{path}")

    def merge_bot_branch(self, push: bool = True) -> None:
        """Fast-forward main in the work tree to the bot branch, as a developer merging it."""
        git(self.work, "pull", "--quiet", "--ff-only", "origin", "cio-fix/pitfalls")
        if push:
            git(self.work, "push", "--quiet", "origin", "main")

    def push_as_person(
        self, branch: str, files: dict[str, str], message: str, start: str | None = None
    ) -> str:
        """Commit `files` on `branch` (made from `start` if new) in another clone and push it."""
        clone = self.bare.parent / "reviewer"
        if not clone.exists():
            git(self.bare.parent, "clone", "--quiet", str(self.bare), str(clone))
        git(clone, "fetch", "--quiet", "origin")
        git(clone, "checkout", "--quiet", "-B", branch, f"origin/{start or branch}")
        for name, text in files.items():
            (clone / name).write_text(text, encoding="utf-8")
        git(clone, "add", "--all")
        git(clone, "commit", "--quiet", "-m", message)
        git(clone, "push", "--quiet", "origin", f"{branch}:refs/heads/{branch}")
        return git(clone, "rev-parse", "HEAD")


@pytest.fixture
def bot_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[BotRepository]:
    """A clone whose origin looks like github.com/owner/repo but is a local bare repository."""
    bare = tmp_path / "origin.git"
    work = tmp_path / "work"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(work))
    git(work, "remote", "add", "origin", REMOTE_URL)
    git(work, "config", f"url.{bare.as_posix()}.insteadOf", REMOTE_URL)

    fake = FakeGitHub(token=TOKEN, bare=bare)
    server = StubServer(fake).start()
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    repository = BotRepository(work, bare, fake)
    repository.commit(
        {"README.md": "# shop\n", "app.py": APP}, "Add the signup handler"
    )
    try:
        yield repository
    finally:
        server.stop()


def run_pr(repository: BotRepository, *args: str) -> CliResult:
    return run_cli(["--apply", "--pr", *args], repository.work)


def test_pr_first_run_opens_one_pull_request(bot_repository: BotRepository) -> None:
    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert bot_repository.fake.problems == []
    assert len(bot_repository.fake.pulls) == 1
    pull = bot_repository.fake.pulls[1]
    assert pull["state"] == "open"
    assert pull["head"]["ref"] == "cio-fix/pitfalls"
    assert pull["base"]["ref"] == "main"
    assert pull["title"] == "Fix Customer.io integration pitfalls"
    assert "Opened pull request #1" in result.stdout


def test_pr_commits_one_per_rule_in_code_order(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)

    subjects = bot_repository.branch_subjects()
    assert subjects == [
        "Fix CIO101 hardcoded-credential in 1 file",
        "Fix CIO103 millisecond-timestamp in 1 file",
    ]
    first = bot_repository.show("cio-fix/pitfalls~1", "app.py")
    second = bot_repository.show("cio-fix/pitfalls", "app.py")
    assert 'os.environ["CUSTOMERIO_SITE_ID"]' in first
    assert "time.time() * 1000" in first
    assert "created_at=int(time.time())" in second


def test_pr_fixed_lines_link_commit_before_fix(
    bot_repository: BotRepository,
) -> None:
    run_pr(bot_repository)

    body = bot_repository.fake.pulls[1]["body"]
    section = body[body.index("## `CIO103`") :]
    match = re.search(
        r"\]\(https://github\.invalid/owner/repo/blob/(\w+)/app\.py#L(\d+)\)", section
    )
    assert match is not None
    commit, line = match.group(1), int(match.group(2))
    first_fix = git(bot_repository.bare, "rev-parse", "cio-fix/pitfalls~1")
    assert commit == first_fix
    linked = bot_repository.show(commit, "app.py").splitlines()[line - 1]
    assert "time.time() * 1000" in linked


def test_pr_commit_author_is_bot_identity(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)

    authors = git(
        bot_repository.bare,
        "log",
        "--format=%an <%ae>|%cn <%ce>",
        "main..cio-fix/pitfalls",
    )
    for line in authors.splitlines():
        assert line == (
            "cio-fix[bot] <cio-fix[bot]@users.noreply.github.com>|"
            "cio-fix[bot] <cio-fix[bot]@users.noreply.github.com>"
        )


def test_pr_commit_message_explains_rule(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)

    message = git(bot_repository.bare, "log", "-1", "--format=%B", "cio-fix/pitfalls")
    assert "Track API reads timestamps as integer Unix seconds" in message
    assert re.search(
        r"^- app\.py:\d+: `created_at` is sent in milliseconds", message, re.M
    )
    assert "cio-fix --explain CIO103" in message


SERVICE_APP = f"""import time

from customerio import CustomerIO

cio = CustomerIO("{SITE_ID}", "{API_KEY}")


def signup(user):
    cio.identify(id=user.id, created_at=int(time.time() * 1000))
"""


def test_pr_from_subfolder_names_paths_from_top(
    bot_repository: BotRepository,
) -> None:
    # GitHub shows paths from the top of the repository, so a run from a
    # service's folder must not name its files as plain `app.py`.
    bot_repository.commit(
        {
            "pyproject.toml": '[tool.cio-fix]\nselect = ["ALL"]\n',
            "services/alpha/app.py": SERVICE_APP,
            "services/alpha/broken.py": "import customerio\ndef broken(:\n",
        },
        "Add the alpha service",
    )

    result = run_cli(["--apply", "--pr"], bot_repository.work / "services" / "alpha")

    # broken.py cannot be parsed, which fails the run after the pull request.
    assert result.exit_code == 2, result.stderr
    assert re.search(r"^app\.py:\d+:\d+: CIO401 ", result.stdout, re.M)
    body = bot_repository.fake.pulls[1]["body"]
    assert "`3f9a****` (`services/alpha/app.py:5`)" in body
    assert re.search(
        r"^- \[`services/alpha/app\.py:\d+`\]\(\S+\) `created_at`", body, re.M
    )
    assert "`services/alpha/app.py`:\n\n```diff" in body
    assert re.search(
        r"^- \[ \] \[`services/alpha/app\.py:\d+`\]\(\S+\) `CIO401`", body, re.M
    )
    assert "- `services/alpha/broken.py`: " in body
    assert not re.search(r"`(app|broken)\.py", body)
    assert body.endswith("with `cd services/alpha && cio-fix --apply --pr`.")
    message = git(bot_repository.bare, "log", "-1", "--format=%B", "cio-fix/pitfalls")
    assert re.search(r"^- services/alpha/app\.py:\d+: `created_at`", message, re.M)


def test_pr_commit_messages_mask_secrets(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)

    messages = git(bot_repository.bare, "log", "--format=%B", "main..cio-fix/pitfalls")
    assert SITE_ID not in messages
    assert "3f9a****" in messages


def test_pr_author_from_config_table(bot_repository: BotRepository) -> None:
    bot_repository.commit(
        {
            "pyproject.toml": '[tool.cio-fix.pr]\nauthor-name = "Platform Bot"\n'
            'author-email = "platform-bot@example.invalid"\nbranch = "bots/cio-fix"\n'
            'title = "Customer.io fixes"\nlabels = ["bot"]\n'
        },
        "Configure the bot",
    )

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    author = git(bot_repository.bare, "log", "-1", "--format=%an <%ae>", "bots/cio-fix")
    assert author == "Platform Bot <platform-bot@example.invalid>"
    assert bot_repository.fake.pulls[1]["title"] == "Customer.io fixes"
    assert bot_repository.fake.labels == {1: ["bot"]}


def test_pr_options_override_config_table(bot_repository: BotRepository) -> None:
    bot_repository.commit(
        {"pyproject.toml": '[tool.cio-fix.pr]\nbranch = "bots/cio-fix"\n'}, "Configure"
    )

    result = run_pr(
        bot_repository,
        "--pr-branch",
        "bots/other",
        "--pr-title",
        "Other title",
        "--pr-label",
        "customer.io",
        "--pr-label",
        "automated",
    )

    assert result.exit_code == 0, result.stderr
    pull = bot_repository.fake.pulls[1]
    assert pull["head"]["ref"] == "bots/other"
    assert pull["title"] == "Other title"
    assert bot_repository.fake.labels == {1: ["customer.io", "automated"]}


def test_pr_second_run_updates_same_pull_request(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)
    first_head = bot_repository.remote_commit("cio-fix/pitfalls")
    bot_repository.commit({"orders.py": ORDERS_WITH_CLIENT}, "Add order events")

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert bot_repository.fake.problems == []
    assert list(bot_repository.fake.pulls) == [1]
    assert "Updated pull request #1" in result.stdout
    assert bot_repository.remote_commit("cio-fix/pitfalls") != first_head
    assert "orders.py" in bot_repository.fake.pulls[1]["body"]
    assert "timestamp=int(time.time())" in bot_repository.show(
        "cio-fix/pitfalls", "orders.py"
    )


def test_pr_second_run_rebuilds_branch_on_new_base(
    bot_repository: BotRepository,
) -> None:
    run_pr(bot_repository)
    bot_repository.commit({"orders.py": ORDERS_WITH_CLIENT}, "Add order events")

    run_pr(bot_repository)

    base = bot_repository.remote_commit("main")
    parent = git(bot_repository.bare, "rev-parse", "cio-fix/pitfalls~2")
    assert parent == base


def test_pr_update_uses_patch_with_title_and_body(
    bot_repository: BotRepository,
) -> None:
    run_pr(bot_repository)
    bot_repository.commit({"orders.py": ORDERS_WITH_CLIENT}, "Add order events")

    run_pr(bot_repository)

    patches = [
        request for request in bot_repository.fake.requests if request.method == "PATCH"
    ]
    assert len(patches) == 1
    assert patches[0].path == "/api/v3/repos/owner/repo/pulls/1"
    assert set(patches[0].body) == {"title", "base", "body"}


def test_pr_update_keeps_reviewer_ticks(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)
    pull = bot_repository.fake.pulls[1]
    items = [line for line in pull["body"].splitlines() if line.startswith("- [ ] ")]
    ticked = "- [x] " + items[0][len("- [ ] ") :]
    pull["body"] = pull["body"].replace(items[0], ticked)
    bot_repository.commit({"orders.py": ORDERS_WITH_CLIENT}, "Add order events")

    run_pr(bot_repository)

    body = bot_repository.fake.pulls[1]["body"]
    assert ticked in body
    assert body.count("- [x] ") == 1
    assert "orders.py" in body


def test_pr_update_keeps_renamed_title(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)
    bot_repository.fake.pulls[1]["title"] = "Customer.io fixes, reviewed by Ana"
    bot_repository.commit({"orders.py": ORDERS_WITH_CLIENT}, "Add order events")

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert bot_repository.fake.pulls[1]["title"] == "Customer.io fixes, reviewed by Ana"
    patch = [item for item in bot_repository.fake.requests if item.method == "PATCH"]
    assert "title" not in patch[-1].body
    assert "orders.py" in bot_repository.fake.pulls[1]["body"]


def tick_first_item(pull: dict[str, Any]) -> str:
    """Tick the first task list item of a pull request body; return its text."""
    items = [line for line in pull["body"].splitlines() if line.startswith("- [ ] ")]
    text = items[0][len("- [ ] ") :]
    pull["body"] = pull["body"].replace(items[0], f"- [x] {text}")
    return text


def test_pr_update_keeps_ticks_of_crlf_body(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)
    pull = bot_repository.fake.pulls[1]
    text = tick_first_item(pull)
    # GitHub's web editor saves a description with CRLF line ends.
    pull["body"] = pull["body"].replace("\n", "\r\n")
    bot_repository.commit({"orders.py": ORDERS_WITH_CLIENT}, "Add order events")

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert f"- [x] {text}" in bot_repository.fake.pulls[1]["body"]


def test_pr_update_keeps_renamed_title_of_crlf_body(
    bot_repository: BotRepository,
) -> None:
    run_pr(bot_repository)
    pull = bot_repository.fake.pulls[1]
    pull["body"] = pull["body"].replace("\n", "\r\n")
    pull["title"] = "Customer.io fixes, reviewed by Ana"

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert bot_repository.fake.pulls[1]["title"] == "Customer.io fixes, reviewed by Ana"
    assert "Kept the title 'Customer.io fixes, reviewed by Ana'" in result.stdout
    assert "rename the pull request to 'Fix Customer.io integration pitfalls'" in (
        result.stdout
    )


def test_pr_update_keeps_tick_when_line_moves(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)
    pull = bot_repository.fake.pulls[1]
    rotate = next(
        line for line in pull["body"].splitlines() if line.startswith("- [ ] Rotate")
    )
    pull["body"] = pull["body"].replace(rotate, "- [x]" + rotate[len("- [ ]") :])
    bot_repository.commit({"app.py": "# Signup.\n" + APP}, "Add a header comment")

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert "- [x] Rotate" in bot_repository.fake.pulls[1]["body"]


def test_pr_update_sets_changed_title_option(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)
    bot_repository.commit({"orders.py": ORDERS_WITH_CLIENT}, "Add order events")

    run_pr(bot_repository, "--pr-title", "Weekly Customer.io fixes")
    run_pr(bot_repository)

    assert (
        bot_repository.fake.pulls[1]["title"] == "Fix Customer.io integration pitfalls"
    )


def test_pr_new_branch_names_old_pull(
    bot_repository: BotRepository,
) -> None:
    run_pr(bot_repository)

    result = run_pr(bot_repository, "--pr-branch", "bots/customerio")

    assert result.exit_code == 0, result.stderr
    assert [pull["state"] for pull in bot_repository.fake.pulls.values()] == [
        "open",
        "open",
    ]
    assert "Opened pull request #2" in result.stdout
    assert "Pull request #1" in result.stdout
    assert "from cio-fix/pitfalls, also opened by cio-fix" in result.stdout


def test_pr_update_names_no_other_pull(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)
    bot_repository.commit({"orders.py": ORDERS_WITH_CLIENT}, "Add order events")

    result = run_pr(bot_repository)

    assert "also opened by cio-fix" not in result.stdout


def test_pr_rerun_without_changes_keeps_branch(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)
    head = bot_repository.remote_commit("cio-fix/pitfalls")

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert bot_repository.remote_commit("cio-fix/pitfalls") == head
    assert list(bot_repository.fake.pulls) == [1]


def test_pr_rerun_names_branch_commits(
    bot_repository: BotRepository,
) -> None:
    run_pr(bot_repository)
    on_branch = git(
        bot_repository.bare, "log", "--reverse", "--format=%H", "main..cio-fix/pitfalls"
    ).split()

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert "its branch already has these 2 commits, so nothing was pushed" in (
        result.stdout
    )
    assert "Updated pull request #1" not in result.stdout
    printed = re.findall(r"\(commit ([0-9a-f]{12})\)", result.stdout)
    assert printed == [commit[:12] for commit in on_branch]


@pytest.mark.parametrize(
    "option", ["--pr-title", "--pr-branch", "--pr-base", "--pr-label"]
)
def test_pr_empty_option_is_usage_error(
    bot_repository: BotRepository, option: str
) -> None:
    result = run_pr(bot_repository, option, "")

    assert result.exit_code == 2
    assert f"{option} is empty" in result.stderr
    assert bot_repository.fake.requests == []


def test_pr_long_url_not_wrapped(bot_repository: BotRepository) -> None:
    bot_repository.fake.repository = "owner/" + "customer-io-integration-service-" * 3
    git(
        bot_repository.work,
        "remote",
        "set-url",
        "origin",
        f"https://github.com/{bot_repository.fake.repository}.git",
    )
    git(
        bot_repository.work,
        "config",
        f"url.{bot_repository.bare.as_posix()}.insteadOf",
        f"https://github.com/{bot_repository.fake.repository}.git",
    )

    result = run_cli(["--apply", "--pr"], bot_repository.work, columns=80)

    assert result.exit_code == 0, result.stderr
    url = bot_repository.fake.pulls[1]["html_url"]
    assert f"Opened pull request #1 {url} with 2 commits." in result.stdout


def test_pr_nothing_left_closes_pull_request(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)
    # The developer merges the bot branch into main.
    bot_repository.merge_bot_branch()

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert bot_repository.fake.problems == []
    assert bot_repository.fake.pulls[1]["state"] == "closed"
    assert len(bot_repository.fake.comments) == 1
    assert bot_repository.fake.comments[0][0] == 1
    assert "no longer needed" in bot_repository.fake.comments[0][1]
    assert "closed pull request #1" in result.stdout


def test_pr_unreadable_file_keeps_pull_request_open(
    bot_repository: BotRepository,
) -> None:
    run_pr(bot_repository)
    bot_repository.merge_bot_branch(push=False)
    bot_repository.commit(
        {"broken.py": "import customerio\ndef broken(:\n"}, "Add a broken file"
    )

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "pull request #1 stays open" in result.stderr
    assert "broken.py" in result.stderr
    assert bot_repository.fake.pulls[1]["state"] == "open"
    assert bot_repository.fake.comments == []


def test_pr_close_comments_before_closing(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)
    bot_repository.merge_bot_branch()

    run_pr(bot_repository)

    writes = [
        (request.method, request.path) for request in bot_repository.fake.requests[-2:]
    ]
    assert writes == [
        ("POST", "/api/v3/repos/owner/repo/issues/1/comments"),
        ("PATCH", "/api/v3/repos/owner/repo/pulls/1"),
    ]
    assert bot_repository.fake.requests[-1].body == {"state": "closed"}


def test_pr_nothing_to_fix_and_none_open_does_nothing(
    bot_repository: BotRepository,
) -> None:
    bot_repository.commit({"app.py": APP_FIXED}, "Fix by hand")

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert bot_repository.fake.pulls == {}
    writes = [
        request for request in bot_repository.fake.requests if request.method != "GET"
    ]
    assert writes == []
    assert "nothing to do" in result.stdout


def test_pr_dirty_tree_refused(bot_repository: BotRepository) -> None:
    (bot_repository.work / "app.py").write_text(
        APP + "\n# work in progress\n", encoding="utf-8"
    )

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "uncommitted changes (app.py)" in result.stderr
    assert bot_repository.fake.requests == []
    assert "work in progress" in (bot_repository.work / "app.py").read_text(
        encoding="utf-8"
    )


def test_pr_untracked_file_refused(bot_repository: BotRepository) -> None:
    (bot_repository.work / "notes.py").write_text(
        "import customerio\n", encoding="utf-8"
    )

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "notes.py" in result.stderr


@pytest.mark.parametrize("flag", ["assume-unchanged", "skip-worktree"])
def test_pr_hidden_local_change_refused(
    bot_repository: BotRepository, flag: str
) -> None:
    bot_repository.commit({"local_settings.py": "DEBUG = False\n"}, "Add settings")
    settings = bot_repository.work / "local_settings.py"
    settings.write_text("DEBUG = True  # my local edit\n", encoding="utf-8")
    git(bot_repository.work, "update-index", f"--{flag}", "local_settings.py")

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert f"hides local changes from git status ({flag}: local_settings.py)" in (
        result.stderr
    )
    assert settings.read_text(encoding="utf-8") == "DEBUG = True  # my local edit\n"
    assert bot_repository.fake.requests == []


def test_pr_sparse_checkout_files_accepted(bot_repository: BotRepository) -> None:
    # A sparse checkout marks the files outside it skip-worktree and removes them.
    bot_repository.commit({"docs/guide.md": "# guide\n"}, "Add a guide")
    git(bot_repository.work, "update-index", "--skip-worktree", "docs/guide.md")
    (bot_repository.work / "docs" / "guide.md").unlink()

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert not (bot_repository.work / "docs" / "guide.md").exists()


@pytest.mark.parametrize("absolute", [True, False])
def test_pr_path_outside_work_tree_rejected(
    bot_repository: BotRepository, absolute: bool
) -> None:
    outside = bot_repository.work.parent / "outside"
    outside.mkdir()
    (outside / "app.py").write_text(APP, encoding="utf-8")
    target = str(outside) if absolute else "../outside"

    result = run_pr(bot_repository, target)

    assert result.exit_code == 2
    assert f"{target} is outside the git work tree" in result.stderr
    assert (outside / "app.py").read_text(encoding="utf-8") == APP
    assert bot_repository.fake.requests == []


def test_pr_path_through_link_outside_rejected(bot_repository: BotRepository) -> None:
    outside = bot_repository.work.parent / "shared"
    outside.mkdir()
    (outside / "app.py").write_text(APP, encoding="utf-8")
    (bot_repository.work / "shared").symlink_to(outside, target_is_directory=True)
    bot_repository.commit({}, "Link the shared folder")

    result = run_pr(bot_repository, "shared/app.py")

    assert result.exit_code == 2
    assert "shared/app.py leads through a symbolic link to" in result.stderr
    assert (outside / "app.py").read_text(encoding="utf-8") == APP
    assert bot_repository.fake.requests == []


def add_submodule(repository: BotRepository, path: str) -> Path:
    """Add a submodule with the signup handler at `path`, commit and push it."""
    bare = repository.bare.parent / "library.git"
    clone = repository.bare.parent / "library"
    git(bare.parent, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git(bare.parent, "init", "--quiet", "--initial-branch=main", str(clone))
    (clone / "app.py").write_text(APP, encoding="utf-8")
    git(clone, "add", "--all")
    git(clone, "commit", "--quiet", "-m", "Add the signup handler")
    git(clone, "push", "--quiet", str(bare), "main")
    git(repository.work, "submodule", "--quiet", "add", str(bare), path)
    git(repository.work, "commit", "--quiet", "-m", "Add the library")
    git(repository.work, "push", "--quiet", "origin", "main")
    return repository.work / path


@pytest.mark.parametrize("target", ["vendor/library", "vendor/library/app.py"])
def test_pr_submodule_path_rejected(bot_repository: BotRepository, target: str) -> None:
    submodule = add_submodule(bot_repository, "vendor/library")

    result = run_pr(bot_repository, target)

    assert result.exit_code == 2
    assert f"{target} is inside the submodule vendor/library" in result.stderr
    assert "run cio-fix --pr in a clone of that repository" in result.stderr
    assert (submodule / "app.py").read_text(encoding="utf-8") == APP
    assert git(bot_repository.work, "status", "--porcelain") == ""
    assert bot_repository.fake.requests == []


def test_pr_nested_repository_path_rejected(bot_repository: BotRepository) -> None:
    bot_repository.commit({".gitignore": "scratch/\n"}, "Ignore the scratch folder")
    nested = bot_repository.work / "scratch"
    git(bot_repository.work, "init", "--quiet", str(nested))
    (nested / "app.py").write_text(APP, encoding="utf-8")

    result = run_pr(bot_repository, "scratch")

    assert result.exit_code == 2
    assert "scratch is inside the nested git repository scratch" in result.stderr
    assert (nested / "app.py").read_text(encoding="utf-8") == APP
    assert bot_repository.fake.requests == []


def test_pr_run_from_top_skips_submodule(bot_repository: BotRepository) -> None:
    submodule = add_submodule(bot_repository, "vendor/library")

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert (submodule / "app.py").read_text(encoding="utf-8") == APP
    assert git(bot_repository.work, "status", "--porcelain") == ""


def add_ignored_copy(repository: BotRepository) -> Path:
    """Ignore the folder generated/ and put a copy of the signup handler in it."""
    repository.commit({".gitignore": "generated/\n"}, "Ignore generated code")
    copy = repository.work / "generated" / "app.py"
    copy.parent.mkdir()
    copy.write_text(APP, encoding="utf-8")
    return copy


def test_pr_ignored_path_rejected(bot_repository: BotRepository) -> None:
    copy = add_ignored_copy(bot_repository)

    result = run_pr(bot_repository, "generated/app.py")

    assert result.exit_code == 2
    assert (
        "generated/app.py is ignored by git (generated/ in .gitignore), so cio-fix"
        " cannot commit its fixes" in result.stderr
    )
    assert "--force-exclude" in result.stderr
    assert copy.read_text(encoding="utf-8") == APP
    assert bot_repository.fake.requests == []


def test_pr_link_to_ignored_file_rejected(bot_repository: BotRepository) -> None:
    copy = add_ignored_copy(bot_repository)
    (bot_repository.work / "copy.py").symlink_to("generated/app.py")
    bot_repository.commit({}, "Link the generated handler")

    result = run_pr(bot_repository, "copy.py")

    assert result.exit_code == 2
    assert (
        "generated/app.py, which copy.py links to, is ignored by git" in result.stderr
    )
    assert copy.read_text(encoding="utf-8") == APP
    assert bot_repository.fake.requests == []


def test_pr_ignored_path_skipped_with_force_exclude(
    bot_repository: BotRepository,
) -> None:
    copy = add_ignored_copy(bot_repository)

    result = run_pr(bot_repository, "--force-exclude", "generated/app.py")

    assert result.exit_code == 0, result.stderr
    assert "nothing to do" in result.stdout
    assert copy.read_text(encoding="utf-8") == APP


@pytest.mark.parametrize("targets", [["link.py"], ["link.py", "app.py"]])
def test_pr_link_path_commits_target(
    bot_repository: BotRepository, targets: list[str]
) -> None:
    (bot_repository.work / "link.py").symlink_to("app.py")
    bot_repository.commit({}, "Link the signup handler")

    result = run_pr(bot_repository, *targets)

    assert result.exit_code == 0, result.stderr
    fixed = bot_repository.show("cio-fix/pitfalls", "app.py")
    assert 'os.environ["CUSTOMERIO_SITE_ID"]' in fixed
    assert "created_at=int(time.time())" in fixed
    changed = git(
        bot_repository.bare, "diff", "--name-only", "main", "cio-fix/pitfalls"
    )
    assert changed == "app.py"
    message = git(bot_repository.bare, "log", "-1", "--format=%B", "cio-fix/pitfalls")
    assert "- app.py:" in message
    assert (bot_repository.work / "app.py").read_text(encoding="utf-8") == APP
    assert git(bot_repository.work, "status", "--porcelain") == ""


def test_pr_folder_link_path_commits_target(
    bot_repository: BotRepository,
) -> None:
    bot_repository.commit({"shop/app.py": APP}, "Add the shop")
    (bot_repository.work / "current").symlink_to("shop", target_is_directory=True)
    bot_repository.commit({}, "Link the current shop")

    result = run_pr(bot_repository, "current/app.py")

    assert result.exit_code == 0, result.stderr
    changed = git(
        bot_repository.bare, "diff", "--name-only", "main", "cio-fix/pitfalls"
    )
    assert changed == "shop/app.py"


def add_link_ignored_by_name(repository: BotRepository) -> Path:
    """Ignore the name link.py and make it an untracked link to the signup handler."""
    repository.commit({".gitignore": "link.py\n"}, "Ignore link.py")
    link = repository.work / "link.py"
    link.symlink_to("app.py")
    return link


def test_pr_ignored_link_rejected(bot_repository: BotRepository) -> None:
    add_link_ignored_by_name(bot_repository)

    result = run_pr(bot_repository, "link.py")

    assert result.exit_code == 2
    assert "link.py is ignored by git (link.py in .gitignore)" in result.stderr
    assert (bot_repository.work / "app.py").read_text(encoding="utf-8") == APP
    assert bot_repository.fake.requests == []


def test_pr_ignored_link_skipped_with_force_exclude(
    bot_repository: BotRepository,
) -> None:
    add_link_ignored_by_name(bot_repository)
    without_pr = run_cli(
        ["--apply", "--no-cache", "--force-exclude", "link.py"], bot_repository.work
    )
    assert (bot_repository.work / "app.py").read_text(encoding="utf-8") == APP

    result = run_pr(bot_repository, "--force-exclude", "link.py")

    assert without_pr.exit_code == 0, without_pr.stderr
    assert result.exit_code == 0, result.stderr
    assert "nothing to do" in result.stdout
    assert bot_repository.fake.pulls == {}
    assert (bot_repository.work / "app.py").read_text(encoding="utf-8") == APP


def ignore_generated(repository: BotRepository, source: str) -> Path:
    """Make git ignore generated/ through `source` and copy the signup handler into it.

    "branch": the .gitignore of a local branch that origin's main does not
    have; "info-exclude": `.git/info/exclude`; "global": `core.excludesFile`.
    """
    work = repository.work
    if source == "branch":
        git(work, "checkout", "--quiet", "-b", "feature")
        (work / ".gitignore").write_text("generated/\n", encoding="utf-8")
        git(work, "add", ".gitignore")
        git(work, "commit", "--quiet", "-m", "Ignore generated code")
    elif source == "info-exclude":
        with (work / ".git" / "info" / "exclude").open("a", encoding="utf-8") as file:
            file.write("generated/\n")
    else:
        excludes = repository.bare.parent / "global-excludes"
        excludes.write_text("generated/\n", encoding="utf-8")
        git(work, "config", "--global", "core.excludesFile", str(excludes))
    copy = work / "generated" / "app.py"
    copy.parent.mkdir()
    copy.write_text(APP, encoding="utf-8")
    return copy


IGNORE_SOURCES = ["branch", "info-exclude", "global"]


@pytest.mark.parametrize("source", IGNORE_SOURCES)
def test_pr_ignored_file_not_committed(
    bot_repository: BotRepository, source: str
) -> None:
    copy = ignore_generated(bot_repository, source)
    branch = git(bot_repository.work, "symbolic-ref", "--short", "HEAD")

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    changed = git(
        bot_repository.bare, "log", "--format=", "--name-only", "main..cio-fix/pitfalls"
    )
    assert set(changed.split()) == {"app.py"}
    assert copy.read_bytes() == APP.encode("utf-8")
    assert git(bot_repository.work, "symbolic-ref", "--short", "HEAD") == branch
    assert git(bot_repository.work, "status", "--porcelain") == ""


@pytest.mark.parametrize("source", IGNORE_SOURCES)
@pytest.mark.parametrize("target", ["generated/app.py", "generated"])
def test_pr_force_exclude_skips_ignored_path(
    bot_repository: BotRepository, source: str, target: str
) -> None:
    copy = ignore_generated(bot_repository, source)

    result = run_pr(bot_repository, "--force-exclude", target)

    assert result.exit_code == 0, result.stderr
    assert "nothing to do" in result.stdout
    assert bot_repository.fake.pulls == {}
    assert copy.read_bytes() == APP.encode("utf-8")


@pytest.mark.parametrize("source", IGNORE_SOURCES)
def test_pr_ignored_path_rejected_by_source(
    bot_repository: BotRepository, source: str
) -> None:
    copy = ignore_generated(bot_repository, source)

    result = run_pr(bot_repository, "generated/app.py")

    assert result.exit_code == 2
    assert "generated/app.py is ignored by git (generated/ in " in result.stderr
    assert copy.read_bytes() == APP.encode("utf-8")
    assert bot_repository.fake.requests == []


LOCAL_COPY = "# my local copy, which git ignores\n" + APP


def add_tracked_link_to_ignored_copy(repository: BotRepository) -> Path:
    """Track the link dev_app.py to local_app.py, an ignored copy of the signup handler."""
    (repository.work / "dev_app.py").symlink_to("local_app.py")
    repository.commit({".gitignore": "local_app.py\n"}, "Link the local handler")
    copy = repository.work / "local_app.py"
    copy.write_text(LOCAL_COPY, encoding="utf-8")
    return copy


def test_pr_tracked_link_to_ignored_file_skipped(
    bot_repository: BotRepository,
) -> None:
    # Git tracks the link, not the file it leads to, so the bot can commit
    # no fix of that file and must not write it.
    copy = add_tracked_link_to_ignored_copy(bot_repository)

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert copy.read_bytes() == LOCAL_COPY.encode("utf-8")
    changed = git(
        bot_repository.bare, "log", "--format=", "--name-only", "main..cio-fix/pitfalls"
    )
    assert set(changed.split()) == {"app.py"}
    assert "CIO103: fixed 1 finding in 1 file" in result.stdout
    assert "2 files" not in result.stdout
    body = bot_repository.fake.pulls[1]["body"]
    assert "local_app.py" not in body
    assert "dev_app.py" not in body
    assert git(bot_repository.work, "status", "--porcelain") == ""


def test_apply_without_pr_fixes_through_tracked_link(
    bot_repository: BotRepository,
) -> None:
    copy = add_tracked_link_to_ignored_copy(bot_repository)

    result = run_cli(["--apply", "--no-cache", "."], bot_repository.work)

    assert result.exit_code == 0, result.stderr
    assert "time.time() * 1000" not in copy.read_text(encoding="utf-8")
    assert copy.read_text(encoding="utf-8").startswith("# my local copy")


@pytest.mark.parametrize("tracked", ["generated/app.py", "generated"])
def test_pr_base_file_over_ignored_file_rejected(
    bot_repository: BotRepository, tracked: str
) -> None:
    # The base tracks a file where the branch has an ignored one: checking
    # out the base would overwrite it, or remove its folder.
    bot_repository.commit({tracked: APP}, "Add generated code")
    work = bot_repository.work
    git(work, "checkout", "--quiet", "-b", "feature")
    git(work, "rm", "--quiet", "--cached", "-r", tracked)
    (work / tracked).unlink()
    (work / ".gitignore").write_text("generated/\n", encoding="utf-8")
    git(work, "add", ".gitignore")
    git(work, "commit", "--quiet", "-m", "Stop tracking generated code")
    copy = work / "generated" / "app.py"
    copy.parent.mkdir(exist_ok=True)
    copy.write_text(LOCAL_COPY, encoding="utf-8")

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "cannot check out the base commit" in result.stderr
    assert "generated" in result.stderr
    assert "move them out of the clone" in result.stderr
    assert copy.read_bytes() == LOCAL_COPY.encode("utf-8")
    assert git(work, "symbolic-ref", "--short", "HEAD") == "feature"
    assert git(work, "status", "--porcelain") == ""
    assert bot_repository.fake.pulls == {}


def test_pr_base_branch_untouched(bot_repository: BotRepository) -> None:
    base_before = bot_repository.remote_commit("main")
    local_before = git(bot_repository.work, "rev-parse", "main")

    run_pr(bot_repository)

    assert bot_repository.remote_commit("main") == base_before
    assert git(bot_repository.work, "rev-parse", "main") == local_before
    assert git(
        bot_repository.bare, "for-each-ref", "--format=%(refname)", "refs/heads"
    ) == ("refs/heads/cio-fix/pitfalls\nrefs/heads/main")


def test_pr_leaves_checkout_as_it_was(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)

    assert git(bot_repository.work, "symbolic-ref", "--short", "HEAD") == "main"
    assert git(bot_repository.work, "status", "--porcelain") == ""
    assert (bot_repository.work / "app.py").read_text(encoding="utf-8") == APP
    assert git(bot_repository.work, "for-each-ref", "refs/cio-fix") == ""


def test_pr_post_checkout_hook_kept_out(bot_repository: BotRepository) -> None:
    # A code generator rewrites a tracked file after every checkout.
    bot_repository.commit({"generated.py": "VERSION = 1\n"}, "Add generated code")
    hook = bot_repository.work / ".git" / "hooks" / "post-checkout"
    hook.write_text("#!/bin/sh\necho 'VERSION = 2' > generated.py\n", encoding="utf-8")
    hook.chmod(0o755)

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    changed = git(
        bot_repository.bare, "log", "--format=", "--name-only", "main..cio-fix/pitfalls"
    )
    assert set(changed.split()) == {"app.py"}
    assert git(bot_repository.work, "status", "--porcelain") == ""
    assert (bot_repository.work / "generated.py").read_text(encoding="utf-8") == (
        "VERSION = 1\n"
    )


def test_pr_fresh_clone_console_script(
    bot_repository: BotRepository, tmp_path: Path
) -> None:
    clone = tmp_path / "fresh"
    git(
        tmp_path,
        "clone",
        "--quiet",
        REMOTE_URL,
        str(clone),
        "-c",
        f"url.{bot_repository.bare.as_posix()}.insteadOf={REMOTE_URL}",
    )
    console_script = Path(sys.executable).parent / "cio-fix"

    completed = subprocess.run(
        [str(console_script), "--apply", "--pr"],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert bot_repository.fake.problems == []
    assert [pull["state"] for pull in bot_repository.fake.pulls.values()] == ["open"]
    assert len(bot_repository.branch_subjects()) == 2
    assert TOKEN not in completed.stdout + completed.stderr


def test_pr_branch_equal_to_base_rejected(bot_repository: BotRepository) -> None:
    result = run_pr(bot_repository, "--pr-branch", "main")

    assert result.exit_code == 2
    assert "pushes only to its own branch" in result.stderr
    assert bot_repository.fake.pulls == {}


def test_pr_foreign_pull_request_on_branch_rejected(
    bot_repository: BotRepository,
) -> None:
    git(
        bot_repository.work,
        "push",
        "--quiet",
        "origin",
        "main:refs/heads/cio-fix/pitfalls",
    )
    bot_repository.fake.pulls[1] = {
        "number": 1,
        "state": "open",
        "title": "A person's work",
        "body": "Please review",
        "html_url": "https://github.invalid/owner/repo/pull/1",
        "head": {
            "ref": "cio-fix/pitfalls",
            "sha": bot_repository.remote_commit("main"),
        },
        "base": {"ref": "main"},
    }
    before = bot_repository.remote_commit("cio-fix/pitfalls")

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "was not opened by cio-fix" in result.stderr
    assert bot_repository.remote_commit("cio-fix/pitfalls") == before


def test_pr_changed_identity_names_old_bot_commits(
    bot_repository: BotRepository,
) -> None:
    run_pr(bot_repository)
    bot_repository.commit(
        {"pyproject.toml": '[tool.cio-fix.pr]\nauthor-name = "Platform Bot"\n'},
        "Name the bot",
    )

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "has 2 commits that cio-fix did not make" in result.stderr
    assert "look like cio-fix's own under another identity" in result.stderr
    assert "after a change of author-name or author-email" in result.stderr


def test_pr_person_fix_subject_not_called_bot_commit(
    bot_repository: BotRepository,
) -> None:
    run_pr(bot_repository)
    bot_repository.push_as_person(
        "cio-fix/pitfalls",
        {"NOTES.md": "follow-up\n"},
        "Fix CIO103 in the nightly job too",
    )

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "has 1 commit that cio-fix did not make" in result.stderr
    assert "look like cio-fix's own" not in result.stderr


def test_pr_person_commit_on_branch_kept(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)
    reviewer = bot_repository.push_as_person(
        "cio-fix/pitfalls", {"NOTES.md": "use 8 workers\n"}, "Review: use 8 workers"
    )
    body_before = bot_repository.fake.pulls[1]["body"]
    requests_before = len(bot_repository.fake.requests)

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "has 1 commit that cio-fix did not make" in result.stderr
    assert f"{reviewer[:12]} 'Review: use 8 workers' by Test Developer" in result.stderr
    assert "merge pull request #1, or delete the branch" in result.stderr
    assert "look like cio-fix's own" not in result.stderr
    assert bot_repository.remote_commit("cio-fix/pitfalls") == reviewer
    assert bot_repository.fake.pulls[1]["state"] == "open"
    assert bot_repository.fake.pulls[1]["body"] == body_before
    writes = [
        request
        for request in bot_repository.fake.requests[requests_before:]
        if request.method != "GET"
    ]
    assert writes == []
    assert git(bot_repository.work, "status", "--porcelain") == ""
    assert git(bot_repository.work, "for-each-ref", "refs/cio-fix") == ""


def test_pr_person_commit_kept_after_base_moved(
    bot_repository: BotRepository,
) -> None:
    run_pr(bot_repository)
    reviewer = bot_repository.push_as_person(
        "cio-fix/pitfalls", {"NOTES.md": "use 8 workers\n"}, "Review: use 8 workers"
    )
    bot_repository.commit({"orders.py": ORDERS_WITH_CLIENT}, "Add order events")

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "that cio-fix did not make" in result.stderr
    assert bot_repository.remote_commit("cio-fix/pitfalls") == reviewer


def test_pr_amended_bot_commit_kept(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)
    clone = bot_repository.bare.parent / "amender"
    git(
        bot_repository.bare.parent,
        "clone",
        "--quiet",
        str(bot_repository.bare),
        str(clone),
    )
    git(clone, "checkout", "--quiet", "cio-fix/pitfalls")
    # The author stays cio-fix[bot]; the committer becomes the person.
    git(clone, "commit", "--quiet", "--amend", "-m", "Fix CIO103, reworded")
    git(clone, "push", "--quiet", "--force", "origin", "cio-fix/pitfalls")
    amended = git(clone, "rev-parse", "HEAD")

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "that cio-fix did not make" in result.stderr
    assert bot_repository.remote_commit("cio-fix/pitfalls") == amended


def test_pr_branch_option_names_person_branch(
    bot_repository: BotRepository,
) -> None:
    work = bot_repository.push_as_person(
        "feature/billing",
        {"billing.py": "BILLING = 1\n"},
        "Billing work in progress",
        start="main",
    )

    result = run_pr(bot_repository, "--pr-branch", "feature/billing")

    assert result.exit_code == 2
    assert "'feature/billing' on origin has 1 commit that cio-fix did not make" in (
        result.stderr
    )
    assert "choose another branch with --pr-branch" in result.stderr
    assert "delete the branch" not in result.stderr
    assert bot_repository.remote_commit("feature/billing") == work
    assert bot_repository.fake.pulls == {}


def test_pr_existing_branch_without_pull_kept(bot_repository: BotRepository) -> None:
    git(
        bot_repository.work, "push", "--quiet", "origin", "main:refs/heads/release-prep"
    )
    before = bot_repository.remote_commit("release-prep")

    result = run_pr(bot_repository, "--pr-branch", "release-prep")

    assert result.exit_code == 2
    assert "cio-fix never opened a pull request from it" in result.stderr
    assert bot_repository.remote_commit("release-prep") == before
    assert bot_repository.fake.pulls == {}


def test_pr_bot_branch_without_pull_recovered(bot_repository: BotRepository) -> None:
    # The push succeeded, but opening the pull request failed.
    run_pr(bot_repository)
    bot_repository.fake.pulls.clear()

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert [pull["state"] for pull in bot_repository.fake.pulls.values()] == ["open"]


def test_pr_rewritten_author_owns_branch(
    bot_repository: BotRepository,
) -> None:
    # git records "Platform Bot <ops>" as "Platform Bot ops".
    bot_repository.commit(
        {"pyproject.toml": '[tool.cio-fix.pr]\nauthor-name = "Platform Bot <ops>"\n'},
        "Configure the bot",
    )
    run_pr(bot_repository)
    bot_repository.commit({"orders.py": ORDERS_WITH_CLIENT}, "Add order events")

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert "Updated pull request #1" in result.stdout


def test_pr_closed_pull_not_opened_again(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)
    bot_repository.fake.close(1)
    head = bot_repository.remote_commit("cio-fix/pitfalls")
    requests_before = len(bot_repository.fake.requests)

    result = run_pr(bot_repository)

    assert result.exit_code == 1, result.stderr
    assert "closed without merging, so cio-fix does not open it again" in result.stdout
    assert "delete the branch cio-fix/pitfalls on origin" in result.stdout
    assert "(commit " not in result.stdout
    assert "CIO101: fixed" not in result.stdout
    assert (
        "CIO101: 2 findings in 1 file left unfixed, because the fixes were"
        " declined" in result.stdout
    )
    assert list(bot_repository.fake.pulls) == [1]
    assert bot_repository.fake.pulls[1]["state"] == "closed"
    assert bot_repository.remote_commit("cio-fix/pitfalls") == head
    writes = [
        request
        for request in bot_repository.fake.requests[requests_before:]
        if request.method != "GET"
    ]
    assert writes == []


def test_pr_closed_pull_exit_zero(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)
    bot_repository.fake.close(1)

    result = run_pr(bot_repository, "--exit-zero")

    assert result.exit_code == 0, result.stderr
    assert list(bot_repository.fake.pulls) == [1]


def test_pr_closed_pull_branch_deleted_opens_new(
    bot_repository: BotRepository,
) -> None:
    run_pr(bot_repository)
    bot_repository.fake.close(1)
    git(bot_repository.bare, "branch", "-D", "cio-fix/pitfalls")

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert list(bot_repository.fake.pulls) == [1, 2]
    assert bot_repository.fake.pulls[2]["state"] == "open"


def test_pr_closed_pull_new_fix_opens_new(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)
    bot_repository.fake.close(1)
    bot_repository.commit({"orders.py": ORDERS_WITH_CLIENT}, "Add order events")

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert list(bot_repository.fake.pulls) == [1, 2]
    body = bot_repository.fake.pulls[2]["body"]
    assert "orders.py" in body
    assert "app.py" in body


def test_pr_closed_pull_fewer_fixes_stays_closed(
    bot_repository: BotRepository,
) -> None:
    run_pr(bot_repository)
    bot_repository.fake.close(1)
    # The team fixes the timestamp by hand; the key fix stays declined.
    bot_repository.commit(
        {"app.py": APP.replace("int(time.time() * 1000)", "int(time.time())")},
        "Send seconds",
    )

    result = run_pr(bot_repository)

    assert result.exit_code == 1, result.stderr
    assert "does not open it again" in result.stdout
    assert list(bot_repository.fake.pulls) == [1]


def test_pr_merged_pull_not_declined(
    bot_repository: BotRepository,
) -> None:
    run_pr(bot_repository)
    bot_repository.fake.close(1, merged=True)
    bot_repository.merge_bot_branch()
    bot_repository.commit({"app.py": APP}, "Bring the old signup back")

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert list(bot_repository.fake.pulls) == [1, 2]
    assert bot_repository.fake.pulls[2]["state"] == "open"


def test_pr_pushed_merge_not_declined(
    bot_repository: BotRepository,
) -> None:
    # The branch reaches main by a push, so GitHub records the pull request as closed, not merged.
    run_pr(bot_repository)
    bot_repository.fake.close(1)
    bot_repository.merge_bot_branch()
    bot_repository.commit({"app.py": APP}, "Bring the old signup back")

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert list(bot_repository.fake.pulls) == [1, 2]


def test_pr_merged_field_not_declined(bot_repository: BotRepository) -> None:
    # The single pull request API states `merged: true` instead of `merged_at`.
    run_pr(bot_repository)
    bot_repository.fake.pulls[1].update(state="closed", merged=True)

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert list(bot_repository.fake.pulls) == [1, 2]


def test_pr_bot_closed_pull_not_declined(
    bot_repository: BotRepository,
) -> None:
    run_pr(bot_repository)
    bot_repository.merge_bot_branch()
    run_pr(bot_repository)
    assert bot_repository.fake.pulls[1]["state"] == "closed"
    bot_repository.commit({"app.py": APP}, "Bring the old signup back")

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert list(bot_repository.fake.pulls) == [1, 2]
    assert bot_repository.fake.pulls[2]["state"] == "open"


STAGING_SITE_ID = "5e6f7a8b9c0d1e2f"
STAGING_API_KEY = "9f8e7d6c5b4a3f2e1d0c"
# Keys that CIO101 does not report: in the docstring and a commented-out
# line right above a line that the CIO103 fix changes.
KEYS_IN_COMMENTS = f'''"""Tracking.

Staging workspace: site id {STAGING_SITE_ID}, key {STAGING_API_KEY}.
"""
import os
import time

from customerio import CustomerIO

cio = CustomerIO(os.environ["CUSTOMERIO_SITE_ID"], os.environ["CUSTOMERIO_TRACK_API_KEY"])


def signup(user):
    # cio = CustomerIO("{STAGING_SITE_ID}", "{STAGING_API_KEY}")
    cio.identify(id=user.id, email=user.email, created_at=int(time.time() * 1000))
'''


def test_pr_unreported_keys_masked_everywhere(bot_repository: BotRepository) -> None:
    bot_repository.commit({"tracking.py": KEYS_IN_COMMENTS}, "Add tracking")

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    body = bot_repository.fake.pulls[1]["body"]
    messages = git(bot_repository.bare, "log", "--format=%B", "main..cio-fix/pitfalls")
    for key in (STAGING_SITE_ID, STAGING_API_KEY):
        assert key not in body, key
        assert key not in messages, key
        assert key not in result.stdout + result.stderr, key
    assert '# cio = CustomerIO("5e6f****", "9f8e****")' in body


def test_pr_person_commit_subject_key_masked(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)
    bot_repository.push_as_person(
        "cio-fix/pitfalls",
        {"NOTES.md": "staging\n"},
        f"Try the staging key {STAGING_API_KEY}",
    )

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert STAGING_API_KEY not in result.stderr
    assert "9f8e****" in result.stderr


def test_pr_token_absent_from_output_and_config(
    bot_repository: BotRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    arguments: list[list[str]] = []
    original_run = subprocess.run

    def recording_run(command, *args, **kwargs):
        arguments.append([str(part) for part in command])
        return original_run(command, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", recording_run)

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert TOKEN not in result.stdout
    assert TOKEN not in result.stderr
    assert TOKEN not in (bot_repository.work / ".git" / "config").read_text(
        encoding="utf-8"
    )
    assert arguments
    for command in arguments:
        assert TOKEN not in " ".join(command)
    assert TOKEN not in bot_repository.fake.pulls[1]["body"]


def test_pr_token_absent_from_git_error(bot_repository: BotRepository) -> None:
    # A token in the remote URL must not leak through git's error message either.
    git(
        bot_repository.work,
        "remote",
        "set-url",
        "origin",
        f"https://x:{TOKEN}@github.invalid/owner/repo.git",
    )
    bot_repository.fake.repository = "owner/repo"

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert TOKEN not in result.stderr
    assert TOKEN not in result.stdout


def test_pr_github_repository_variable_wins(
    bot_repository: BotRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot_repository.fake.repository = "acme/shop"
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/shop")

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert bot_repository.fake.requests[0].path == "/api/v3/repos/acme/shop"
    assert bot_repository.fake.requests[1].query["head"] == ["acme:cio-fix/pitfalls"]


def test_pr_gh_token_variable_accepted(
    bot_repository: BotRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.setenv("GH_TOKEN", TOKEN)

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert bot_repository.fake.problems == []


def test_pr_requests_carry_api_headers(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)

    assert bot_repository.fake.requests
    for request in bot_repository.fake.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"


def test_pr_create_request_fields(bot_repository: BotRepository) -> None:
    run_pr(bot_repository)

    creates = [
        request for request in bot_repository.fake.requests if request.method == "POST"
    ]
    assert len(creates) == 1
    assert creates[0].path == "/api/v3/repos/owner/repo/pulls"
    assert creates[0].body["head"] == "cio-fix/pitfalls"
    assert creates[0].body["base"] == "main"
    assert creates[0].body["body"].startswith("<!-- cio-fix:pull-request")
    assert "Each rule has its own commit" in creates[0].body["body"]


def test_pr_base_option_and_default_branch(bot_repository: BotRepository) -> None:
    git(bot_repository.work, "push", "--quiet", "origin", "main:refs/heads/release")

    result = run_pr(bot_repository, "--pr-base", "release")

    assert result.exit_code == 0, result.stderr
    assert bot_repository.fake.pulls[1]["base"]["ref"] == "release"


def test_pr_missing_base_branch_is_error(bot_repository: BotRepository) -> None:
    result = run_pr(bot_repository, "--pr-base", "no-such-branch")

    assert result.exit_code == 2
    assert "'no-such-branch' does not exist on origin" in result.stderr


def test_pr_unfixed_findings_listed_with_links(bot_repository: BotRepository) -> None:
    bot_repository.commit({"legacy.py": LEGACY}, "Add legacy settings")

    result = run_pr(bot_repository)

    assert result.exit_code == 1
    body = bot_repository.fake.pulls[1]["body"]
    head = bot_repository.remote_commit("cio-fix/pitfalls")
    link = (
        f"[`legacy.py:5`](https://github.invalid/owner/repo/blob/{head}/legacy.py#L5)"
    )
    assert f"- [ ] {link} `CIO101`" in body
    assert SITE_ID not in body


def test_pr_exit_zero_with_unfixed_findings(bot_repository: BotRepository) -> None:
    bot_repository.commit({"legacy.py": LEGACY}, "Add legacy settings")

    result = run_pr(bot_repository, "--exit-zero")

    assert result.exit_code == 0


def test_pr_unparseable_file_exit_zero(bot_repository: BotRepository) -> None:
    # --exit-zero turns a file error into 0 with --pr as in a plain run.
    bot_repository.commit(
        {"old.py": "import customerio\nprint 'Python 2'\n"}, "Add a Python 2 file"
    )

    result = run_pr(bot_repository, "--exit-zero")

    assert result.exit_code == 0
    assert "old.py: error:" in result.stderr
    body = bot_repository.fake.pulls[1]["body"]
    assert "## Not checked" in body
    assert "- `old.py`:" in body


def test_pr_unparseable_file_exits_2(bot_repository: BotRepository) -> None:
    bot_repository.commit(
        {"old.py": "import customerio\nprint 'Python 2'\n"}, "Add a Python 2 file"
    )

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "old.py: error:" in result.stderr
    assert len(bot_repository.fake.pulls) == 1


def test_pr_no_token_is_error(
    bot_repository: BotRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "no GitHub token: set GITHUB_TOKEN or GH_TOKEN" in result.stderr
    assert bot_repository.fake.requests == []


def test_pr_no_remote_is_error(bot_repository: BotRepository) -> None:
    git(bot_repository.work, "remote", "remove", "origin")

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "has no origin remote" in result.stderr


def test_pr_non_github_remote_is_error(bot_repository: BotRepository) -> None:
    git(
        bot_repository.work,
        "remote",
        "set-url",
        "origin",
        "https://gitlab.invalid/owner/repo.git",
    )

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "is not on GitHub" in result.stderr
    assert bot_repository.fake.requests == []


@pytest.fixture
def other_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtherHost]:
    """A host that is not GitHub, reachable by git over http on 127.0.0.1."""
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "file:http:https")
    host = OtherHost().start()
    try:
        yield host
    finally:
        host.stop()


def test_pr_origin_on_other_host_rejected(
    bot_repository: BotRepository,
    other_host: OtherHost,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GitHub Actions sets GITHUB_REPOSITORY, so origin's URL is not needed
    # for the repository name; it must still be checked.
    monkeypatch.setenv("GITHUB_REPOSITORY", "owner/repo")
    mirror = f"{other_host.url}/mirror/repo.git"
    git(bot_repository.work, "remote", "set-url", "origin", mirror)

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert f"the origin remote ({mirror}) is not on GitHub" in result.stderr
    assert other_host.requests == []
    assert bot_repository.fake.requests == []


def test_pr_origin_rewritten_to_other_host_rejected(
    bot_repository: BotRepository, other_host: OtherHost
) -> None:
    # The configured URL is on github.com, but git fetches from the rewritten one.
    git(
        bot_repository.work,
        "config",
        "--unset",
        f"url.{bot_repository.bare.as_posix()}.insteadOf",
    )
    git(
        bot_repository.work,
        "config",
        f"url.{other_host.url}/mirror/.insteadOf",
        "https://github.com/owner/",
    )

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "is not on GitHub" in result.stderr
    assert other_host.requests == []


def test_pr_push_url_on_other_host_rejected(
    bot_repository: BotRepository, other_host: OtherHost
) -> None:
    git(
        bot_repository.work,
        "config",
        "remote.origin.pushurl",
        f"{other_host.url}/mirror/repo.git",
    )

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "is not on GitHub" in result.stderr
    assert other_host.requests == []
    assert bot_repository.fake.pulls == {}


def test_pr_plain_http_origin_rejected(bot_repository: BotRepository) -> None:
    git(
        bot_repository.work,
        "remote",
        "set-url",
        "origin",
        "http://github.com/owner/repo.git",
    )

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "uses http://, which would send the token unencrypted" in result.stderr
    assert bot_repository.fake.requests == []


def test_pr_enterprise_remote_accepted(
    bot_repository: BotRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    enterprise = "https://ghe.invalid/owner/repo.git"
    git(bot_repository.work, "remote", "set-url", "origin", enterprise)
    git(
        bot_repository.work,
        "config",
        f"url.{bot_repository.bare.as_posix()}.insteadOf",
        enterprise,
    )
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://ghe.invalid")

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert bot_repository.fake.requests[0].path == "/api/v3/repos/owner/repo"


def test_pr_api_error_shows_status_and_message(bot_repository: BotRepository) -> None:
    bot_repository.fake.fail_next = (403, "Resource not accessible by integration")

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "HTTP 403: Resource not accessible by integration" in result.stderr


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the waits for rate limits instead of sleeping through them."""
    recorded: list[float] = []
    monkeypatch.setattr("cio_fix.pr.github._sleep", recorded.append)
    return recorded


def test_pr_rate_limit_retried_after_wait_github_names(
    bot_repository: BotRepository, waits: list[float]
) -> None:
    bot_repository.fake.limit_next = [
        (403, "You have exceeded a secondary rate limit.", {"Retry-After": "7"})
    ]

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert waits == [7.0]
    assert len(bot_repository.fake.pulls) == 1
    first, second = bot_repository.fake.requests[:2]
    assert (first.method, first.path) == (second.method, second.path)
    assert "GitHub's rate limit rejected GET /repos/owner/repo" in result.stderr
    assert "sending it again in 7 seconds" in result.stderr


def test_pr_unnamed_wait_is_a_minute(
    bot_repository: BotRepository, waits: list[float]
) -> None:
    bot_repository.fake.limit_next = [(429, "Too many requests", {})]

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert waits == [60.0]
    assert len(bot_repository.fake.pulls) == 1


def test_pr_exhausted_primary_limit_waits_until_reset(
    bot_repository: BotRepository, waits: list[float]
) -> None:
    reset = int(time.time()) + 30
    bot_repository.fake.limit_next = [
        (
            403,
            "API rate limit exceeded for installation.",
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        )
    ]

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert len(waits) == 1
    assert 25 <= waits[0] <= 32
    assert len(bot_repository.fake.pulls) == 1


def test_pr_long_rate_limit_fails(
    bot_repository: BotRepository, waits: list[float]
) -> None:
    reset = int(time.time()) + 3600
    bot_repository.fake.limit_next = [
        (
            403,
            "API rate limit exceeded for installation.",
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        )
    ]

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert waits == []
    assert bot_repository.fake.pulls == {}
    # cio-fix waits a second past the reset, which can be the next minute.
    expected = time.strftime("%H:%M", time.gmtime(reset + 1))
    assert "HTTP 403: API rate limit exceeded for installation." in result.stderr
    assert f"allows the next request at {expected} UTC" in result.stderr


def test_pr_rate_limit_waits_add_up_to_patience(
    bot_repository: BotRepository, waits: list[float]
) -> None:
    limited = (429, "Too many requests", {"Retry-After": "100"})
    bot_repository.fake.limit_next = [limited, limited]

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert waits == [100.0]
    assert "run cio-fix again after that" in result.stderr


def test_pr_secondary_limit_waits_double(
    bot_repository: BotRepository, waits: list[float]
) -> None:
    limited = (403, "You have exceeded a secondary rate limit.", {})
    bot_repository.fake.limit_next = [limited, limited]

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert waits == [60.0, 120.0]
    assert len(bot_repository.fake.pulls) == 1


def test_pr_retry_after_zero_bounded(
    bot_repository: BotRepository, waits: list[float]
) -> None:
    limited = (429, "Too many requests", {"Retry-After": "0"})
    bot_repository.fake.limit_next = [limited] * 300

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert len(waits) == 10
    assert set(waits) == {1.0}
    assert "still rejected the request after 10 retries" in result.stderr


def test_pr_retry_after_http_date_waited(
    bot_repository: BotRepository, waits: list[float]
) -> None:
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    bot_repository.fake.limit_next = [(429, "Too many requests", {"Retry-After": when})]

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert len(waits) == 1
    assert 110 <= waits[0] <= 125


def test_pr_retry_after_far_date_fails_at_once(
    bot_repository: BotRepository, waits: list[float]
) -> None:
    when = time.time() + 3600
    header = email.utils.formatdate(when, usegmt=True)
    bot_repository.fake.limit_next = [
        (429, "Too many requests", {"Retry-After": header})
    ]

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert waits == []
    expected = time.strftime("%H:%M", time.gmtime(when))
    assert f"allows the next request at {expected} UTC" in result.stderr


def test_pr_past_reset_waits_one_second(
    bot_repository: BotRepository, waits: list[float]
) -> None:
    reset = str(int(time.time()) - 50)
    bot_repository.fake.limit_next = [
        (
            403,
            "API rate limit exceeded for installation.",
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
        )
    ]

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert waits == [1.0]


def test_pr_unnamed_wait_after_named_not_doubled(
    bot_repository: BotRepository, waits: list[float]
) -> None:
    bot_repository.fake.limit_next = [
        (429, "Too many requests", {"Retry-After": "5"}),
        (403, "You have exceeded a secondary rate limit.", {}),
    ]

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert waits == [5.0, 60.0]


def test_pr_unnamed_waits_exhaust_patience(
    bot_repository: BotRepository, waits: list[float]
) -> None:
    limited = (403, "You have exceeded a secondary rate limit.", {})
    bot_repository.fake.limit_next = [limited] * 3

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert waits == [60.0, 120.0]
    assert "allows the next request at" not in result.stderr
    assert "still rejected the request after 2 retries over 180 seconds" in (
        result.stderr
    )


def test_pr_limited_create_after_push_recovers(
    bot_repository: BotRepository, waits: list[float]
) -> None:
    reset = str(int(time.time()) + 3600)
    limited = (
        403,
        "API rate limit exceeded for installation.",
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
    )
    fake = bot_repository.fake
    handle = fake.handle

    def limit_creation(method, target, headers, raw):  # type: ignore[no-untyped-def]
        if method == "POST" and target.endswith("/pulls"):
            fake.limit_next = [limited]
        return handle(method, target, headers, raw)

    fake.handle = limit_creation  # type: ignore[method-assign]
    first = run_pr(bot_repository)
    pushed = bot_repository.remote_commit("cio-fix/pitfalls")
    fake.handle = handle  # type: ignore[method-assign]
    second = run_pr(bot_repository)

    assert first.exit_code == 2
    assert "POST /repos/owner/repo/pulls failed: HTTP 403" in first.stderr
    assert second.exit_code == 0, second.stderr
    assert bot_repository.remote_commit("cio-fix/pitfalls") == pushed
    assert [pull["state"] for pull in fake.pulls.values()] == ["open"]


def test_pr_forbidden_without_rate_limit_not_retried(
    bot_repository: BotRepository, waits: list[float]
) -> None:
    bot_repository.fake.limit_next = [(403, "Must have admin rights", {})]

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert waits == []
    assert "HTTP 403: Must have admin rights" in result.stderr


def test_pr_api_redirect_to_other_host_rejected(
    bot_repository: BotRepository, other_host: OtherHost
) -> None:
    bot_repository.fake.redirect_next = (302, f"{other_host.url}/sso/login?next=1")

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert other_host.requests == []
    assert f"redirected to {other_host.url}/sso/login" in result.stderr
    assert "next=1" not in result.stderr
    assert TOKEN not in result.stderr


def test_pr_api_redirect_same_host_followed(bot_repository: BotRepository) -> None:
    # GitHub redirects requests for a renamed repository to its own host.
    bot_repository.fake.redirect_next = (
        301,
        f"{bot_repository.fake.url}/repos/owner/repo",
    )

    result = run_pr(bot_repository)

    assert result.exit_code == 0, result.stderr
    assert bot_repository.fake.problems == []
    assert len(bot_repository.fake.pulls) == 1


def test_pr_unreachable_api_is_error(
    bot_repository: BotRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "cannot reach http://127.0.0.1:9" in result.stderr


def test_pr_rejected_push_is_error(bot_repository: BotRepository) -> None:
    hook = bot_repository.bare / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\necho 'protected by policy' >&2\nexit 1\n", encoding="utf-8"
    )
    hook.chmod(0o755)

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert "the push of cio-fix/pitfalls was rejected" in result.stderr
    assert bot_repository.fake.pulls == {}


def test_pr_rejected_push_error_is_one_line(bot_repository: BotRepository) -> None:
    hook = bot_repository.bare / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\necho 'protected by policy' >&2\necho 'ask the owners' >&2\n"
        "exit 1\n",
        encoding="utf-8",
    )
    hook.chmod(0o755)

    result = run_pr(bot_repository)

    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        "cio-fix: error: the push of cio-fix/pitfalls was rejected: protected by"
        " policy; ask the owners; [remote rejected] (pre-receive hook declined);"
        " if someone else pushed"
    )
    assert "failed to push some refs" not in result.stderr


def test_pr_lease_protects_foreign_push(
    bot_repository: BotRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cio_fix.pr.git import Git

    run_pr(bot_repository)
    bot_repository.commit({"orders.py": ORDERS_WITH_CLIENT}, "Add order events")
    foreign = bot_repository.remote_commit("main")
    original_push = Git.push_branch

    def push_after_someone_else(self, remote, commit, branch, expected):
        # Someone else pushes to the bot branch after the bot fetched it.
        git(
            bot_repository.work,
            "push",
            "--quiet",
            "--force",
            "origin",
            f"{foreign}:refs/heads/{branch}",
        )
        original_push(self, remote, commit, branch, expected)

    monkeypatch.setattr(Git, "push_branch", push_after_someone_else)

    result = run_pr(bot_repository)

    assert result.exit_code == 2
    assert (
        "the push of cio-fix/pitfalls was rejected: [rejected] (stale info);"
        in result.stderr
    )
    assert bot_repository.remote_commit("cio-fix/pitfalls") == foreign


def test_pr_with_body_file_writes_same_body(
    bot_repository: BotRepository, tmp_path: Path
) -> None:
    body_file = tmp_path / "description.md"

    result = run_pr(bot_repository, "--pr-body", str(body_file))

    assert result.exit_code == 0, result.stderr
    assert body_file.read_text(encoding="utf-8") == bot_repository.fake.pulls[1]["body"]


def test_pr_needs_apply(bot_repository: BotRepository) -> None:
    result = run_cli(["--pr"], bot_repository.work)

    assert result.exit_code == 2
    assert "--pr and --pr-body need --apply" in result.stderr


def test_pr_fresh_shallow_clone_after_base_moved(
    bot_repository: BotRepository, tmp_path: Path
) -> None:
    # actions/checkout makes a --depth 1 clone for every run, in which the
    # base commit has no parents.
    def shallow_clone(name: str) -> Path:
        clone = tmp_path / name
        git(
            tmp_path,
            "clone",
            "--quiet",
            "--depth",
            "1",
            REMOTE_URL,
            str(clone),
            "-c",
            f"url.file://{bot_repository.bare.as_posix()}.insteadOf={REMOTE_URL}",
        )
        return clone

    bot_repository.commit({"notes.md": "one\n"}, "History one")
    first = run_cli(["--apply", "--pr"], shallow_clone("run1"))
    bot_repository.commit({"notes.md": "two\n"}, "History two")

    second = run_cli(["--apply", "--pr"], shallow_clone("run2"))

    assert first.exit_code == 0, first.stderr
    assert second.exit_code == 0, second.stderr
    assert "did not make" not in second.stderr
    assert [pull["state"] for pull in bot_repository.fake.pulls.values()] == ["open"]
    assert len(bot_repository.branch_subjects()) == 2
