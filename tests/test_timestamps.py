"""CIO103 messages for values it reports without a fix, and differences of times."""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli

HEADER = (
    "import time\n\n"
    "from customerio import CustomerIO\n\n"
    'cio = CustomerIO("site", "key")\n'
    "TRIAL_MS = 14 * 86400 * 1000\n\n\n"
)


def _findings(project, body: str) -> list[dict]:
    root: Path = project({"app.py": HEADER + body})
    result = run_cli(["--select", "CIO103", "--output-format", "json", "."], root)
    return result.json["findings"]


def test_timestamps_offset_still_reported(project) -> None:
    body = (
        "def trial(user):\n"
        "    cio.identify(id=user.id, trial_started_at=time.time() * 1000 - TRIAL_MS)\n"
        "    cio.identify(id=user.id, reminded_at=time.time() * 1000 - 3600 * 1000)\n"
    )

    findings = _findings(project, body)

    assert [finding["line"] for finding in findings] == [10, 11]
    assert all(finding["fix"] is None for finding in findings)


def test_timestamps_difference_of_times_not_reported(project) -> None:
    body = (
        "def loaded(user, started_ms):\n"
        "    elapsed = time.time() * 1000 - started_ms\n"
        "    cio.identify(id=user.id, load_time=time.time() * 1000 - started_ms)\n"
        "    cio.identify(id=user.id, wait_time=elapsed)\n"
    )

    assert _findings(project, body) == []


def test_timestamps_shared_dict_message(project) -> None:
    body = (
        "def placed(order, warehouse):\n"
        '    payload = {"placed_at": int(time.time() * 1000)}\n'
        "    warehouse.send(payload)\n"
        '    cio.track(customer_id=order.user_id, name="placed", data=payload)\n'
    )

    findings = _findings(project, body)

    assert len(findings) == 1
    assert findings[0]["fix"] is None
    assert findings[0]["message"].endswith(
        "(not fixed: other code reads the dict `payload` too,"
        " and would get seconds as well)"
    )


def test_timestamps_module_dict_message(project) -> None:
    body = (
        'DEFAULTS = {"joined_at": int(time.time() * 1000)}\n\n\n'
        "def joined(user):\n"
        "    cio.identify(id=user.id, **DEFAULTS)\n"
    )

    findings = _findings(project, body)

    assert len(findings) == 1
    assert findings[0]["fix"] is None
    assert "`DEFAULTS` is a module-level dict" in findings[0]["message"]


def test_timestamps_dict_of_two_calls_reported_once(project) -> None:
    body = (
        "def renewed(user):\n"
        '    attrs = {"renewed_at": int(time.time() * 1000)}\n'
        "    cio.identify(id=user.id, **attrs)\n"
        '    cio.track(customer_id=user.id, name="renewed", data=attrs)\n'
    )

    findings = _findings(project, body)

    assert len(findings) == 1
    assert findings[0]["fix"] == "safe"


def _slot_fixes(root: Path) -> dict[str, str | None]:
    """Check `root` and map each reported slot name to the finding's fix safety."""
    result = run_cli(["--select", "CIO103", "--output-format", "json", "."], root)
    fixes = {}
    for finding in result.json["findings"]:
        slot = finding["message"].split("`")[1]
        fixes[slot] = finding["fix"]
    return fixes


def test_timestamps_sum_beside_fixed_slot(project) -> None:
    body = (
        "def start_trial(uid):\n"
        "    started = int(time.time() * 1000)\n"
        "    cio.identify(id=uid, trial_started_at=started, trial_ends_at=started + TRIAL_MS)\n"
    )
    root: Path = project({"app.py": HEADER + body})

    fixes = _slot_fixes(root)
    run_cli(["--apply", "--select", "CIO103", "."], root)
    fixed = (root / "app.py").read_text(encoding="utf-8")

    assert fixes == {"trial_started_at": "safe", "trial_ends_at": None}
    # The sum still adds milliseconds to milliseconds after the fix.
    assert "    started = int(time.time() * 1000)\n" in fixed
    assert "trial_started_at=started // 1000" in fixed
    assert _slot_fixes(root) == {"trial_ends_at": None}


def test_timestamps_sum_in_variable_reported(project) -> None:
    body = (
        "def start_trial(uid):\n"
        "    started = int(time.time() * 1000)\n"
        "    ends = started + TRIAL_MS\n"
        "    cio.identify(id=uid, trial_ends_at=ends)\n"
    )

    findings = _findings(project, body)

    assert len(findings) == 1
    assert findings[0]["fix"] is None
    assert findings[0]["message"].endswith(
        "(compute it in seconds: cio-fix rewrites a millisecond value only where"
        " it is sent as it is)"
    )


def test_timestamps_moved_variable_message(project) -> None:
    body = (
        "def remind_later(uid):\n"
        "    ts = int(time.time() * 1000)\n"
        "    ts += 60_000\n"
        '    cio.track(customer_id=uid, name="reminder_due", timestamp=ts)\n'
    )

    findings = _findings(project, body)

    assert len(findings) == 1
    assert findings[0]["fix"] is None
    assert findings[0]["message"].endswith(
        "(compute it in seconds: `ts` is changed after it is assigned, and cio-fix"
        " converts a millisecond variable only where one assignment gives its value)"
    )


def test_timestamps_imported_constant_message(project) -> None:
    root: Path = project(
        {
            "app/__init__.py": "",
            "app/constants.py": "LAUNCH_MS = 1717171717000\n",
            "app/jobs.py": (
                "from customerio import CustomerIO\n"
                "from app import constants\n"
                "from app.constants import LAUNCH_MS\n"
                'cio = CustomerIO("site", "key")\n'
                "def launched(uid):\n"
                "    cio.identify(id=uid, launched_at=LAUNCH_MS)\n"
                "    cio.identify(id=uid, launched_at=constants.LAUNCH_MS)\n"
            ),
        }
    )

    result = run_cli(["--select", "CIO103", "--output-format", "json", "."], root)
    findings = result.json["findings"]

    assert [finding["line"] for finding in findings] == [6, 7]
    assert [finding["fix"] for finding in findings] == [None, None]
    assert findings[0]["message"].endswith(
        "(define `LAUNCH_MS` in seconds in `app.constants`: cio-fix does not divide"
        " it here, because the division would go wrong once that module defines it"
        " in seconds)"
    )
    assert "define `constants.LAUNCH_MS` in seconds in `app.constants`" in (
        findings[1]["message"]
    )


def _launch_project(project, jobs: str) -> Path:
    return project(
        {
            "pyproject.toml": '[project]\ndependencies = ["customerio==3.1.0"]\n',
            "app/__init__.py": "",
            "app/constants.py": "LAUNCH_MS = 1700000000000\n",
            "app/client.py": (
                "from customerio import CustomerIO\n"
                'cio = CustomerIO("site", "key")\n'
            ),
            "app/jobs.py": (
                "from app.client import cio\n"
                "from app.constants import LAUNCH_MS\n" + jobs
            ),
        }
    )


def test_timestamps_imported_constant_after_sdk3_fix(project) -> None:
    root = _launch_project(
        project,
        "def announce(user):\n"
        '    cio.track(user.id, "launch_announced", launched_at=LAUNCH_MS)\n',
    )

    applied = run_cli(["--apply", "--output-format", "json", "."], root)
    next_run = run_cli(["--output-format", "json", "."], root)
    remaining = [
        finding["code"]
        for finding in applied.json["findings"]
        if not finding["applied"]
    ]

    assert 'data={"launched_at": LAUNCH_MS}' in (root / "app/jobs.py").read_text()
    assert remaining == ["CIO103"]
    assert [finding["code"] for finding in next_run.json["findings"]] == ["CIO103"]
    assert next_run.exit_code == 1


def test_timestamps_imported_constant_through_variable(project) -> None:
    root = _launch_project(
        project,
        "def announce(user):\n"
        "    copied = LAUNCH_MS\n"
        "    anniversary = copied + 365 * 86_400_000\n"
        "    cio.identify(user.id, anniversary_at=anniversary)\n",
    )

    result = run_cli(["--select", "CIO103", "--output-format", "json", "."], root)
    findings = result.json["findings"]

    assert [finding["line"] for finding in findings] == [6]
    assert findings[0]["fix"] is None


def test_timestamps_imported_constant_in_background_call(project) -> None:
    root = _launch_project(
        project,
        "def _customerio_in_background(method, *args, **kwargs):\n"
        "    method(*args, **kwargs)\n"
        "def announce(user):\n"
        "    _customerio_in_background(\n"
        '        cio.track, user.id, "launch_seen", data={"launched_at": LAUNCH_MS}\n'
        "    )\n",
    )

    result = run_cli(["--select", "CIO103", "--output-format", "json", "."], root)
    findings = result.json["findings"]

    assert [finding["line"] for finding in findings] == [7]
    assert findings[0]["fix"] is None


def test_timestamps_local_int_withholds_own_fix(project) -> None:
    body = (
        "def mark_seen(user):\n"
        "    cio.identify(id=user.id, seen_at=time.time() * 1000)\n\n\n"
        "def parse_rows(user, rows):\n"
        "    int = lambda v: v.strip()\n"
        "    cio.identify(id=user.id, parsed_at=time.time() * 1000)\n"
        "    return [int(r) for r in rows]\n"
    )

    findings = _findings(project, body)

    assert [finding["line"] for finding in findings] == [10, 15]
    assert findings[0]["fix"] == "safe"
    assert "not fixed" not in findings[0]["message"]
    assert findings[1]["fix"] is None
    assert findings[1]["message"].endswith(
        "(not fixed: this scope or one around it binds `int`, and cio-fix fixes"
        " timestamps only where `int` is the builtin)"
    )
