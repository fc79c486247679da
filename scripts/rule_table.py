"""Print the README's rule table from the rule classes, or rewrite it in place.

    python scripts/rule_table.py               # print the table
    python scripts/rule_table.py --write README.md

The table sits between the `rules:start` and `rules:end` comment markers.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cio_fix.rules import all_rules

START = "<!-- rules:start -->"
END = "<!-- rules:end -->"


def rule_table() -> str:
    lines = ["| code | name | fix | what it finds |", "| --- | --- | --- | --- |"]
    for code, rule in all_rules().items():
        lines.append(f"| {code} | {rule.name} | {rule().fix_label} | {rule.summary} |")
    return "\n".join(lines)


def replace_table(readme: str) -> str:
    before, start, rest = readme.partition(START)
    _, end, after = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"README has no {START} ... {END} markers")
    return f"{before}{START}\n{rule_table()}\n{END}{after}"


def main(arguments: list[str]) -> None:
    if arguments[:1] == ["--write"] and len(arguments) == 2:
        path = Path(arguments[1])
        path.write_text(
            replace_table(path.read_text(encoding="utf-8")), encoding="utf-8"
        )
        return
    print(rule_table())


if __name__ == "__main__":
    main(sys.argv[1:])
