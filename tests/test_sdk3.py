"""CIO701 on `**` spreads: which ones are reported, and why a fix is withheld."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli

HEADER = 'from customerio import CustomerIO\n\ncio = CustomerIO("site", "key")\n\n\n'


def _findings(project, body: str) -> list[dict]:
    root: Path = project(
        {"requirements.txt": "customerio==3.1.0\n", "app.py": HEADER + body}
    )
    result = run_cli(["--select", "CIO701", "--output-format", "json", "."], root)
    return result.json["findings"]


def test_sdk3_passthrough_not_reported(project) -> None:
    body = (
        "def track(customer_id, name, **options):\n"
        "    cio.track(customer_id, name, **options)\n"
        "\n\n"
        "def track_event(**kwargs):\n"
        "    cio.track(**kwargs)\n"
    )

    assert _findings(project, body) == []


def test_sdk3_parameter_dict_not_reported(project) -> None:
    body = (
        "def shipped(order):\n"
        '    payload = {"customer_id": order.user_id, "name": "shipped", "data": {}}\n'
        "    cio.track(**payload)\n"
    )

    assert _findings(project, body) == []


def test_sdk3_unknown_spread_beside_keyword(project) -> None:
    body = (
        "def purchased(uid, total, attrs):\n"
        '    cio.track(customer_id=uid, name="purchased", price=total, **attrs)\n'
    )

    findings = _findings(project, body)

    assert len(findings) == 1
    assert findings[0]["fix"] is None
    assert "`price`" in findings[0]["message"]
    assert "`**attrs` may also pass the track() parameters" in findings[0]["message"]


def test_sdk3_mixed_dict_report_only(project) -> None:
    body = (
        "def purchased(uid, total):\n"
        '    mixed = {"customer_id": uid, "price": total}\n'
        '    cio.track(name="purchased", **mixed)\n'
    )

    findings = _findings(project, body)

    assert len(findings) == 1
    assert findings[0]["fix"] is None
    assert (
        "`**mixed` passes the track() parameter `customer_id` together with"
        " the event attribute `price`" in findings[0]["message"]
    )


def test_sdk3_spread_with_data_report_only(project) -> None:
    body = (
        "def purchased(uid, total, when):\n"
        '    options = {"data": {"currency": "EUR"}, "timestamp": when}\n'
        '    cio.track(uid, "purchased", price=total, **options)\n'
    )

    findings = _findings(project, body)

    assert len(findings) == 1
    assert findings[0]["fix"] is None
    assert "`**options` already passes `data`" in findings[0]["message"]


def test_sdk3_shared_dict_report_only(project) -> None:
    body = (
        "def upgraded(uid, log):\n"
        '    attrs = {"plan": "pro"}\n'
        "    log.info(attrs)\n"
        '    cio.track(customer_id=uid, name="upgraded", **attrs)\n'
    )

    findings = _findings(project, body)

    assert len(findings) == 1
    assert findings[0]["fix"] is None
    assert "other code reads `attrs` too" in findings[0]["message"]


def test_sdk3_attribute_dict_fixed(project) -> None:
    body = (
        "def upgraded(uid):\n"
        '    attrs = {"plan": "pro"}\n'
        '    cio.track(customer_id=uid, name="upgraded", **attrs)\n'
    )

    findings = _findings(project, body)

    assert len(findings) == 1
    assert findings[0]["fix"] == "safe"


# Partials whose calls cio-fix cannot all see, or that may replace the moved
# `data`, each with the reason its finding gives.
PARTIAL_REPORT_ONLY = [
    (
        "def returned(uid, plan):\n"
        '    return functools.partial(cio.track, uid, "upgraded", plan=plan)\n',
        "cio-fix cannot see every call of the partial",
    ),
    (
        'module_level = functools.partial(cio.track, "anonymous", "visited", page="/")\n',
        "cio-fix cannot see every call of the partial",
    ),
    (
        "def handed_on(executor, uid, plan):\n"
        '    send = functools.partial(cio.track, uid, "upgraded", plan=plan)\n'
        "    executor.submit(send)\n",
        "`send` is used other than in a call",
    ),
    (
        "def called_with_data(uid, plan):\n"
        '    send = functools.partial(cio.track, uid, "upgraded", plan=plan)\n'
        '    send(data={"source": "web"})\n',
        "passes `data`, which would replace the one the fix adds",
    ),
    (
        "def called_with_attribute(uid, plan):\n"
        '    send = functools.partial(cio.track, uid, "upgraded", plan=plan)\n'
        '    send(source="web")\n',
        "passes the event attribute `source` too",
    ),
    (
        "def called_with_spread(uid, plan, options):\n"
        '    send = functools.partial(cio.track, uid, "upgraded", plan=plan)\n'
        "    send(**options)\n",
        "`send(**options)` passes `**` arguments",
    ),
    (
        "def data_by_position(uid, plan):\n"
        '    send = functools.partial(cio.track, uid, "upgraded", plan=plan)\n'
        '    send({"source": "web"})\n',
        "passes `data` by position",
    ),
    (
        "def partial_with_data(uid, plan, attrs):\n"
        '    send = functools.partial(cio.track, uid, "upgraded", data=attrs, plan=plan)\n'
        "    send()\n",
        "the partial passes `data`",
    ),
]


@pytest.mark.parametrize(("body", "reason"), PARTIAL_REPORT_ONLY)
def test_sdk3_partial_report_only(project, body: str, reason: str) -> None:
    findings = _findings(project, "import functools\n\n\n" + body)

    assert findings[0]["fix"] is None
    assert reason in findings[0]["message"]
    # A call that passes event attributes of its own is reported too.
    assert len(findings) == (2 if "event attribute" in reason else 1)
    assert all(finding["fix"] is None for finding in findings)


def test_sdk3_partial_called_here_fixed(project) -> None:
    body = (
        "import functools\n\n\n"
        "def upgraded(uid, plan, now):\n"
        '    send = functools.partial(cio.track, uid, "upgraded", plan=plan)\n'
        "    send(timestamp=now)\n"
    )

    findings = _findings(project, body)

    assert len(findings) == 1
    assert findings[0]["fix"] == "safe"


KEYWORD_CALLS = (
    "def order(uid, total):\n"
    '    cio.track(uid, "order_placed", total=total)\n'
    "\n\n"
    "def plan(uid, kind):\n"
    '    cio.track(uid, "plan_" + kind)\n'
)


@pytest.mark.parametrize(
    ("pin", "allowed"),
    [
        (">=2", "2.x or 3.x"),
        (">=1.6,<4", "1.x, 2.x or 3.x"),
        (">=1.2", "1.x, 2.x or 3.x"),
    ],
)
def test_sdk3_range_names_allowed_majors(project, pin: str, allowed: str) -> None:
    root = project(
        {"requirements.txt": f"customerio{pin}\n", "app.py": HEADER + KEYWORD_CALLS}
    )

    result = run_cli(["--select", "CIO701", "--output-format", "json", "."], root)

    [finding] = result.json["findings"]
    assert finding["fix"] is None
    assert "declare the customerio version" not in finding["message"]
    assert (
        f"(not fixed: requirements.txt allows customerio {allowed})"
        in finding["message"]
    )


@pytest.mark.parametrize("pin", ["<3", "<=2.9", ">=1.6,<3", "!=3.*", "~=2.1"])
def test_sdk3_below_3_not_reported(project, pin: str) -> None:
    root = project(
        {"requirements.txt": f"customerio{pin}\n", "app.py": HEADER + KEYWORD_CALLS}
    )

    result = run_cli(["--output-format", "json", "--no-cache", "."], root)
    diff = run_cli(["--dry-run", "--no-cache", "."], root)

    [finding] = result.json["findings"]
    assert finding["code"] == "CIO301"
    assert finding["fix"] == "safe"
    assert '+    cio.track(uid, "plan", kind=kind)' in diff.stdout


def test_sdk3_two_majors_allowed_report_only(project) -> None:
    root = project(
        {"requirements.txt": "customerio>=2,<4\n", "app.py": HEADER + KEYWORD_CALLS}
    )

    result = run_cli(["--output-format", "json", "--no-cache", "."], root)

    cio701, cio301 = result.json["findings"]
    assert cio701["code"] == "CIO701"
    assert cio701["fix"] is None
    assert (
        "(not fixed: requirements.txt allows customerio 2.x or 3.x)"
        in cio701["message"]
    )
    assert cio301["fix"] is None
    assert (
        "the customerio version is unknown because requirements.txt allows"
        " customerio 2.x or 3.x" in cio301["message"]
    )
