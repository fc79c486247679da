"""The text report: one line per finding, the diff, a summary line."""

from __future__ import annotations

import codecs

from rich.console import Console
from rich.control import strip_control_codes
from rich.text import Text

from cio_fix.model import Finding, FixSafety, RunResult
from cio_fix.report import (
    diff_encodings,
    plural,
    quoted_path,
    redact,
    unified_diffs,
)


def _would_apply(finding: Finding, unsafe_fixes: bool) -> bool:
    safety = finding.fix_safety
    return safety is FixSafety.SAFE or (safety is FixSafety.UNSAFE and unsafe_fixes)


def render_text(
    console: Console,
    errors: Console,
    result: RunResult,
    *,
    apply: bool,
    show_diff: bool,
    quiet: bool,
    unsafe_fixes: bool,
) -> None:
    # redact() looks its pattern up by a frozenset of the secrets, which is
    # free to build from a frozenset and costly from a large set.
    secrets = frozenset(result.secrets)
    for error in result.all_errors:
        errors.print(
            f"{quoted_path(error.path.as_posix())}: error:"
            f" {redact(error.message, secrets)}",
            style="red",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    findings = result.findings
    shown = [finding for finding in findings if not finding.applied]
    # One print for all lines: rich's print costs far more than a line.
    pieces: list[tuple[str, str | None]] = []
    for finding in shown:
        mark = " [*]" if _would_apply(finding, unsafe_fixes) else ""
        path = quoted_path(finding.path.as_posix())
        location = f"{path}:{finding.line}:{finding.column}:"
        pieces.append((location, "bold"))
        pieces.append((" ", None))
        pieces.append((finding.code, "bold red"))
        pieces.append((mark, "cyan"))
        pieces.append((" ", None))
        pieces.append((redact(finding.message, secrets), None))
        pieces.append(("\n", None))
    if shown:
        _emit(console, pieces, end="")

    if show_diff and not quiet:
        print_diffs(console, result)
    if not quiet:
        console.print(
            _summary(result, apply, unsafe_fixes),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def print_diffs(console: Console, result: RunResult) -> None:
    """Print the unified diff of each changed file of `result`, sorted by path."""
    diffs = unified_diffs(result)
    if diffs:
        console.print()
    encodings = diff_encodings(result)
    for path, lines in diffs:
        if not console.is_terminal:
            # rich turns tabs into spaces and drops carriage returns and form
            # feeds, so a diff written through it would not apply as a patch.
            _write_patch(console, lines, encodings.get(path, "utf-8"))
            continue
        pieces = []
        for line in lines:
            pieces.append((line, _diff_style(line)))
            pieces.append(("\n", None))
        _emit(console, pieces)


def _write_patch(console: Console, lines: list[str], encoding: str) -> None:
    """Write one file's diff into a file or a pipe, its code in the file's encoding.

    git applies a patch by its bytes, so the code lines of a latin-1 file
    must be latin-1 bytes. The header lines name paths and stay UTF-8.
    """
    buffer = getattr(console.file, "buffer", None)
    if codecs.lookup(encoding).name == "utf-8" or buffer is None:
        console.file.write("".join(line + "\n" for line in lines) + "\n")
        return
    header = "".join(line + "\n" for line in lines[:2])
    body = "".join(line + "\n" for line in lines[2:]) + "\n"
    console.file.flush()
    buffer.write(header.encode("utf-8") + body.encode(encoding, "replace"))
    buffer.flush()


def _emit(
    console: Console, pieces: list[tuple[str, str | None]], end: str = "\n"
) -> None:
    """Print (text, style) pieces to a terminal, or their plain characters into a file or a pipe.

    A terminal gets rich's rendering, which keeps the analysed code's
    control characters away from it. The plain characters leave out the
    control characters that rich's `Text` drops.
    """
    if console.is_terminal:
        text = Text()
        for piece, style in pieces:
            text.append(piece, style)
        console.print(text, markup=False, highlight=False, soft_wrap=True, end=end)
    else:
        plain = "".join(piece for piece, _ in pieces)
        console.file.write(strip_control_codes(plain) + end)


def _diff_style(line: str) -> str | None:
    if line.startswith(("+++", "---")):
        return "bold"
    if line.startswith("@@"):
        return "cyan"
    if line.startswith("+"):
        return "green"
    if line.startswith("-"):
        return "red"
    return None


def _summary(result: RunResult, apply: bool, unsafe_fixes: bool) -> str:
    findings = result.findings
    changed = len(result.changed_files)
    if not findings:
        failed = len({error.path for error in result.all_errors})
        if failed:
            return (
                "No Customer.io pitfalls found in the files that could be checked;"
                f" {plural(failed, 'path')} failed (see the errors above)."
            )
        return f"No Customer.io pitfalls found ({plural(result.files_found, 'file')} checked)."

    hidden = sum(
        1
        for finding in findings
        if finding.fix_safety is FixSafety.UNSAFE
        and not unsafe_fixes
        and not finding.applied
    )
    if apply:
        fixed = sum(1 for finding in findings if finding.applied)
        text = (
            f"Found {plural(len(findings), 'finding')} ({fixed} fixed,"
            f" {len(findings) - fixed} remaining). {plural(changed, 'file')} changed."
        )
    else:
        fixable = sum(1 for finding in findings if _would_apply(finding, unsafe_fixes))
        text = f"Found {plural(len(findings), 'finding')}."
        if fixable:
            command = "--apply --unsafe-fixes" if unsafe_fixes else "--apply"
            text += f" {fixable} fixable with `cio-fix {command}`."
        text += f" {plural(changed, 'file')} would be changed."
    if hidden:
        text += (
            f" {plural(hidden, 'unsafe fix', 'unsafe fixes')} available with `--unsafe-fixes`"
            " (they change behaviour beyond the pitfall: read the diff first)."
        )
    return text
