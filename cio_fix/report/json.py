"""The JSON report: one object on stdout, a stable contract for other tools."""

from __future__ import annotations

import json

from cio_fix.engine import display_path
from cio_fix.model import Finding, RunResult
from cio_fix.report import redact

FORMAT_VERSION = 1


def finding_to_dict(
    finding: Finding, secrets: frozenset[str] | set[str]
) -> dict[str, object]:
    return {
        "code": finding.code,
        "name": finding.name,
        "severity": finding.severity.value,
        "path": finding.path.as_posix(),
        "line": finding.line,
        "column": finding.column,
        "end_line": finding.end_line,
        "end_column": finding.end_column,
        "message": redact(finding.message, secrets),
        "fix": finding.fix_safety.value if finding.fix_safety is not None else None,
        "applied": finding.applied,
    }


def render_json(result: RunResult) -> str:
    # redact() looks its pattern up by a frozenset of the secrets, which is
    # free to build from a frozenset and costly from a large set.
    secrets = frozenset(result.secrets)
    document = {
        "version": FORMAT_VERSION,
        "findings": [finding_to_dict(finding, secrets) for finding in result.findings],
        "changed_files": [display_path(file.path) for file in result.changed_files],
        "errors": [
            {
                "path": error.path.as_posix(),
                "message": redact(error.message, secrets),
            }
            for error in result.all_errors
        ],
    }
    return json.dumps(document, indent=2)
