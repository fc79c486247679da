"""Findings that a comment in the code or the configuration silences.

- `# noqa: CIO301` in a statement: that rule's findings in the statement
  (every line of a statement that spans lines, or the header of a compound
  statement such as `with ...:`). Several codes are separated by commas or
  spaces, and other linters' codes may share the list. A bare `# noqa`
  silences nothing here: it is often written for another linter, and a
  hard-coded key must not hide behind a comment about line length.
- `# cio-fix: noqa` on a line of its own: every finding in the file;
  `# cio-fix: noqa: CIO101, CIO304`: those rules' findings in the file.
- `per-file-ignores` in `[tool.cio-fix]`: rule selectors for the files that
  gitignore-style patterns match, relative to the project root.

A suppressed finding is not reported and its fix is not applied.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import re
import tokenize
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import libcst as cst
import pathspec

from cio_fix.config import Config, matches_selector, project_root
from cio_fix.engine import display_path
from cio_fix.files import read_regular_file
from cio_fix.model import FileError, FileResult, Finding, RunResult
from cio_fix.round_trip import physical_lines
from cio_fix.walk import comments_below, descendants
from cio_fix.writer import SourceError, WriteError, decode_source, write_atomic

if TYPE_CHECKING:
    from cio_fix.rules import FileContext

_CODES = r"(?P<codes>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*)"
LINE_DIRECTIVE = re.compile(r"#\s*noqa\s*:\s*" + _CODES, re.IGNORECASE)
# `# cio-fix: noqa`, or with a list of codes; text may follow (a reason).
# `noqa:` followed by no code is no directive, so a typo silences nothing.
FILE_DIRECTIVE = re.compile(
    r"^[ \t\f]*#\s*cio-fix\s*:\s*noqa\b(?:\s*:\s*" + _CODES + r"|(?!\s*:))",
    re.IGNORECASE | re.MULTILINE,
)
_NOQA_WORD = re.compile("noqa", re.IGNORECASE)
# Every code, for a file directive without a list.
EVERY_CODE = "ALL"

# The fields of a compound statement that are not part of its first line.
_NOT_HEADER = frozenset(
    {
        "body",
        "orelse",
        "handlers",
        "finalbody",
        "cases",
        "leading_lines",
        "decorators",
        "lines_after_decorators",
        "footer",
    }
)


def codes_in(comment: str) -> frozenset[str]:
    """Return the cio-fix codes that a `# noqa: ...` comment names."""
    codes: set[str] = set()
    for match in LINE_DIRECTIVE.finditer(comment):
        codes.update(_cio_codes(match.group("codes")))
    return frozenset(codes)


def _cio_codes(listed: str) -> set[str]:
    return {
        code.upper()
        for code in re.split(r"[\s,]+", listed)
        if code.upper().startswith("CIO")
    }


def mentions_noqa(text: str) -> bool:
    """Tell cheaply whether a file may hold a directive at all."""
    return _NOQA_WORD.search(text) is not None


def file_codes(text: str, module: cst.Module | None = None) -> frozenset[str]:
    """Return the codes that `# cio-fix: noqa` lines silence in the whole file.

    `EVERY_CODE` is the code of a directive without a list. Only comments
    count: a line of a string that reads like a directive does not.
    `module` is the file's parse, when the caller has it.
    """
    text = _one_newline(text)
    if not mentions_noqa(text) or not FILE_DIRECTIVE.search(text):
        return frozenset()
    codes: set[str] = set()
    for comment in _own_line_comments(text, module):
        match = FILE_DIRECTIVE.match(comment)
        if match is None:
            continue
        listed = match.group("codes")
        codes.update(_cio_codes(listed) if listed else {EVERY_CODE})
    return frozenset(codes)


def _one_newline(text: str) -> str:
    """Turn `\r\n` and `\r` line ends into `\n`, keeping the line numbers.

    The tokenizer and `^` in patterns know only `\n`; libcst, whose line
    numbers findings give, counts all three.
    """
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _own_line_comments(text: str, module: cst.Module | None) -> Iterator[str]:
    if module is None:
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
        except (tokenize.TokenError, SyntaxError):
            # This Python's tokenizer does not read every syntax that libcst
            # does (a newer f-string, say).
            try:
                module = cst.parse_module(text)
            except cst.ParserSyntaxError:
                return
        else:
            for token in tokens:
                before = token.line[: token.start[1]]
                if token.type == tokenize.COMMENT and not before.strip():
                    yield token.string
            return
    for node in descendants(module, True):
        if isinstance(node, cst.EmptyLine) and node.comment is not None:
            yield node.comment.value


def silenced(codes: Iterable[str], code: str) -> bool:
    return any(listed in (code, EVERY_CODE) for listed in codes)


# -- findings in a parsed file ------------------------------------------------------


def statement_codes(
    node: cst.CSTNode, parent_of: Mapping[cst.CSTNode, cst.CSTNode]
) -> frozenset[str]:
    """Return the codes that `# noqa` comments name in the statement around `node`.

    The statement is the simple statement that contains the node, with
    every line it spans, or the header of the compound statement whose
    header contains it (for `if x: call()`, the whole line).
    """
    current: cst.CSTNode | None = node
    while current is not None:
        if isinstance(current, (cst.SimpleStatementLine, cst.Decorator)):
            return _codes_of(_comments(current, skip={"leading_lines"}))
        if isinstance(current, cst.SimpleStatementSuite):
            owner = parent_of.get(current)
            return _codes_of(_header_comments(owner if owner is not None else current))
        if isinstance(current, cst.Match) or isinstance(
            getattr(current, "body", None), cst.BaseSuite
        ):
            return _codes_of(_header_comments(current))
        if isinstance(current, (cst.IndentedBlock, cst.Module)):
            # Code in a block is in one of its statements: a node that
            # reaches the block this way belongs to no statement.
            return frozenset()
        current = parent_of.get(current)
    return frozenset()


def _codes_of(comments: Iterable[str]) -> frozenset[str]:
    codes: set[str] = set()
    for comment in comments:
        codes.update(codes_in(comment))
    return frozenset(codes)


def _header_comments(statement: cst.CSTNode) -> Iterator[str]:
    yield from _comments(statement, skip=_NOT_HEADER)
    body = getattr(statement, "body", None)
    if isinstance(body, cst.IndentedBlock):
        yield from _comments(body.header)
    elif isinstance(body, cst.SimpleStatementSuite):
        yield from _comments(body)


def _comments(
    node: cst.CSTNode, skip: frozenset[str] | set[str] = frozenset()
) -> Iterator[str]:
    """Yield the text of the comments in `node`, leaving out its fields named in `skip`."""
    if isinstance(node, cst.Comment):
        yield node.value
        return
    for item in dataclasses.fields(node):
        if item.name in skip:
            continue
        value = getattr(node, item.name)
        children = value if isinstance(value, (list, tuple)) else [value]
        for child in children:
            if isinstance(child, cst.CSTNode):
                for comment in comments_below(child):
                    yield comment.value


# -- findings by line, for the project-level rules -------------------------------------


def line_codes(text: str) -> dict[int, frozenset[str]]:
    """Return, by line number, the codes that `# noqa` comments silence there.

    A comment counts for every line of the logical line it is on, so that
    it reads the same as `statement_codes` does on the parsed file.
    """
    if not mentions_noqa(text):
        return {}
    try:
        statements = _logical_lines(_one_newline(text))
    except _NoLogicalLines:
        # Without the statements, a comment cannot be distinguished from a
        # string, so nothing is silenced by line.
        return {}
    by_line: dict[int, frozenset[str]] = {}
    for statement in statements:
        codes = _codes_of(comment.string for comment in statement.comments)
        if codes:
            for number in range(statement.first, statement.last + 1):
                by_line[number] = codes
    return by_line


@dataclass
class _LogicalLine:
    """The physical lines a statement (or a compound statement's header) spans."""

    first: int
    last: int
    comments: list[tokenize.TokenInfo]


class _NoLogicalLines(Exception):
    """This Python's tokenizer cannot read the file, so its statements are unknown."""


def _logical_lines(text: str) -> list[_LogicalLine]:
    """Split `text`, whose line ends are all `\\n`, into its logical lines."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError) as error:
        raise _NoLogicalLines(
            f"this Python cannot split the file into statements ({error})"
        ) from error
    statements = []
    first: int | None = None
    comments: list[tokenize.TokenInfo] = []
    skipped = {tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
    for token in tokens:
        if token.type == tokenize.COMMENT:
            if first is not None:
                comments.append(token)
        elif token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            if first is not None:
                statements.append(_LogicalLine(first, token.start[0], comments))
            first, comments = None, []
        elif token.type not in skipped and first is None:
            first = token.start[0]
    return statements


# -- per-file-ignores ---------------------------------------------------------------------


@functools.cache
def _compiled(
    patterns: tuple[tuple[str, tuple[str, ...]], ...],
) -> tuple[tuple[pathspec.GitIgnoreSpec, tuple[str, ...]], ...]:
    return tuple(
        (pathspec.GitIgnoreSpec.from_lines([pattern]), selectors)
        for pattern, selectors in patterns
    )


def ignored_selectors(config: Config, path: Path) -> tuple[str, ...]:
    """Return the rule selectors that `per-file-ignores` gives the file at `path`."""
    if not config.per_file_ignores:
        return ()
    try:
        relative = path.absolute().relative_to(config.root.absolute()).as_posix()
    except ValueError:
        try:
            relative = path.resolve().relative_to(config.root.resolve()).as_posix()
        except ValueError:
            return ()
    selectors: list[str] = []
    for spec, listed in _compiled(config.per_file_ignores):
        if spec.match_file(relative):
            selectors.extend(listed)
    return tuple(selectors)


def by_config(selectors: tuple[str, ...], code: str) -> bool:
    return any(matches_selector(code, selector) for selector in selectors)


def reported_findings(
    context: FileContext, findings: list[Finding]
) -> tuple[list[Finding], list[tuple[str, cst.CSTNode]]]:
    """Drop the findings of a parsed file that a directive or `per-file-ignores` silences.

    Also returns the code and node of each finding that a `# noqa` comment
    in its statement silences: a fix that moves such a node out of its
    statement would leave the comment behind, so no fix may.
    """
    ignored = ignored_selectors(context.config, context.path)
    text = context.source.text
    whole = file_codes(text, context.module)
    if not ignored and not whole and not mentions_noqa(text):
        return findings, []
    reported = []
    silenced_nodes = []
    for finding in findings:
        if by_config(ignored, finding.code) or silenced(whole, finding.code):
            continue
        node = context.finding_nodes.get(id(finding))
        if node is not None and silenced(
            statement_codes(node, context.parent_map()), finding.code
        ):
            silenced_nodes.append((finding.code, node))
            continue
        reported.append(finding)
    return reported, silenced_nodes


def is_silenced(context: FileContext, code: str, node: cst.CSTNode) -> bool:
    """Tell whether `reported_findings` would drop a finding of `code` at `node`.

    A rule whose fix waits for another rule's fix calls this, because a
    silenced finding's fix is never applied.
    """
    if by_config(ignored_selectors(context.config, context.path), code):
        return True
    text = context.source.text
    if silenced(file_codes(text, context.module), code):
        return True
    if not mentions_noqa(text):
        return False
    return silenced(statement_codes(node, context.parent_map()), code)


def moves_silenced_code(
    replacements: Mapping[cst.CSTNode, object],
    silenced_nodes: list[cst.CSTNode],
    parent_of: Mapping[cst.CSTNode, cst.CSTNode],
) -> bool:
    """Tell whether a fix replaces code around a silenced finding without keeping it.

    A fix that rewrites the finding's node itself leaves the new code where
    the node was, in the same statement. A fix that replaces code around
    the node must bring the node back, as the same object, in one of its
    replacements: `cio.track(...)` wrapped for a background thread keeps
    its arguments. Otherwise the node moves elsewhere, away from its
    `# noqa` comment (a client hoisted to module level), or is dropped.
    """
    for node in silenced_nodes:
        around = set()
        parent = parent_of.get(node)
        while parent is not None:
            around.add(id(parent))
            parent = parent_of.get(parent)
        if not any(id(original) in around for original in replacements):
            continue
        if not any(_contains(value, node) for value in replacements.values()):
            return True
    return False


def _contains(value: object, node: cst.CSTNode) -> bool:
    if isinstance(value, cst.FlattenSentinel):
        return any(_contains(item, node) for item in value.nodes)
    if not isinstance(value, cst.CSTNode):
        return False
    return any(item is node for item in descendants(value, False))


def reported_project_findings(
    findings: list[Finding],
    config: Config,
    sources: Mapping[Path, bytes],
    fixed_sources: Mapping[Path, bytes] | None = None,
) -> list[Finding]:
    """Drop the project-level findings that a directive or `per-file-ignores` silences.

    `sources` maps the path that findings show to the file's bytes, and
    `fixed_sources` to its bytes after this run's fixes: a finding that only
    the fixed code gives has its line, and so its directives, there.
    """
    reported = []
    lines: dict[tuple[Path, bool], dict[int, frozenset[str]]] = {}
    whole: dict[tuple[Path, bool], frozenset[str]] = {}
    for finding in findings:
        if by_config(ignored_selectors(config, _absolute(finding.path)), finding.code):
            continue
        if finding.in_fixed_code and fixed_sources is not None:
            text = _text(finding.path, fixed_sources)
        else:
            text = _text(finding.path, sources)
        if text is not None:
            key = (finding.path, finding.in_fixed_code)
            if key not in lines:
                lines[key] = line_codes(text)
                whole[key] = file_codes(text)
            codes = lines[key].get(finding.line, frozenset())
            if silenced(codes | whole[key], finding.code):
                continue
        reported.append(finding)
    return reported


def _text(path: Path, sources: Mapping[Path, bytes]) -> str | None:
    raw = sources.get(path)
    if raw is None:
        return None
    try:
        return decode_source(path, raw).text
    except SourceError:
        return None


def _absolute(path: Path) -> Path:
    # Findings show paths relative to the working directory.
    return path if path.is_absolute() else Path.cwd() / path


# -- --add-noqa ----------------------------------------------------------------------------


# The code of hard-coded keys. A key in the source leaks until it is
# rotated, and a bulk `--add-noqa` would hide it from every later run, so
# only a request that names the code gives it a comment.
HARD_CODED_KEY = "CIO101"


@dataclass
class AddedDirectives:
    """The outcome of `--add-noqa`: the comments added, the files changed and the errors.

    In a dry run, the comments and files are those that would be, and
    `changes` contains each file's bytes before and after, for the diff.
    """

    directives: int = 0
    files: list[Path] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    changes: list[FileResult] = field(default_factory=list)
    # The hard-coded keys (CIO101 findings): those left without a comment,
    # or with `silence_keys` those that got one.
    keys: list[Finding] = field(default_factory=list)


def add_directives(
    result: RunResult, write: bool = True, silence_keys: bool = False
) -> AddedDirectives:
    """Add `# noqa: CODE` for each finding of `result` to the end of its statement.

    A statement's last line gets the comment, or the codes join the
    `# noqa:` list already there, so that the next run reports none of
    these findings. A hard-coded key (CIO101) gets no comment unless
    `silence_keys` is set. Without `write`, no file is written.
    """
    added = AddedDirectives()
    by_file: dict[Path, list[Finding]] = {}
    originals: dict[Path, bytes | None] = {}
    for file in result.files:
        for finding in file.findings:
            if finding.code == HARD_CODED_KEY and not silence_keys:
                added.keys.append(finding)
                continue
            path = file.path if file.original is not None else finding.path
            by_file.setdefault(path, []).append(finding)
            originals.setdefault(path, file.original)
    for path, findings in sorted(by_file.items(), key=lambda item: item[0].as_posix()):
        relative = Path(display_path(path))
        try:
            change, count = _commented_file(path, findings, originals[path])
            if write:
                # The write checks that the path still leads into the file's project.
                assert change.fixed is not None
                write_atomic(
                    path, change.fixed, project_root(path), original=change.original
                )
        except (SourceError, WriteError, OSError, _NoLogicalLines) as error:
            reason = getattr(error, "strerror", None) or str(error)
            added.errors.append(FileError(relative, f"no noqa comment added: {reason}"))
            continue
        added.directives += count
        added.files.append(relative)
        added.keys.extend(
            finding for finding in findings if finding.code == HARD_CODED_KEY
        )
        if not write:
            added.changes.append(change)
    return added


def _commented_file(
    path: Path, findings: list[Finding], original: bytes | None
) -> tuple[FileResult, int]:
    """Return the file with the comments for `findings` added, and how many codes it gained."""
    # Not path.read_bytes(), which would wait for ever on a FIFO put in the
    # file's place during the run.
    raw = read_regular_file(path)
    if original is not None and raw != original:
        raise WriteError("changed on disk during the run; run cio-fix again")
    source = decode_source(path, raw)
    ends, comments = _statement_ends(_one_newline(source.text))
    codes_by_line: dict[int, set[str]] = {}
    for finding in findings:
        last = ends.get(finding.line)
        if last is None:
            raise _NoLogicalLines(f"line {finding.line} is in no statement")
        codes_by_line.setdefault(last, set()).add(finding.code)
    lines = physical_lines(source.text)
    for number, codes in codes_by_line.items():
        lines[number - 1] = _with_directive(
            lines[number - 1], comments.get(number), sorted(codes)
        )
    text = "".join(lines)
    try:
        cst.parse_module(text)
    except (cst.ParserSyntaxError, RecursionError) as error:
        raise _NoLogicalLines(
            "the file would no longer parse; add the comments by hand"
        ) from error
    change = FileResult(
        path=path, original=raw, fixed=source.encode(text), encoding=source.encoding
    )
    return change, sum(len(codes) for codes in codes_by_line.values())


def _statement_ends(text: str) -> tuple[dict[int, int], dict[int, int]]:
    """Map each line of a statement to its last line, and each line to its comment's column."""
    ends: dict[int, int] = {}
    comments: dict[int, int] = {}
    for statement in _logical_lines(text):
        for number in range(statement.first, statement.last + 1):
            ends[number] = statement.last
        for comment in statement.comments:
            comments[comment.start[0]] = comment.start[1]
    return ends, comments


def _with_directive(line: str, comment_column: int | None, codes: list[str]) -> str:
    """Return `line` with `codes` in its `# noqa:` comment, adding one if needed."""
    body = line.rstrip("\r\n")
    newline = line[len(body) :]
    if comment_column is not None:
        comment = body[comment_column:]
        match = LINE_DIRECTIVE.search(comment)
        if match is not None:
            listed = match.group("codes")
            present = {code.upper() for code in re.split(r"[\s,]+", listed)}
            joined = ", ".join(
                [listed, *(code for code in codes if code not in present)]
            )
            start = comment_column + match.start("codes")
            end = comment_column + match.end("codes")
            return body[:start] + joined + body[end:] + newline
    return f"{body.rstrip()}  # noqa: {', '.join(codes)}{newline}"
