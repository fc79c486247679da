"""Places in files, kept as plain data, for findings about the project as a whole."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cio_fix.model import Finding

if TYPE_CHECKING:
    import libcst as cst

    from cio_fix.rules import FileContext, Rule

# How many places (or built names) a message lists before "and N more".
MAX_LISTED_PLACES = 5


@dataclass(frozen=True)
class Place:
    """A node's position in a file, captured by `collect` for a project-level finding."""

    path: str
    line: int
    column: int
    end_line: int
    end_column: int

    @property
    def label(self) -> str:
        return f"{self.path}:{self.line}"


def place_of(context: FileContext, node: cst.CSTNode) -> Place:
    where = context.position(node)
    return Place(
        path=context.display_path,
        line=where.start.line,
        column=where.start.column + 1,
        end_line=where.end.line,
        end_column=where.end.column + 1,
    )


def sort_places(places: Iterable[Place]) -> list[Place]:
    return sorted(places, key=lambda place: (place.path, place.line, place.column))


def list_places(places: Sequence[Place]) -> str:
    """Return `a.py:3, b.py:9 and 2 more` for the places a message mentions."""
    return list_labels([place.label for place in places])


def list_labels(labels: Sequence[str]) -> str:
    """Return `a.py:3, b.py:9 and 2 more` for the "path:line" labels a message mentions.

    The first MAX_LISTED_PLACES labels are named in the given order, so that a
    message stays one readable line however many places the project has.
    """
    text = ", ".join(labels[:MAX_LISTED_PLACES])
    if len(labels) > MAX_LISTED_PLACES:
        text += f" and {len(labels) - MAX_LISTED_PLACES} more"
    return text


def project_finding(rule: Rule, place: Place, message: str) -> Finding:
    return Finding(
        code=rule.code,
        name=rule.name,
        message=message,
        path=Path(place.path),
        line=place.line,
        column=place.column,
        end_line=place.end_line,
        end_column=place.end_column,
    )
