"""The pull request description: what changed, why, and what the reviewer must do."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cio_fix.model import Finding, FixSafety, mask_secret, with_note
from cio_fix.pr.changes import Outcome, RuleChange
from cio_fix.report import quoted_path

# GitHub rejects a pull request body longer than this many characters.
BODY_LIMIT = 65_536
# The hidden line that marks the bot's own pull request.
MARKER_PREFIX = "<!-- cio-fix:pull-request"
# The hidden line after it that lists the fingerprints of the fixed findings,
# so that a later run can tell whether a closed pull request had its fixes.
FIXES_PREFIX = "<!-- cio-fix:fixes "
_FIXES_LINE = re.compile(r"^<!-- cio-fix:fixes (?P<fixes>[0-9a-f,]*) -->\n?", re.M)
# The hidden line with a fingerprint of the title that cio-fix gives the pull
# request, so that a later run can tell whether a person renamed it.
TITLE_PREFIX = "<!-- cio-fix:title "
_TITLE_LINE = re.compile(r"^<!-- cio-fix:title (?P<digest>[0-9a-f]+) -->\r?$", re.M)
# A task list item of the description: `- [ ] text` or `- [x] text`. A
# description saved in GitHub's web editor comes back with CRLF line ends.
_TASK_ITEM = re.compile(r"^- \[(?P<mark>[ xX])\] (?P<text>[^\r\n]*)", re.M)
# The target of a Markdown link, which names the head commit of its run.
_LINK_TARGET = re.compile(r"\]\([^)\s]*\)")
# The line number of a `path:line` location, which moves with the code above it.
# A quoted path keeps its closing quote before the line number.
_LINE_OF_LOCATION = re.compile(r'(?<=\.py)"?:\d+')
# Diff excerpts per rule, and lines per excerpt.
MAX_HUNKS_PER_RULE = 3
MAX_HUNK_LINES = 30

# Reviewer actions outside the code, by rule code, to do before merging.
# Environment variables and keys to rotate are found in the changes
# themselves; see `_reviewer_actions`.
REVIEWER_ACTIONS = {
    "CIO102": "Check that the App API key variable is set wherever the App API client runs.",
    "CIO202": (
        "Existing profiles were created with the e-mail address as their id: merge them"
        " into the new ids with `merge_customers` when the change is deployed."
    ),
    "CIO301": (
        "Update the campaigns, segments and reports that use the old event names: events"
        " now arrive under the new names."
    ),
    "CIO302": (
        "Update the campaigns, segments and reports that use the old event names: events"
        " now arrive under the new names."
    ),
    "CIO303": (
        "Update the campaigns and segments that are triggered by the old event names"
        " before deploying: events now arrive under the new names."
    ),
    "CIO304": (
        "Track API calls now run in a background thread: their failures are logged,"
        " no longer raised in the request."
    ),
    "CIO603": "Check that the throttle rate suits the rate limit of your workspace.",
}

_ENVIRONMENT_READ = re.compile(
    r"""os\.(?:environ\[\s*|environ\.get\(\s*|getenv\(\s*)["']([A-Za-z_][A-Za-z0-9_]*)["']"""
)
_WHY_HEADING = "Why is this bad?"
_HEADINGS = (
    "What it does:",
    "Why is this bad?",
    "Example:",
    "Use instead:",
    "Fix safety:",
)


# `link(path, line)` returns the URL of a line at the head commit, or None
# where there is no commit to link to (`--pr-body` alone).
LineLink = Callable[[str, int], "str | None"]
# `link_at(commit, path, line)` returns the URL of a line at a commit, or None.
CommitLineLink = Callable[[str, str, int], "str | None"]
# `path_name(path)` returns the name that the description gives a file, which
# findings and diffs name relative to the working directory.
PathName = Callable[[str], str]


def _name_as_given(path: str) -> str:
    return path


@dataclass(frozen=True)
class BodyContext:
    """The origin of a description: cio-fix version, command, branch and line links."""

    version: str
    command: str
    branch: str
    link: LineLink
    # False when another tool commits the changes (`--pr-body` alone).
    commit_per_rule: bool = True
    # Fingerprints of the fixed findings, for the hidden fixes line.
    fixes: tuple[str, ...] = ()
    # The title cio-fix gives the pull request, for the hidden title line.
    title: str | None = None
    # Links to the lines of the commit each rule's fixes were made on.
    link_at: CommitLineLink | None = None
    # A pull request names files relative to the top of the git work tree,
    # as GitHub shows them, whatever folder cio-fix ran in.
    # NOTE: the messages of findings that list other places (CIO203, CIO402,
    # CIO501, CIO502) keep those places relative to the working directory.
    path_name: PathName = _name_as_given
    # The function that renames the files that finding and error messages
    # name by absolute path on the runner to names from the top of the work tree.
    message_text: Callable[[str], str] = _name_as_given


def marker(branch: str) -> str:
    return f"{MARKER_PREFIX} branch={branch} -->"


def has_marker(body: str) -> bool:
    return MARKER_PREFIX in body


def fixes_line(fixes: tuple[str, ...]) -> str:
    return f"{FIXES_PREFIX}{','.join(fixes)} -->"


def marked_fixes(body: str) -> frozenset[str]:
    """Return the fingerprints in the hidden fixes line of `body`; none without the line."""
    match = _FIXES_LINE.search(body)
    if match is None:
        return frozenset()
    return frozenset(fix for fix in match.group("fixes").split(",") if fix)


def without_fixes_line(body: str) -> str:
    return _FIXES_LINE.sub("", body, count=1)


def _title_digest(title: str) -> str:
    # Twelve digits: a hexadecimal token of 16 or more would be masked as a key.
    return hashlib.sha256(title.encode("utf-8")).hexdigest()[:12]


def title_line(title: str) -> str:
    return f"{TITLE_PREFIX}{_title_digest(title)} -->"


def renamed_by_person(body: str, title: str) -> bool:
    """Tell whether `title` differs from the title that cio-fix recorded in `body`.

    A description without the hidden title line, written by an older
    cio-fix, counts as not renamed.
    """
    match = _TITLE_LINE.search(body)
    return match is not None and match.group("digest") != _title_digest(title)


def keep_ticked_items(body: str, previous: str) -> str:
    """Tick the task list items of `body` that a reviewer ticked in `previous`.

    Items are the same when their text is, apart from the targets of
    their links, which name each run's head commit. An item whose line
    numbers alone changed is the same too, when no other item of either
    description has that text without line numbers.
    """
    old = [
        (match.group("mark") in "xX", _item_key(match.group("text")))
        for match in _TASK_ITEM.finditer(previous)
    ]
    ticked = {key for is_ticked, key in old if is_ticked}
    if not ticked:
        return body
    new = [_item_key(match.group("text")) for match in _TASK_ITEM.finditer(body)]
    old_loose = Counter(_LINE_OF_LOCATION.sub("", key) for _, key in old)
    new_loose = Counter(_LINE_OF_LOCATION.sub("", key) for key in new)
    ticked_loose = {
        loose
        for loose in (_LINE_OF_LOCATION.sub("", key) for key in ticked)
        if old_loose[loose] == 1 and new_loose[loose] == 1
    }

    def tick(match: re.Match[str]) -> str:
        key = _item_key(match.group("text"))
        if key in ticked or _LINE_OF_LOCATION.sub("", key) in ticked_loose:
            return f"- [x] {match.group('text')}"
        return match.group(0)

    return _TASK_ITEM.sub(tick, body)


def _item_key(text: str) -> str:
    return _LINK_TARGET.sub("]", text)


def render_body(outcome: Outcome, context: BodyContext, limit: int = BODY_LIMIT) -> str:
    """Return the Markdown description, secrets masked, at most `limit` characters long."""
    introduction = _introduction(outcome, context.commit_per_rule)
    top = marker(context.branch)
    if context.fixes:
        top += "\n" + fixes_line(context.fixes)
    if context.title is not None:
        top += "\n" + title_line(context.title)
    head = "\n\n".join([top, introduction, _summary_table(outcome)])
    head += "\n\n" + _reviewer_section(outcome, context.path_name)
    unchecked = _unchecked_section(outcome, context.path_name, context.message_text)
    if unchecked:
        head += "\n\n" + unchecked
    sections = [
        _rule_section(change, context.link_at, context.path_name, context.message_text)
        for change in outcome.changes
    ]
    unfixed = _unfixed_section(
        outcome.remaining, context.link, context.path_name, context.message_text
    )
    footer = _footer(context)

    parts = [head, *sections]
    if unfixed:
        parts.append(unfixed)
    text = _redact("\n\n".join(parts), outcome.secrets)
    footer = _redact(footer, outcome.secrets)
    full = text + "\n\n" + footer
    if len(full) <= limit:
        return full
    return _truncate(text, footer, limit, context.branch)


def _introduction(outcome: Outcome, commit_per_rule: bool) -> str:
    fixed = sum(len(change.findings) for change in outcome.changes)
    files = {path for change in outcome.changes for path in change.files}
    text = (
        f"cio-fix fixed {_plural(fixed, 'Customer.io integration pitfall')}"
        f" in {_plural(len(files), 'file')}."
    )
    if commit_per_rule:
        text += " Each rule has its own commit, so a rule can be left out by dropping its commit."
    return text


def _summary_table(outcome: Outcome) -> str:
    rules = _rules()
    lines = [
        "| Rule | What it fixes | Files | Findings fixed |",
        "| --- | --- | ---: | ---: |",
    ]
    for change in outcome.changes:
        rule = rules.get(change.code)
        name = rule.name if rule else ""
        summary = rule.summary if rule else ""
        lines.append(
            f"| `{change.code}` {_cell(name)} | {_cell(summary)} | {len(change.files)}"
            f" | {len(change.findings)} |"
        )
    return "\n".join(lines)


def _reviewer_section(outcome: Outcome, path_name: PathName) -> str:
    actions = _reviewer_actions(outcome, path_name)
    lines = ["## Before merging", ""]
    if not actions:
        lines.append(
            "Nothing beyond reading the diff: the fixes need no change outside the code."
        )
        return "\n".join(lines)
    lines.extend(f"- [ ] {action}" for action in actions)
    return "\n".join(lines)


def _reviewer_actions(outcome: Outcome, path_name: PathName) -> list[str]:
    rules = _rules()
    actions = []
    variables = _new_environment_variables(outcome.changes)
    if variables:
        names = ", ".join(f"`{name}`" for name in variables)
        actions.append(
            f"Set {names} in every environment that runs this code (production, staging,"
            " CI, local `.env` files): the code now reads them and fails without them."
        )

    leaked = [
        (finding, secret)
        for change in outcome.changes
        for finding in change.findings
        for secret in finding.secrets
    ]
    if leaked:
        places = ", ".join(
            f"`{mask_secret(secret)}` (`{_location(finding, path_name)}`)"
            for finding, secret in leaked
        )
        actions.append(
            f"Rotate the keys that were hard-coded, {places}: they stay in the git history"
            " after this change."
        )

    # Rules that share an action (CIO301 and CIO302 both rename events) get one item.
    codes_by_action: dict[str, list[str]] = {}
    unsafe_codes = []
    for change in outcome.changes:
        action = REVIEWER_ACTIONS.get(change.code)
        if action:
            codes_by_action.setdefault(action, []).append(change.code)
        rule = rules.get(change.code)
        if rule is not None and rule.fix_safety is FixSafety.UNSAFE:
            unsafe_codes.append(change.code)
    for action, codes in codes_by_action.items():
        actions.append(f"{_code_list(codes)}: {action}")
    for code in unsafe_codes:
        actions.append(
            f"`{code}`: read its diff closely. Its fix is unsafe: it changes"
            " behaviour beyond the pitfall itself."
        )
    return actions


def _unchecked_section(
    outcome: Outcome, path_name: PathName, message_text: Callable[[str], str]
) -> str:
    """Return the list of files that could not be read or parsed, or ''."""
    if not outcome.errors:
        return ""
    lines = [
        "## Not checked",
        "",
        (
            "cio-fix could not read or parse these files, so they may still have"
            " pitfalls, hard-coded keys among them. Fix them and run cio-fix again:"
        ),
        "",
    ]
    for error in outcome.errors:
        name = quoted_path(path_name(error.path.as_posix()))
        lines.append(f"- `{name}`: {message_text(error.message)}")
    return "\n".join(lines)


def _code_list(codes: list[str]) -> str:
    return ", ".join(f"`{code}`" for code in codes)


def _new_environment_variables(changes: Iterable[RuleChange]) -> list[str]:
    """Return the environment variables that added lines read and removed lines did not."""
    added: list[str] = []
    removed: set[str] = set()
    for change in changes:
        for _, lines in change.diffs:
            for line in lines:
                if line.startswith(("+++", "---")):
                    continue
                names = _ENVIRONMENT_READ.findall(line)
                if line.startswith("+"):
                    added.extend(names)
                elif line.startswith("-"):
                    removed.update(names)
    ordered = []
    for name in added:
        if name not in removed and name not in ordered:
            ordered.append(name)
    return ordered


def _rule_section(
    change: RuleChange,
    link_at: CommitLineLink | None,
    path_name: PathName,
    message_text: Callable[[str], str],
) -> str:
    rule = _rules().get(change.code)
    title = f"## `{change.code}` {rule.name}" if rule else f"## `{change.code}`"
    lines = [title, ""]
    why = why_it_matters(rule.documentation()) if rule else ""
    if why:
        lines += [f"**Why it matters.** {why}", ""]
    lines.append(
        f"Fixed {_plural(len(change.findings), 'finding')} in {_plural(len(change.files), 'file')}:"
    )
    lines.append("")
    for finding in change.findings:
        location = _location(finding, path_name)
        url = None
        if link_at is not None and change.parent is not None:
            # The line as it was before this rule's commit changed it.
            url = link_at(change.parent, finding.path.as_posix(), finding.line)
        where = f"[`{location}`]({url})" if url else f"`{location}`"
        lines.append(f"- {where} {message_text(finding.message)}")
    excerpts = _diff_excerpts(change, path_name)
    if excerpts:
        lines += ["", "\n\n".join(excerpts)]
    return "\n".join(lines)


def why_it_matters(documentation: str) -> str:
    """Return the 'Why is this bad?' section of a rule's documentation as one paragraph."""
    collected: list[str] = []
    inside = False
    for line in documentation.splitlines():
        stripped = line.strip()
        if stripped.startswith(_WHY_HEADING):
            inside = True
            rest = stripped[len(_WHY_HEADING) :].strip()
            if rest:
                collected.append(rest)
            continue
        if inside and stripped.startswith(_HEADINGS):
            break
        if inside and stripped:
            collected.append(stripped)
    return " ".join(collected)


def _diff_excerpts(change: RuleChange, path_name: PathName) -> list[str]:
    """Return up to MAX_HUNKS_PER_RULE hunks of the rule's diff, each in a `diff` code block."""
    blocks: list[str] = []
    hunks_left = MAX_HUNKS_PER_RULE
    for path, lines in change.diffs:
        for hunk in _hunks(lines):
            if hunks_left == 0:
                break
            hunks_left -= 1
            shown = hunk[:MAX_HUNK_LINES]
            if len(hunk) > MAX_HUNK_LINES:
                shown.append(f"... {len(hunk) - MAX_HUNK_LINES} more lines")
            fence = _fence(shown)
            blocks.append(
                f"`{quoted_path(path_name(path))}`:\n\n{fence}diff\n"
                + "\n".join(shown)
                + f"\n{fence}"
            )
    hunk_count = sum(len(_hunks(lines)) for _, lines in change.diffs)
    if hunk_count > MAX_HUNKS_PER_RULE:
        blocks.append(
            f"{hunk_count - MAX_HUNKS_PER_RULE} more changes of this rule are in its commit."
        )
    return blocks


def _hunks(lines: list[str]) -> list[list[str]]:
    hunks: list[list[str]] = []
    for line in lines:
        if line.startswith("@@"):
            hunks.append([line])
        elif hunks:
            hunks[-1].append(line)
    return hunks


def _fence(lines: list[str]) -> str:
    """Return a backtick fence longer than any run of backticks in `lines`."""
    longest = 0
    for line in lines:
        for run in re.findall(r"`+", line):
            longest = max(longest, len(run))
    return "`" * max(3, longest + 1)


def _unfixed_section(
    findings: list[Finding],
    link: LineLink,
    path_name: PathName,
    message_text: Callable[[str], str],
) -> str:
    if not findings:
        return ""
    lines = [
        "## Not fixed",
        "",
        (
            "These findings have no automatic fix, or one that this run did not apply."
            " Fix them by hand, in this branch or later:"
        ),
        "",
    ]
    for finding in findings:
        location = _location(finding, path_name)
        url = link(finding.path.as_posix(), finding.line)
        where = f"[`{location}`]({url})" if url else f"`{location}`"
        message = message_text(finding.message)
        if finding.fix_safety is FixSafety.UNSAFE:
            message = with_note(
                message, "an unsafe fix is available with `--unsafe-fixes`"
            )
        lines.append(f"- [ ] {where} `{finding.code}` {message}")
    return "\n".join(lines)


def _location(finding: Finding, path_name: PathName) -> str:
    """Return `path:line`, the path quoted as git quotes a name with a line feed."""
    return f"{quoted_path(path_name(finding.path.as_posix()))}:{finding.line}"


def _footer(context: BodyContext) -> str:
    return f"---\n\nGenerated by cio-fix {context.version} with `{context.command}`."


def _truncate(text: str, footer: str, limit: int, branch: str) -> str:
    """Cut `text` at a line boundary so that it, a note and `footer` fit in `limit`."""
    budget = limit - len(_truncation_note(len(text), branch)) - len(footer) - 4
    while True:
        cut = text.rfind("\n", 0, budget)
        if cut <= 0:
            cut = max(budget, 0)
        kept = text[:cut] + _close_fence(text[:cut])
        note = _truncation_note(len(text) - cut, branch)
        body = f"{kept}\n\n{note}\n\n{footer}"
        if len(body) <= limit:
            return body
        # The closing fence did not fit: cut that much earlier.
        budget -= len(body) - limit


def _truncation_note(omitted: int, branch: str) -> str:
    return (
        f"> [!NOTE]\n> The description is cut here, {omitted:,} characters short of the whole,"
        f" because GitHub allows {BODY_LIMIT:,} characters. Every change is in the commits of"
        f" this pull request, and `cio-fix --dry-run` on the branch `{branch}` lists every"
        " finding that is left."
    )


def _close_fence(text: str) -> str:
    """Return the line that closes a code block left open in `text`, or ''."""
    open_fence = ""
    for line in text.splitlines():
        match = re.match(r"^(`{3,})", line)
        if not match:
            continue
        if not open_fence:
            open_fence = match.group(1)
        elif line.strip() == open_fence:
            open_fence = ""
    return f"\n{open_fence}" if open_fence else ""


def _redact(text: str, secrets: set[str]) -> str:
    from cio_fix.report import mask_credential_shapes, redact

    return mask_credential_shapes(redact(text, secrets))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _plural(count: int, word: str) -> str:
    return f"{count} {word if count == 1 else word + 's'}"


def _rules() -> dict:
    from cio_fix.rules import all_rules

    return all_rules()
