"""The pull request description: sections, masking, links and GitHub's length limit."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from cio_fix.model import FileError, Finding, Fix, FixSafety
from cio_fix.pr.body import (
    BODY_LIMIT,
    BodyContext,
    has_marker,
    keep_ticked_items,
    marked_fixes,
    renamed_by_person,
    render_body,
    title_line,
    why_it_matters,
    without_fixes_line,
)
from cio_fix.pr.changes import Outcome, RuleChange
from cio_fix.pr.publish import _message_text_from_top
from cio_fix.report import mask_credential_shapes
from cio_fix.rules import _REGISTRY, Rule

from conftest import run_cli

SECRET = "3f9a0c1d2e4b7a8c"


def finding(
    code: str,
    path: str,
    line: int,
    message: str,
    secrets: tuple[str, ...] = (),
    fix: Fix | None = None,
) -> Finding:
    return Finding(
        code=code,
        name="rule-name",
        message=message,
        path=Path(path),
        line=line,
        column=1,
        end_line=line,
        end_column=2,
        fix=fix,
        secrets=secrets,
    )


def change(
    code: str, path: str, diff: list[str], findings: list[Finding]
) -> RuleChange:
    return RuleChange(
        code=code,
        findings=findings,
        diffs=[(path, [f"--- a/{path}", f"+++ b/{path}", *diff])],
    )


def context(
    link=lambda path, line: f"https://github.invalid/o/r/blob/abc/{path}#L{line}"
) -> BodyContext:
    return BodyContext(
        version="9.9.9",
        command="cio-fix --apply --pr",
        branch="cio-fix/pitfalls",
        link=link,
    )


def credential_change() -> RuleChange:
    return change(
        "CIO101",
        "app/settings.py",
        [
            "@@ -1,2 +1,3 @@",
            "+import os",
            f'-SITE_ID = "{SECRET}"',
            '+SITE_ID = os.environ["CUSTOMERIO_SITE_ID"]',
        ],
        [
            finding(
                "CIO101",
                "app/settings.py",
                2,
                f"site ID is hard-coded ({SECRET})",
                secrets=(SECRET,),
            )
        ],
    )


def test_body_starts_with_hidden_marker() -> None:
    body = render_body(
        Outcome(changes=[credential_change()], secrets={SECRET}), context()
    )

    assert (
        body.splitlines()[0] == "<!-- cio-fix:pull-request branch=cio-fix/pitfalls -->"
    )
    assert has_marker(body)


def test_body_fixes_line_after_marker() -> None:
    body = render_body(
        Outcome(changes=[credential_change()], secrets={SECRET}),
        replace(context(), fixes=("0123456789ab", "ba9876543210")),
    )

    lines = body.splitlines()
    assert lines[0].startswith("<!-- cio-fix:pull-request")
    assert lines[1] == "<!-- cio-fix:fixes 0123456789ab,ba9876543210 -->"
    assert marked_fixes(body) == {"0123456789ab", "ba9876543210"}


def test_body_without_fixes_line() -> None:
    body = render_body(
        Outcome(changes=[credential_change()], secrets={SECRET}),
        replace(context(), fixes=("0123456789ab",)),
    )

    stripped = without_fixes_line(body)

    assert marked_fixes(stripped) == frozenset()
    assert has_marker(stripped)
    assert "cio-fix:fixes" not in stripped


# Keys that no finding reported: in a commented-out line and a docstring.
UNREPORTED_SITE_ID = "5e6f7a8b9c0d1e2f"
UNREPORTED_TRACK_KEY = "9f8e7d6c5b4a3f2e1d0c"
UNREPORTED_APP_KEY = "d3b07384d113edec49eaa6238ad5ff00"
UNREPORTED_WRITE_KEY = "Xy9kQ2mN8pL4vR7tZ1wB3cD6"


def unreported_keys_change() -> RuleChange:
    return change(
        "CIO103",
        "app/tracking.py",
        [
            "@@ -1,6 +1,6 @@",
            f' """Staging: site id {UNREPORTED_SITE_ID}, app key {UNREPORTED_APP_KEY}."""',
            f' # cio = CustomerIO("{UNREPORTED_SITE_ID}", "{UNREPORTED_TRACK_KEY}")',
            f" # write key: {UNREPORTED_WRITE_KEY}",
            "-cio.identify(id=1, created_at=int(time.time() * 1000))",
            "+cio.identify(id=1, created_at=int(time.time()))",
        ],
        [finding("CIO103", "app/tracking.py", 5, "`created_at` is in milliseconds")],
    )


def test_body_masks_unreported_keys() -> None:
    body = render_body(Outcome(changes=[unreported_keys_change()]), context())

    for key in (
        UNREPORTED_SITE_ID,
        UNREPORTED_TRACK_KEY,
        UNREPORTED_APP_KEY,
        UNREPORTED_WRITE_KEY,
    ):
        assert key not in body, key
        assert f"{key[:4]}****" in body, key


# Lines of ordinary code whose long tokens are not keys.
ORDINARY_LINES = [
    'EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"',
    'REQUEST_ID = "123e4567-e89b-12d3-a456-426614174000"',
    "MASK = 0xFFFFFFFFFFFFFFFF",
    "NANOSECONDS = 1700000000000000000",
    "created_at=1700000000000",
    'cio.track(customer_id=user.id, name="order_completed_v2")',
    "def test_signup_sends_seconds_20240101():",
    "executor = ThreadPoolExecutor(max_workers=8)",
    "CUSTOMERIO_TRACK_API_KEY_FOR_STAGING_2024",
    "SHA256 = 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "ENCODING = base64url",
]


def test_body_keeps_ordinary_code() -> None:
    diff = ["@@ -1,11 +1,12 @@", "+import os"]
    diff += [f" {line}" for line in ORDINARY_LINES]
    ordinary = change(
        "CIO101",
        "app/settings.py",
        diff,
        [finding("CIO101", "app/settings.py", 1, "key is hard-coded")],
    )
    head = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

    left = finding("CIO203", "app/settings.py", 3, "anonymous events are not merged")

    body = render_body(
        Outcome(changes=[ordinary], remaining=[left]),
        context(
            link=lambda path, line: f"https://github.invalid/o/r/blob/{head}/{path}#L{line}"
        ),
    )

    for line in ORDINARY_LINES:
        assert line in body, line
    assert f"/blob/{head}/app/settings.py#L3" in body


def test_body_lists_files_not_checked() -> None:
    outcome = Outcome(
        changes=[credential_change()],
        secrets={SECRET},
        errors=[FileError(Path("legacy/old.py"), "invalid Python 3 syntax at line 2")],
    )

    body = render_body(outcome, context())

    assert "## Not checked" in body
    assert "- `legacy/old.py`: invalid Python 3 syntax at line 2" in body


# A file name whose line feed would start a ticked task item in the body.
SPOOFING_NAME = "app/a\n- [x] spoofed.py"
QUOTED_SPOOFING_NAME = '"app/a\\n- [x] spoofed.py"'


def test_body_quotes_path_with_line_feed() -> None:
    fixed = change(
        "CIO103",
        SPOOFING_NAME,
        ["@@ -1 +1 @@", "-t = x * 1000", "+t = x"],
        [finding("CIO103", SPOOFING_NAME, 1, "`created_at` is in milliseconds")],
    )
    left = finding("CIO103", SPOOFING_NAME, 4, "`created_at` is in milliseconds")
    outcome = Outcome(
        changes=[fixed],
        remaining=[left],
        errors=[FileError(Path(SPOOFING_NAME), "invalid Python 3 syntax")],
    )

    body = render_body(outcome, context(link=lambda path, line: None))

    assert "- [x] spoofed.py" not in body.splitlines()
    assert f"- `{QUOTED_SPOOFING_NAME}:1` `created_at`" in body
    assert f"- [ ] `{QUOTED_SPOOFING_NAME}:4` `CIO103`" in body
    assert f"- `{QUOTED_SPOOFING_NAME}`: invalid Python 3 syntax" in body
    assert f"`{QUOTED_SPOOFING_NAME}`:\n\n```diff" in body


def test_pr_body_option_exit_zero_unparseable_file(project) -> None:
    # Without --pr, --exit-zero still turns a file error into 0.
    root = project({"app.py": APP, "old.py": "import customerio\nprint 'Python 2'\n"})

    result = run_cli(["--apply", "--exit-zero", "--pr-body", "out/body.md"], root)

    assert result.exit_code == 0
    body = (root / "out" / "body.md").read_text(encoding="utf-8")
    assert "- `old.py`:" in body


def test_body_summary_table_row() -> None:
    body = render_body(
        Outcome(changes=[credential_change()], secrets={SECRET}), context()
    )

    assert "| Rule | What it fixes | Files | Findings fixed |" in body
    assert re.search(
        r"^\| `CIO101` hardcoded-credential \| .+ \| 1 \| 1 \|$", body, re.MULTILINE
    )


def test_body_masks_secrets_everywhere() -> None:
    body = render_body(
        Outcome(changes=[credential_change()], secrets={SECRET}), context()
    )

    assert SECRET not in body
    assert "3f9a****" in body


def test_body_reviewer_sets_new_variables() -> None:
    body = render_body(
        Outcome(changes=[credential_change()], secrets={SECRET}), context()
    )

    assert "- [ ] Set `CUSTOMERIO_SITE_ID` in every environment" in body


def test_body_reviewer_rotates_keys() -> None:
    body = render_body(
        Outcome(changes=[credential_change()], secrets={SECRET}), context()
    )

    assert (
        "- [ ] Rotate the keys that were hard-coded, `3f9a****` (`app/settings.py:2`)"
        in body
    )


def test_body_reviewer_renamed_events() -> None:
    renamed = change(
        "CIO303",
        "app/events.py",
        ["@@ -1 +1 @@", '-"UserSignedUp"', '+"user_signed_up"'],
        [],
    )

    body = render_body(Outcome(changes=[renamed]), context())

    assert "`CIO303`: Update the campaigns and segments" in body


def test_body_reviewer_merge_customers() -> None:
    ids = change(
        "CIO202", "app/users.py", ["@@ -1 +1 @@", "-id=user.email", "+id=user.id"], []
    )

    body = render_body(Outcome(changes=[ids]), context())

    assert "`merge_customers`" in body


def test_body_unsafe_rule_needs_close_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    class UnsafeStandIn(Rule):
        """What it does:
        Stands in for any rule.

        Why is this bad?
        Because a test says so.

        Fix safety:
        Unsafe.
        """

        name = "unsafe-stand-in"
        summary = "a stand-in with an unsafe fix"
        fix_safety = FixSafety.UNSAFE

    UnsafeStandIn.code = "CIO603"
    monkeypatch.setitem(_REGISTRY, "CIO603", UnsafeStandIn)
    throttled = change("CIO603", "app/bulk.py", ["@@ -1 +1,2 @@", "+_throttle()"], [])

    body = render_body(Outcome(changes=[throttled]), context())

    assert "`CIO603`: read its diff closely" in body
    assert "**Why it matters.** Because a test says so." in body
    assert (
        "| `CIO603` unsafe-stand-in | a stand-in with an unsafe fix | 1 | 0 |" in body
    )


def test_body_unknown_rule_code_still_renders() -> None:
    unknown = change(
        "CIO999",
        "app/x.py",
        ["@@ -1 +1 @@", "-a", "+b"],
        [finding("CIO999", "app/x.py", 1, "message")],
    )

    body = render_body(Outcome(changes=[unknown]), context())

    assert "## `CIO999`" in body
    assert "- `app/x.py:1` message" in body


def test_body_nothing_for_reviewer() -> None:
    plain = change("CIO103", "app/x.py", ["@@ -1 +1 @@", "-a", "+b"], [])

    body = render_body(Outcome(changes=[plain]), context())

    assert "Nothing beyond reading the diff" in body


def test_body_rule_section_why_and_diff() -> None:
    body = render_body(
        Outcome(changes=[credential_change()], secrets={SECRET}), context()
    )

    assert "## `CIO101` hardcoded-credential" in body
    assert "**Why it matters.** Anyone who can read the repository" in body
    assert "```diff\n@@ -1,2 +1,3 @@\n+import os" in body


def test_body_diff_excerpts_limited() -> None:
    hunks = []
    for number in range(5):
        hunks += [f"@@ -{number} +{number} @@", "-a", "+b"]
    many = change("CIO103", "app/x.py", hunks, [])

    body = render_body(Outcome(changes=[many]), context())

    assert body.count("```diff") == 3
    assert "2 more changes of this rule are in its commit." in body


def test_body_fence_longer_than_backticks_in_diff() -> None:
    ticks = change(
        "CIO103", "app/x.py", ["@@ -1 +1 @@", '-s = "```"', '+s = "````"'], []
    )

    body = render_body(Outcome(changes=[ticks]), context())

    assert "`````diff" in body


def test_body_unfixed_checklist_links_head_commit() -> None:
    remaining = [
        finding("CIO203", "app/views.py", 14, "anonymous activity never merged")
    ]

    body = render_body(
        Outcome(changes=[credential_change()], remaining=remaining, secrets={SECRET}),
        context(),
    )

    assert (
        "- [ ] [`app/views.py:14`](https://github.invalid/o/r/blob/abc/app/views.py#L14)"
        " `CIO203` anonymous activity never merged"
    ) in body


def test_body_unfixed_without_link() -> None:
    remaining = [
        finding("CIO203", "app/views.py", 14, "anonymous activity never merged")
    ]

    body = render_body(
        Outcome(remaining=remaining), context(link=lambda path, line: None)
    )

    assert "- [ ] `app/views.py:14` `CIO203` anonymous activity never merged" in body


def test_body_unfixed_unsafe_fix_noted() -> None:
    remaining = [
        finding("CIO202", "app/u.py", 3, "email as id", fix=Fix(FixSafety.UNSAFE))
    ]

    body = render_body(Outcome(remaining=remaining), context())

    assert "(an unsafe fix is available with `--unsafe-fixes`)" in body


def test_body_unfixed_unsafe_note_inside_full_stop() -> None:
    remaining = [
        finding(
            "CIO202",
            "app/u.py",
            3,
            "The customer id is an email address. Use `user.id`.",
            fix=Fix(FixSafety.UNSAFE),
        )
    ]

    body = render_body(Outcome(remaining=remaining), context())

    assert "Use `user.id` (an unsafe fix is available with `--unsafe-fixes`)." in body
    assert "`user.id`. (an unsafe fix" not in body


def test_body_footer_version_and_command() -> None:
    body = render_body(
        Outcome(changes=[credential_change()], secrets={SECRET}), context()
    )

    assert body.endswith("Generated by cio-fix 9.9.9 with `cio-fix --apply --pr`.")


def huge_outcome() -> Outcome:
    changes = []
    for index in range(40):
        lines = []
        for hunk in range(3):
            lines.append(f"@@ -{hunk} +{hunk} @@")
            lines += [
                f'-    cio.track(customer_id=user_{index}, name="event_{line}")'
                for line in range(30)
            ]
        findings = [
            finding("CIO103", f"app/module_{index}.py", line, "x" * 200)
            for line in range(20)
        ]
        changes.append(change("CIO103", f"app/module_{index}.py", lines, findings))
    remaining = [
        finding("CIO203", f"app/other_{index}.py", index, "y" * 150)
        for index in range(300)
    ]
    return Outcome(changes=changes, remaining=remaining)


def test_body_within_github_limit() -> None:
    body = render_body(huge_outcome(), context())

    assert len(body) <= BODY_LIMIT


def test_body_truncation_note_and_footer_kept() -> None:
    body = render_body(huge_outcome(), context())

    assert "The description is cut here" in body
    assert "`cio-fix --dry-run` on the branch `cio-fix/pitfalls`" in body
    assert body.endswith("with `cio-fix --apply --pr`.")
    assert has_marker(body)


def test_body_truncation_closes_code_block() -> None:
    for limit in range(3_000, 9_000, 97):
        body = render_body(huge_outcome(), context(), limit=limit)

        fences = [line for line in body.splitlines() if line.startswith("```")]
        assert len(body) <= limit
        assert len(fences) % 2 == 0, limit


def test_body_short_body_not_truncated() -> None:
    body = render_body(
        Outcome(changes=[credential_change()], secrets={SECRET}), context()
    )

    assert "The description is cut here" not in body


def test_why_it_matters_reads_section() -> None:
    documentation = "What it does:\nFinds x.\n\nWhy is this bad?\nFirst line\nsecond line.\n\nExample:\n    x()\n"

    assert why_it_matters(documentation) == "First line second line."


def test_why_it_matters_missing_section() -> None:
    assert why_it_matters("What it does:\nFinds x.\n") == ""


APP = """import time

from customerio import CustomerIO

cio = CustomerIO("3f9a0c1d2e4b7a8c", "0a1b2c3d4e5f6a7b")


def signup(user):
    cio.identify(id=user.id, email=user.email, created_at=int(time.time() * 1000))


def bounced(customer_id):
    cio.suppress(customer_id)
"""


def test_pr_body_option_writes_description(project) -> None:
    root = project({"app.py": APP})

    result = run_cli(["--apply", "--pr-body", "out/body.md", "app.py"], root)

    body = (root / "out" / "body.md").read_text(encoding="utf-8")
    assert result.exit_code == 0, result.stderr
    assert "## `CIO101` hardcoded-credential" in body
    assert "## `CIO103` millisecond-timestamp" in body
    assert SECRET not in body
    assert "with `cio-fix --apply --pr-body out/body.md app.py`" in body
    assert "Each rule has its own commit" not in body


def test_pr_body_names_rule_options(project) -> None:
    root = project({"app.py": APP})
    options = ["--select", "CIO1", "--extend-select", "CIO5", "--ignore", "CIO101"]

    run_cli(["--apply", *options, "--pr-body", "body.md", "app.py"], root)

    body = (root / "body.md").read_text(encoding="utf-8")
    assert (
        "with `cio-fix --apply --select CIO1 --extend-select CIO5 --ignore CIO101"
        " --pr-body body.md app.py`"
    ) in body


def test_pr_body_option_applies_fixes_in_place(project) -> None:
    root = project({"app.py": APP})

    run_cli(["--apply", "--pr-body", "body.md", "app.py"], root)

    fixed = (root / "app.py").read_text(encoding="utf-8")
    assert 'os.environ["CUSTOMERIO_SITE_ID"]' in fixed
    assert "created_at=int(time.time())" in fixed


def test_pr_body_option_needs_no_token_or_git(
    project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")
    root = project({"app.py": APP})

    result = run_cli(["--apply", "--pr-body", "body.md", "app.py"], root)

    assert result.exit_code == 0, result.stderr
    assert (root / "body.md").is_file()


def test_pr_body_option_needs_apply(project) -> None:
    root = project({"app.py": APP})

    result = run_cli(["--pr-body", "body.md"], root)

    assert result.exit_code == 2
    assert not (root / "body.md").exists()


def test_body_shared_action_listed_once() -> None:
    dynamic = change(
        "CIO301", "app/a.py", ["@@ -1 +1 @@", '-f"viewed_{x}"', '+"viewed"'], []
    )
    personal = change(
        "CIO302", "app/b.py", ["@@ -1 +1 @@", '-f"{email}"', '+"signed_up"'], []
    )

    body = render_body(Outcome(changes=[dynamic, personal]), context())

    assert "- [ ] `CIO301`, `CIO302`: Update the campaigns" in body
    assert body.count("Update the campaigns, segments and reports") == 1


def test_ticked_item_kept_when_link_moves() -> None:
    previous = (
        "- [x] [`app.py:3`](https://github.invalid/o/r/blob/1111111/app.py#L3)"
        " `CIO303` an event name\n"
        "- [ ] Check the throttle rate."
    )
    body = (
        "- [ ] [`app.py:3`](https://github.invalid/o/r/blob/2222222/app.py#L3)"
        " `CIO303` an event name\n"
        "- [ ] Check the throttle rate.\n"
        "- [ ] [`app.py:9`](https://github.invalid/o/r/blob/2222222/app.py#L9)"
        " `CIO303` an event name"
    )

    ticked = keep_ticked_items(body, previous)

    lines = ticked.splitlines()
    assert lines[0].startswith(
        "- [x] [`app.py:3`](https://github.invalid/o/r/blob/2222222/"
    )
    assert lines[1] == "- [ ] Check the throttle rate."
    assert lines[2].startswith("- [ ] [`app.py:9`]")


def test_title_line_survives_key_masking() -> None:
    line = title_line("Fix Customer.io integration pitfalls")

    assert mask_credential_shapes(line) == line
    assert not renamed_by_person(line, "Fix Customer.io integration pitfalls")
    assert renamed_by_person(line, "Customer.io fixes")
    assert not renamed_by_person("no hidden line", "Customer.io fixes")


def test_ticked_item_kept_when_line_number_moves() -> None:
    previous = "- [x] [`app.py:3`](https://h/blob/1/app.py#L3) `CIO303` an event name"
    body = "- [ ] [`app.py:4`](https://h/blob/2/app.py#L4) `CIO303` an event name"

    assert keep_ticked_items(body, previous).startswith("- [x] [`app.py:4`]")


def test_ticked_item_not_guessed_among_twins() -> None:
    previous = (
        "- [x] [`app.py:3`](https://h/blob/1/app.py#L3) `CIO303` an event name\n"
        "- [ ] [`app.py:8`](https://h/blob/1/app.py#L8) `CIO303` an event name"
    )
    body = (
        "- [ ] [`app.py:4`](https://h/blob/2/app.py#L4) `CIO303` an event name\n"
        "- [ ] [`app.py:9`](https://h/blob/2/app.py#L9) `CIO303` an event name"
    )

    assert keep_ticked_items(body, previous) == body


SERVICE_APP = """import time

from customerio import CustomerIO

cio = CustomerIO(os.environ["SITE_ID"], os.environ["API_KEY"])


def signup(user):
    cio.identify(id=user.id, email=user.email, created_at=int(time.time() * 1000))
    cio.track(customer_id=user.id, name="signed_up", plan="pro")
"""
# Both customerio 2.x and 3.x, so the track's keyword attribute stays unfixed.
SDK_2_OR_3 = '[project]\nname = "shop"\ndependencies = ["customerio>=2,<4"]\n'


def test_pr_body_in_subfolder_names_paths_from_top(project) -> None:
    root = project(
        {
            "pyproject.toml": SDK_2_OR_3,
            "services/alpha/app.py": "import os\n" + SERVICE_APP,
        }
    )
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *command],
            cwd=root,
            check=True,
        )
    folder = root / "services" / "alpha"

    result = run_cli(["--apply", "--pr-body", "body.md", "."], folder)

    body = (folder / "body.md").read_text(encoding="utf-8")
    assert result.exit_code == 1, result.stderr
    assert re.search(r"^- `services/alpha/app\.py:\d+` `created_at`", body, re.M)
    assert "`services/alpha/app.py`:\n\n```diff" in body
    assert re.search(r"^- \[ \] `services/alpha/app\.py:\d+` `CIO701`", body, re.M)
    assert "(not fixed: pyproject.toml allows customerio 2.x or 3.x)" in body
    assert root.resolve().as_posix() not in body
    assert not re.search(r"`app\.py", body)
    assert body.endswith(
        "with `cd services/alpha && cio-fix --apply --pr-body body.md .`."
    )


def test_message_text_from_top_whole_paths() -> None:
    rename = _message_text_from_top(Path("/ci/repo"))

    assert rename("see /ci/repo/svc/pyproject.toml") == "see svc/pyproject.toml"
    assert rename("(/ci/repo/a.txt)") == "(a.txt)"
    assert rename("/other/ci/repo/a.txt") == "/other/ci/repo/a.txt"
    assert rename("/ci/repository/a.txt") == "/ci/repository/a.txt"
