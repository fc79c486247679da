"""The event-name and SDK 3 fixes against the real customerio SDK and a local Track API.

The test starts an HTTPS server on 127.0.0.1 with a certificate from a
`trustme` authority, runs the code before and after `cio-fix --apply` in a
subprocess that trusts that authority, and reads the events the SDK sent.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from conftest import run_cli

RUN_TIMEOUT = 60

APP = """\
from customerio import CustomerIO

cio = CustomerIO("site", "key", host="127.0.0.1", port={port}, retries=0, timeout=10)


class Product:
    sku = "A-1"
    price = 9.5


def viewed():
    product = Product()
    cio.track(customer_id="42", name=f"viewed_{{product.sku}}")


def logged_in():
    form = {{"email": "ada@example.com"}}
    cio.track(customer_id="42", name=f"logged_in_{{form['email']}}")


def purchased():
    product = {{"sku": "B-2", "price": 12}}
    cio.track(customer_id="42", name=f"purchased_{{product['sku']}}", price=product["price"])


def refunded():
    cio.track(customer_id="42", name="refunded", amount=3, reason="size")
"""

# Runs each scenario of app.py and prints which ones raised TypeError.
RUNNER = """\
import json
import app

outcome = {}
for scenario in ("viewed", "logged_in", "purchased", "refunded"):
    try:
        getattr(app, scenario)()
        outcome[scenario] = "sent"
    except TypeError as error:
        outcome[scenario] = "TypeError"
print(json.dumps(outcome))
"""


@dataclass
class TrackApi:
    """The local Track API: its port, the CA file to trust, the events it received."""

    port: int
    ca_file: Path
    events: list[dict] = field(default_factory=list)


def _handler(events: list[dict]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            events.append({"path": self.path, "body": body})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@pytest.fixture
def track_api(tmp_path: Path) -> Iterator[TrackApi]:
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))

    events: list[dict] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(events))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}
    )
    thread.start()
    try:
        yield TrackApi(server.server_address[1], ca_file, events)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _run(project: Path, api: TrackApi) -> dict[str, str]:
    """Run every scenario of the project's app.py; return what each one did."""
    api.events.clear()
    environment = {
        key: value for key, value in os.environ.items() if "proxy" not in key.lower()
    }
    environment["REQUESTS_CA_BUNDLE"] = str(api.ca_file)
    environment["NO_PROXY"] = "*"
    completed = subprocess.run(
        [sys.executable, "runner.py"],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=True,
    )
    return json.loads(completed.stdout)


def _event(api: TrackApi, name: str) -> dict:
    for event in api.events:
        if event["body"].get("name") == name:
            return event["body"]
    raise AssertionError(f"no event {name!r} in {api.events}")


@pytest.fixture
def shop(tmp_path: Path, track_api: TrackApi) -> Path:
    project = tmp_path / "shop"
    project.mkdir()
    (project / "app.py").write_text(APP.format(port=track_api.port), encoding="utf-8")
    (project / "runner.py").write_text(RUNNER, encoding="utf-8")
    (project / "requirements.txt").write_text("customerio==3.2.0\n", encoding="utf-8")
    return project


def _fix(project: Path) -> None:
    run_cli(["--apply", "--select", "CIO301,CIO302,CIO701", "."], project)


def test_behaviour_dynamic_name_sent_before_fix(
    shop: Path, track_api: TrackApi
) -> None:
    outcome = _run(shop, track_api)

    assert outcome["viewed"] == "sent"
    assert _event(track_api, "viewed_A-1")["data"] == {}


def test_behaviour_static_name_after_fix(shop: Path, track_api: TrackApi) -> None:
    _fix(shop)
    outcome = _run(shop, track_api)

    assert outcome["viewed"] == "sent"
    assert _event(track_api, "viewed")["data"] == {"product_sku": "A-1"}
    assert track_api.events[0]["path"] == "/api/v1/customers/42/events"


def test_behaviour_email_leaves_name_after_fix(shop: Path, track_api: TrackApi) -> None:
    before = _run(shop, track_api)
    assert before["logged_in"] == "sent"
    assert _event(track_api, "logged_in_ada@example.com")["data"] == {}

    _fix(shop)
    _run(shop, track_api)

    assert _event(track_api, "logged_in")["data"] == {"email": "ada@example.com"}


def test_behaviour_sdk3_keywords_raise_before_fix(
    shop: Path, track_api: TrackApi
) -> None:
    outcome = _run(shop, track_api)

    assert outcome["purchased"] == "TypeError"
    assert outcome["refunded"] == "TypeError"


def test_behaviour_sdk3_keywords_sent_after_fix(
    shop: Path, track_api: TrackApi
) -> None:
    _fix(shop)
    outcome = _run(shop, track_api)

    assert outcome["purchased"] == "sent"
    assert outcome["refunded"] == "sent"
    assert _event(track_api, "purchased")["data"] == {"price": 12, "sku": "B-2"}
    assert _event(track_api, "refunded")["data"] == {"amount": 3, "reason": "size"}


def test_behaviour_second_apply_changes_nothing(shop: Path) -> None:
    _fix(shop)
    fixed = (shop / "app.py").read_bytes()
    _fix(shop)

    assert (shop / "app.py").read_bytes() == fixed


WRAPPERS_APP = """\
from customerio import CustomerIO

cio = CustomerIO("site", "key", host="127.0.0.1", port={port}, retries=0, timeout=10)


def track(customer_id, name, **options):
    cio.track(customer_id, name, **options)


def track_event(**kwargs):
    cio.track(**kwargs)


def wrapped():
    track("42", "order_placed", data={{"total": 10}}, timestamp=1718000000)


def forwarded():
    track_event(customer_id="42", name="order_shipped", data={{"carrier": "dhl"}})


def spread_dict():
    payload = {{"customer_id": "42", "name": "order_paid", "data": {{"total": 12}}}}
    cio.track(**payload)


def attribute_dict():
    extra = {{"plan": "pro"}}
    cio.track(customer_id="42", name="upgraded", **extra)
"""

WRAPPERS_RUNNER = RUNNER.replace(
    '("viewed", "logged_in", "purchased", "refunded")',
    '("wrapped", "forwarded", "spread_dict", "attribute_dict")',
)
PASSED_THROUGH = {
    "wrapped": "order_placed",
    "forwarded": "order_shipped",
    "spread_dict": "order_paid",
}


@pytest.fixture
def wrappers(tmp_path: Path, track_api: TrackApi) -> Path:
    project = tmp_path / "wrappers"
    project.mkdir()
    app = WRAPPERS_APP.format(port=track_api.port)
    (project / "app.py").write_text(app, encoding="utf-8")
    (project / "runner.py").write_text(WRAPPERS_RUNNER, encoding="utf-8")
    (project / "requirements.txt").write_text("customerio==3.2.0\n", encoding="utf-8")
    return project


def test_behaviour_sdk3_spreads_sent_alike_after_fix(
    wrappers: Path, track_api: TrackApi
) -> None:
    before = _run(wrappers, track_api)
    sent_before = {name: _event(track_api, name) for name in PASSED_THROUGH.values()}

    _fix(wrappers)
    after = _run(wrappers, track_api)

    assert before["attribute_dict"] == "TypeError"
    assert after["attribute_dict"] == "sent"
    assert _event(track_api, "upgraded")["data"] == {"plan": "pro"}
    for scenario, name in PASSED_THROUGH.items():
        assert before[scenario] == "sent", scenario
        assert after[scenario] == "sent", scenario
        assert _event(track_api, name) == sent_before[name], scenario


KEYWORDS_APP = """\
from customerio import CustomerIO

cio = CustomerIO("site", "key", host="127.0.0.1", port={port}, retries=0, timeout=10)


class Job:
    def kind(self):
        return "csv"

    def reason(self):
        return "done"


def now():
    return 1718000000


def plan_changed(plan="pro"):
    cio.track("42", "plan_" + plan, reason="price")


def renamed(name="ada"):
    cio.track("42", "renamed_" + name, reason="typo")


def exported(job=Job()):
    cio.track("42", "export_" + job.kind(), timestamp=now(), reason=job.reason())
"""

KEYWORDS_RUNNER = RUNNER.replace(
    '("viewed", "logged_in", "purchased", "refunded")',
    '("plan_changed", "renamed", "exported")',
)


@pytest.fixture
def keywords(tmp_path: Path, track_api: TrackApi) -> Path:
    project = tmp_path / "keywords"
    project.mkdir()
    app = KEYWORDS_APP.format(port=track_api.port)
    (project / "app.py").write_text(app, encoding="utf-8")
    (project / "runner.py").write_text(KEYWORDS_RUNNER, encoding="utf-8")
    (project / "requirements.txt").write_text("customerio==3.2.0\n", encoding="utf-8")
    return project


def test_behaviour_sdk3_built_names_full_run(
    keywords: Path, track_api: TrackApi
) -> None:
    before = _run(keywords, track_api)
    run_cli(["--apply", "."], keywords)
    after = _run(keywords, track_api)

    assert before == dict.fromkeys(("plan_changed", "renamed", "exported"), "TypeError")
    assert after == dict.fromkeys(("plan_changed", "renamed", "exported"), "sent")
    assert _event(track_api, "plan")["data"] == {"reason": "price", "plan": "pro"}
    assert _event(track_api, "renamed")["data"] == {"reason": "typo", "name": "ada"}
    # No place for the value keeps it before now(), so the name stays.
    assert _event(track_api, "export_csv")["data"] == {"reason": "done"}


# Values that JSON cannot encode, built into names. Each scenario's name
# before the fix is "<scenario>_<text>", and its attribute after the fix
# must be that text.
VALUES_APP = """\
import datetime
import decimal
import enum
import uuid

from customerio import CustomerIO

cio = CustomerIO("site", "key", host="127.0.0.1", port={port}, retries=0, timeout=10)


class Color(enum.IntEnum):
    RED = 1


class Product:
    def __str__(self):
        return "A-1"


def order(order_id: uuid.UUID = uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")):
    cio.track(customer_id="42", name=f"order_{{order_id}}")


def paid(total: decimal.Decimal = decimal.Decimal("9.99")):
    cio.track(customer_id="42", name="paid_{{}}".format(total))


def shipped(day: datetime.date = datetime.date(2024, 6, 1)):
    cio.track(customer_id="42", name="shipped_%s" % day)


def painted(color: Color = Color.RED):
    cio.track(customer_id="42", name=f"painted_{{color}}")


def viewed(product: Product = Product()):
    cio.track(customer_id="42", name=f"viewed_{{product}}")
"""

VALUE_SCENARIOS = ("order", "paid", "shipped", "painted", "viewed")

# Runs each scenario of app.py and prints whether it sent or what it raised.
VALUES_RUNNER = f"""\
import json
import app

outcome = {{}}
for scenario in {VALUE_SCENARIOS!r}:
    try:
        getattr(app, scenario)()
        outcome[scenario] = "sent"
    except Exception as error:
        outcome[scenario] = type(error).__name__
print(json.dumps(outcome))
"""


@pytest.fixture
def values_shop(tmp_path: Path, track_api: TrackApi) -> Path:
    project = tmp_path / "values"
    project.mkdir()
    app = VALUES_APP.format(port=track_api.port)
    (project / "app.py").write_text(app, encoding="utf-8")
    (project / "runner.py").write_text(VALUES_RUNNER, encoding="utf-8")
    (project / "requirements.txt").write_text("customerio==3.2.0\n", encoding="utf-8")
    return project


def test_behaviour_values_sent_as_name_text_after_fix(
    values_shop: Path, track_api: TrackApi
) -> None:
    before = _run(values_shop, track_api)
    names_before = [event["body"]["name"] for event in track_api.events]

    _fix(values_shop)
    after = _run(values_shop, track_api)

    assert before == dict.fromkeys(VALUE_SCENARIOS, "sent")
    assert after == dict.fromkeys(VALUE_SCENARIOS, "sent")
    assert len(names_before) == len(VALUE_SCENARIOS)
    for scenario, name in zip(VALUE_SCENARIOS, names_before, strict=True):
        text = name.removeprefix(f"{scenario}_")
        data = _event(track_api, scenario)["data"]
        assert list(data.values()) == [text], scenario
