"""Move the positions of findings from a file's original text to its fixed text.

The rules locate findings in the code they read. Once `--apply` has written
a file, the findings it still has are reported at their place in the file
as written, and this module maps each position there through a diff of the
two texts.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Iterable

from cio_fix.model import Finding

# Line breaks as libcst's positions count them.
_LINE_END = re.compile(r"\r\n?|\n")
# The units that a run of changed lines is diffed in: words, runs of
# blanks, and single other characters. Characters alone are too many for
# difflib, and whole lines cannot place a column.
_WORD = re.compile(r"\w")
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)
# A run of changed lines with more tokens than this on either side is not
# diffed token by token: difflib's time grows with the product of the two
# lengths. Its positions go to the start, or the end, of the new run.
MAX_DIFFED_TOKENS = 4000


def relocate_findings(findings: Iterable[Finding], original: str, fixed: str) -> None:
    """Set each finding's position to that of the same code in `fixed`.

    A position inside code that the fixes replaced goes to the start of
    what replaced it, and an end position to its end.
    """
    mapping = PositionMap(original, fixed)
    for finding in findings:
        start = mapping.start(finding.line, finding.column)
        end = mapping.end(finding.end_line, finding.end_column)
        finding.line, finding.column = start
        finding.end_line, finding.end_column = max(start, end)


def _moved_lines(
    old_lines: list[str],
    new_lines: list[str],
    blocks: list[tuple[str, int, int, int, int]],
) -> dict[int, int]:
    """Return the index in the new text of each deleted line that it has elsewhere.

    A fix that moves a statement (CIO201 moves an identify above a track
    call) deletes its line in one place and inserts it in another. The line
    diff cannot pair the two, so a line is taken as moved when its text,
    without indentation, is that of exactly one deleted line and exactly
    one inserted line, and contains a word.
    """
    deleted: dict[str, list[int]] = {}
    inserted: dict[str, list[int]] = {}
    for tag, i1, i2, j1, j2 in blocks:
        if tag == "equal":
            continue
        for index in range(i1, i2):
            deleted.setdefault(old_lines[index].strip(), []).append(index)
        for index in range(j1, j2):
            inserted.setdefault(new_lines[index].strip(), []).append(index)
    moved = {}
    for text, old_indexes in deleted.items():
        new_indexes = inserted.get(text, [])
        if len(old_indexes) == 1 and len(new_indexes) == 1 and _WORD.search(text):
            moved[old_indexes[0]] = new_indexes[0]
    return moved


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _has_no_word(line: str) -> bool:
    return _WORD.search(line) is None


def _lines(text: str) -> list[str]:
    """Split `text` after each line break, with a last line that may be empty."""
    lines = []
    start = 0
    for match in _LINE_END.finditer(text):
        lines.append(text[start : match.end()])
        start = match.end()
    lines.append(text[start:])
    return lines


class PositionMap:
    """Positions in one text mapped to another, through a diff of their lines.

    Lines are counted from 1 and columns from 1, as findings count them.
    An unchanged line keeps its columns. In a run of changed lines, the
    tokens are diffed, so code that a fix left as it was keeps its place
    next to code that the fix rewrote.
    """

    def __init__(self, old: str, new: str) -> None:
        self.old_lines = _lines(old)
        self.new_lines = _lines(new)
        # A line without a word (a closing bracket, a blank line) can extend
        # a match but not make one. Otherwise the `)` that closes one call
        # matches the `)` of a call that a fix wrote elsewhere, and the
        # lines between them no longer match.
        matcher = difflib.SequenceMatcher(
            _has_no_word, self.old_lines, self.new_lines, autojunk=False
        )
        self.blocks = matcher.get_opcodes()
        self.block_starts = [block[1] for block in self.blocks]
        self._moved_to = _moved_lines(self.old_lines, self.new_lines, self.blocks)
        # The number of the new text's last line. A text that ends with a
        # line break has an empty last item in `new_lines`, after its end.
        self.last_line = len(self.new_lines)
        if self.last_line > 1 and not self.new_lines[-1]:
            self.last_line -= 1
        # The token diff of each run of changed lines, by its first old line.
        self._runs: dict[int, _ChangedRun] = {}

    def start(self, line: int, column: int) -> tuple[int, int]:
        """Return where the code that starts at (`line`, `column`) starts in the new text."""
        return self._map(line, column, is_end=False)

    def end(self, line: int, column: int) -> tuple[int, int]:
        """Return where the code that ends before (`line`, `column`) ends in the new text."""
        return self._map(line, column, is_end=True)

    def _map(self, line: int, column: int, is_end: bool) -> tuple[int, int]:
        new_line, new_column = self._map_unclamped(line, column, is_end)
        if new_line <= self.last_line:
            return new_line, new_column
        # A position after the last line, such as one on deleted lines at
        # the end of the file, goes to the last line.
        if not is_end:
            return self.last_line, 1
        text = _LINE_END.sub("", self.new_lines[self.last_line - 1])
        return self.last_line, len(text) + 1

    def _map_unclamped(self, line: int, column: int, is_end: bool) -> tuple[int, int]:
        index = min(max(line - 1, 0), len(self.old_lines) - 1)
        tag, i1, i2, j1, j2 = self.blocks[
            bisect.bisect_right(self.block_starts, index) - 1
        ]
        if tag == "equal":
            return j1 + index - i1 + 1, column
        moved = self._moved_to.get(index)
        if moved is not None:
            # The same line elsewhere: the column moves with its indentation.
            shift = _indent(self.new_lines[moved]) - _indent(self.old_lines[index])
            return moved + 1, max(column + shift, 1)
        run = self._runs.get(i1)
        if run is None:
            old = "".join(self.old_lines[i1:i2])
            new = "".join(self.new_lines[j1:j2])
            run = self._runs[i1] = _ChangedRun(old, new)
        offset = sum(len(text) for text in self.old_lines[i1:index]) + column - 1
        new_offset = run.map(min(max(offset, 0), len(run.old)), is_end)
        before = run.new[:new_offset]
        line_breaks = list(_LINE_END.finditer(before))
        line_start = line_breaks[-1].end() if line_breaks else 0
        return j1 + len(line_breaks) + 1, new_offset - line_start + 1


class _ChangedRun:
    """Two versions of a run of changed lines, and the diff of their tokens."""

    def __init__(self, old: str, new: str) -> None:
        self.old = old
        self.new = new
        self.old_starts = [match.start() for match in _TOKEN.finditer(old)]
        self.new_starts = [match.start() for match in _TOKEN.finditer(new)]
        self.blocks: list[tuple[str, int, int, int, int]] = []
        if max(len(self.old_starts), len(self.new_starts)) <= MAX_DIFFED_TOKENS:
            old_tokens = _tokens(old, self.old_starts)
            new_tokens = _tokens(new, self.new_starts)
            matcher = difflib.SequenceMatcher(
                None, old_tokens, new_tokens, autojunk=False
            )
            self.blocks = matcher.get_opcodes()

    def map(self, offset: int, is_end: bool) -> int:
        """Map an offset in the old version to the new one."""
        # An end position is looked up by the character before it, which the
        # code it ends contains.
        looked_up = offset - 1 if is_end and offset > 0 else offset
        token = bisect.bisect_right(self.old_starts, looked_up) - 1
        for tag, i1, i2, j1, j2 in self.blocks:
            if not i1 <= token < i2:
                continue
            if tag == "equal":
                return (
                    self.new_starts[j1 + token - i1] + offset - self.old_starts[token]
                )
            edge = j2 if is_end else j1
            return (
                self.new_starts[edge] if edge < len(self.new_starts) else len(self.new)
            )
        # A run too long to diff, or one that was empty.
        return len(self.new) if is_end else 0


def _tokens(text: str, starts: list[int]) -> list[str]:
    if not starts:
        return []
    ends = [*starts[1:], len(text)]
    return [text[start:end] for start, end in zip(starts, ends, strict=True)]
