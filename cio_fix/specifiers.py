"""The customerio major versions that a version specifier allows.

A rule that behaves the same on every allowed major can tell what the
code does: `customerio<3` allows 1.x and 2.x, which both take event
attributes as keyword arguments.
"""

from __future__ import annotations

import re

# The customerio major versions released. A specifier is read as the set of
# them that it allows, so `>=4` allows none and declares nothing.
# NOTE: the 0.x releases (0.1 to 0.5) are left out, so `<3` reads as 1.x or
# 2.x and `==0.5` declares nothing.
SDK_MAJORS = frozenset({1, 2, 3})
# The majors whose track() and track_anonymous() take event attributes as
# keyword arguments. 3.x takes them in `data` and raises TypeError on them.
KEYWORD_MAJORS = frozenset({1, 2})

# One clause, as PEP 440 and Poetry write it: `>=2.1`, `==3.*`, `^1.6`, or a
# bare version (`3.2.0` in a lock file), with an optional pre-release or
# local suffix (`3.0.0b1`), which does not change the major.
_CLAUSE = re.compile(
    r"(?P<operator>===|==|~=|>=|<=|!=|\^|~|>|<|=)?v?"
    r"(?P<version>\d+(?:\.\d+)*)(?P<wildcard>\.\*)?[a-z0-9.+!-]*",
    re.IGNORECASE,
)
# Poetry separates clauses with spaces as well as commas (`>=2.1 <3`). The
# spaces after an operator (`>= 2.1`) are removed first.
_SEPARATOR = re.compile(r"\s*,\s*|\s+")
_SPACE_AFTER_OPERATOR = re.compile(r"(===|==|~=|>=|<=|!=|\^|~|>|<|=)\s+")


def specifier_clauses(specifier: str) -> list[str]:
    """Split a version specifier without `||` alternatives into its clauses.

    An empty clause is left out, as pip's `packaging` skips it: `>=2,`
    means `>=2`.
    """
    joined = _SPACE_AFTER_OPERATOR.sub(r"\1", specifier.strip())
    return [clause for clause in _SEPARATOR.split(joined) if clause]


# The ends of a range that is open on that side.
_BOTTOM: tuple[int, ...] = (-1,)
_TOP: tuple[int, ...] = (1 << 30,)

# One end of a range of versions: the version, and whether it is in the range.
_Bound = tuple[tuple[int, ...], bool]
_Range = tuple[_Bound, _Bound]


def majors_from_specifier(spec: str) -> frozenset[int] | None:
    """Return the majors of SDK_MAJORS that a version specifier allows.

    `<3`, `<=2.9`, `>=1.6,<3` and `!=3.*` give {1, 2}; `~=2.1` gives {2};
    `>=2,<4` gives {2, 3}. Poetry's alternatives (`^2.1 || ^3.0`) give the
    majors of each. None when a clause cannot be read, when the specifier
    is empty, and when it allows no released major.
    """
    admitted: set[int] = set()
    for alternative in spec.split("|"):
        if not alternative.strip():
            continue
        majors = _alternative_majors(alternative)
        if majors is None:
            return None
        admitted |= majors
    return frozenset(admitted) or None


def _alternative_majors(clauses: str) -> set[int] | None:
    ranges: list[_Range] = []
    exclusions: list[_Range] = []
    for clause in specifier_clauses(clauses):
        match = _CLAUSE.fullmatch(clause)
        if match is None:
            return None
        operator = match.group("operator") or "=="
        version = tuple(int(part) for part in match.group("version").split("."))
        wildcard = match.group("wildcard") is not None
        if operator == "!=":
            exclusions.append(_clause_range("==", version, wildcard))
        else:
            ranges.append(_clause_range(operator, version, wildcard))
    if not ranges and not exclusions:
        return None
    admitted = set()
    for major in SDK_MAJORS:
        whole_major: _Range = (((major,), True), ((major + 1,), False))
        allowed = _intersection([whole_major, *ranges])
        if allowed is None:
            continue
        if any(_covers(exclusion, allowed) for exclusion in exclusions):
            continue
        admitted.add(major)
    return admitted


def _clause_range(operator: str, version: tuple[int, ...], wildcard: bool) -> _Range:
    """Return the versions that one clause allows, as a range."""
    if wildcard:
        return (version, True), (_bumped(version, len(version) - 1), False)
    if operator in ("==", "===", "="):
        return (version, True), (version, True)
    if operator == ">=":
        return (version, True), (_TOP, False)
    if operator == ">":
        return (version, False), (_TOP, False)
    if operator == "<":
        return (_BOTTOM, True), (version, False)
    if operator == "<=":
        return (_BOTTOM, True), (version, True)
    if operator == "~=":
        # `~=2.1` means `>=2.1,==2.*`; `~=2` is not valid PEP 440, read as `>=2`.
        if len(version) < 2:
            return (version, True), (_TOP, False)
        return (version, True), (_bumped(version, len(version) - 2), False)
    if operator == "^":
        # Poetry: `^1.6` means `>=1.6,<2`, and `^0.5` means `>=0.5,<0.6`.
        index = next(
            (i for i, part in enumerate(version) if part != 0), len(version) - 1
        )
        return (version, True), (_bumped(version, index), False)
    # Poetry's `~`: `~2.1` means `>=2.1,<2.2`, and `~2` means `>=2,<3`.
    return (version, True), (_bumped(version, min(1, len(version) - 1)), False)


def _bumped(version: tuple[int, ...], index: int) -> tuple[int, ...]:
    """Return the first version after every release that starts with `version[: index + 1]`."""
    return (*version[:index], version[index] + 1)


def _padded(version: tuple[int, ...]) -> tuple[int, ...]:
    """Pad with zeros, because `3` and `3.0.0` are the same version."""
    return version + (0,) * (4 - len(version))


def _intersection(ranges: list[_Range]) -> _Range | None:
    """Return the versions that every range allows, or None when no version is in all."""
    lower = max(
        (range_[0] for range_ in ranges),
        key=lambda bound: (_padded(bound[0]), not bound[1]),
    )
    upper = min(
        (range_[1] for range_ in ranges),
        key=lambda bound: (_padded(bound[0]), bound[1]),
    )
    low, high = _padded(lower[0]), _padded(upper[0])
    if low < high or (low == high and lower[1] and upper[1]):
        return lower, upper
    return None


def _covers(exclusion: _Range, allowed: _Range) -> bool:
    """Tell whether an excluded range (`!=3.*`) contains every version of `allowed`."""
    (excluded_low, low_included), (excluded_high, high_included) = exclusion
    (low, low_allowed), (high, high_allowed) = allowed
    starts_before = _padded(excluded_low) < _padded(low) or (
        _padded(excluded_low) == _padded(low) and (low_included or not low_allowed)
    )
    ends_after = _padded(high) < _padded(excluded_high) or (
        _padded(high) == _padded(excluded_high) and (high_included or not high_allowed)
    )
    return starts_before and ends_after
