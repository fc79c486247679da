"""Write fixes into files that libcst does not print back byte for byte.

libcst 1.9 drops a form feed that starts a statement's line, a carriage
return that ends the file, and the blanks before the colon of `except X :`.
A form feed that starts a block's first line it takes for part of the
block's indentation, and prints on each line of the block. Fixed code is
libcst's print of the fixed tree, so writing it would change those lines
too. The fixed file therefore takes from that print only the lines that
the fixes change, and every other line from the source.
"""

from __future__ import annotations

import difflib
import re

# A line and its end: `\r\n`, `\r` or `\n` only, as libcst and Python count
# lines (str.splitlines also splits at form feeds, U+2028 and other characters).
_PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def physical_lines(text: str) -> list[str]:
    """Split `text` into lines, each with its line end, where Python ends lines."""
    return _PHYSICAL_LINE.findall(text)


# A difflib opcode: tag, then the start and end of the lines in each text.
_Opcode = tuple[str, int, int, int, int]


class RoundTrip:
    """A source file and libcst's print of its tree, compared line by line."""

    def __init__(self, source: str, printed: str) -> None:
        self.source_lines = physical_lines(source)
        self.printed_lines = physical_lines(printed)
        # libcst's known changes stay inside a line, but it drops a line
        # that is a lone carriage return at the end of the file. Only when
        # the counts are equal is line N of the print line N of the source.
        self.lines_align = len(self.source_lines) == len(self.printed_lines)
        pairs = zip(self.source_lines, self.printed_lines, strict=False)
        # The indexes of the lines that the print changes.
        self.changed = frozenset(
            index for index, (ours, theirs) in enumerate(pairs) if ours != theirs
        )

    @property
    def first_changed_line(self) -> int:
        """Return the number of the first line that the print changes or leaves out."""
        if self.changed:
            return min(self.changed) + 1
        return min(len(self.source_lines), len(self.printed_lines)) + 1

    def line_fixes_change(self, fixed: str) -> int | None:
        """Return the number of the first changed line that `fixed` rewrites, or None.

        `fixed` is libcst's print of the fixed tree. The lines must align.
        """
        return self._first_rewritten(
            _opcodes(self.printed_lines, physical_lines(fixed))
        )

    def with_source_lines(self, fixed: str) -> str:
        """Return `fixed` with each line that the fixes left as it was taken from the source.

        The lines must align. Raises ChangedLineRewritten when `fixed`
        rewrites a line that the print changes, which cannot be kept.
        """
        fixed_lines = physical_lines(fixed)
        opcodes = _opcodes(self.printed_lines, fixed_lines)
        line = self._first_rewritten(opcodes)
        if line is not None:
            raise ChangedLineRewritten(line)

        parts = []
        for tag, start, end, fixed_start, fixed_end in opcodes:
            if tag == "equal":
                parts.extend(self.source_lines[start:end])
            else:
                parts.extend(fixed_lines[fixed_start:fixed_end])
        return "".join(parts)

    def _first_rewritten(self, opcodes: list[_Opcode]) -> int | None:
        for tag, start, end, _, _ in opcodes:
            if tag == "equal":
                continue
            for index in range(start, end):
                if index in self.changed:
                    return index + 1
        return None


class ChangedLineRewritten(Exception):
    """The fixes rewrite a line that libcst prints back with other bytes."""

    def __init__(self, line: int) -> None:
        super().__init__(f"the fixes rewrite line {line}")
        self.line = line


def _opcodes(printed: list[str], fixed: list[str]) -> list[_Opcode]:
    """Diff the lines of libcst's print of a file with those of its fixed print.

    difflib's autojunk makes a line that is frequent in a long file anchor
    no match, so a hunk may take in such lines that the fixes left as they
    were. Each hunk is therefore diffed again without autojunk. The whole
    file is not, because without autojunk difflib's time grows with the
    square of how often a line repeats. On libcst's `_typed_visitor.py`
    (7,900 lines) it took over a hundred times as long as with autojunk,
    measured once on a busy 2-CPU machine.
    """
    opcodes: list[_Opcode] = []
    coarse = difflib.SequenceMatcher(None, printed, fixed).get_opcodes()
    for tag, start, end, fixed_start, fixed_end in coarse:
        if tag == "equal":
            opcodes.append((tag, start, end, fixed_start, fixed_end))
            continue
        matcher = difflib.SequenceMatcher(
            None,
            printed[start:end],
            fixed[fixed_start:fixed_end],
            autojunk=False,
        )
        for fine_tag, i1, i2, j1, j2 in matcher.get_opcodes():
            opcodes.append(
                (fine_tag, start + i1, start + i2, fixed_start + j1, fixed_start + j2)
            )
    return opcodes


def has_mixed_line_endings(text: str) -> bool:
    """Tell whether the lines of `text` end in more than one way (`\\r\\n`, `\\r`, `\\n`)."""
    returns = text.count("\r")
    if returns == 0:
        return False
    newlines = text.count("\n")
    if newlines == 0:
        return False
    return not returns == newlines == text.count("\r\n")


def with_source_line_endings(source: str, fixed: str) -> str:
    """Restore the line endings of `source`, a file that mixes them, in its fixed code `fixed`.

    libcst writes each line it makes with the file's first line ending. A
    line that the fixes left as it was keeps its own ending instead. A
    line that a fix changes takes the ending of the line it replaces, and
    an inserted line that of the line before it (the line after it at the
    top of the file). Python reads every line ending inside a string
    literal as `\\n`, so no value changes.
    """
    source_lines = physical_lines(source)
    fixed_lines = physical_lines(fixed)
    source_bodies = [line.rstrip("\r\n") for line in source_lines]
    fixed_bodies = [line.rstrip("\r\n") for line in fixed_lines]
    parts = []
    for tag, start, end, fixed_start, fixed_end in _opcodes(
        source_bodies, fixed_bodies
    ):
        for offset, index in enumerate(range(fixed_start, fixed_end)):
            line = fixed_lines[index]
            body = fixed_bodies[index]
            if len(body) == len(line):
                # The last line, without an ending.
                parts.append(line)
                continue
            if tag == "equal":
                neighbour = start + offset
            elif tag == "replace":
                neighbour = min(start + offset, end - 1)
            else:
                neighbour = start - 1 if start > 0 else start
            parts.append(body + _ending(source_lines, neighbour, line[len(body) :]))
    return "".join(parts)


def _ending(lines: list[str], index: int, default: str) -> str:
    """Return the line ending of `lines[index]`, or `default` when it has none."""
    if index >= len(lines):
        return default
    line = lines[index]
    ending = line[len(line.rstrip("\r\n")) :]
    return ending or default
