"""Identity rules (CIO201, CIO202, CIO203, CIO401) and wrong API keys (CIO102).

The fixtures under tests/fixtures/ cover what each rule reports and fixes.
These tests cover the helpers' tables, project-level reporting, messages
and configuration, and the order in which the real SDK sends requests
after the CIO201 fix.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import libcst as cst
import pytest
import trustme

from cio_fix.codemods.identity import creates_profile, is_email_expression
from cio_fix.codemods.keys import named_role
from cio_fix.customerio import build_index

from conftest import FIXTURES, run_cli

# -- helper tables ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("user.email", True),
        ("email", True),
        ("contact_email", True),
        ('form["email"]', True),
        ("form.get('email')", True),
        ("user.email.lower()", True),
        ('"ops@shop.example"', True),
        ("user.id", False),
        ("user.email_hash", False),
        ("hashed_email", False),
        ("sha256_email", False),
        ("SHA256Email", False),
        ("md5_email", False),
        ("MD5Email", False),
        ("hmac_email", False),
        ("hmacEmail", False),
        ("pseudonymized_email", False),
        ("pseudonymised_email", False),
        ("anonymized_email", False),
        ("obfuscated_email", False),
        ("tokenized_email", False),
        ("user.encrypted_email", False),
        ('row["masked_email"]', False),
        ("md_email", True),
        ("primary_email", True),
        ("shared_email", True),
        ("email_token", False),
        ('"@handle"', False),
        ('"support-team"', False),
        ('form["id"]', False),
        ("user.email_verified", False),
        ("customer_id_by_email", False),
        ("id_for_email", False),
        ("userIdForEmail", False),
        ("user_id_from_email", False),
        ("domain_of_email", False),
        ('row["pk_from_email"]', False),
        ("from_email", True),
        ("DEFAULT_FROM_EMAIL", True),
        ("sender_from_email", True),
        ("reply_to_email", True),
    ],
)
def test_email_expression_table(code: str, expected: bool) -> None:
    assert is_email_expression(cst.parse_expression(code)) is expected


def _function(source: str, name: str):
    index = build_index(cst.parse_module(source), "module", False)
    return next(function for function in index.functions if function.name == name)


@pytest.mark.parametrize(
    ("source", "name", "expected"),
    [
        ("def signup(): pass", "signup", True),
        ("def sign_up(): pass", "sign_up", True),
        ("def handle_signUp(): pass", "handle_signUp", True),
        ("def register(): pass", "register", True),
        ("def register_user(): pass", "register_user", True),
        ("def create_account(): pass", "create_account", True),
        ("def on_user_created(): pass", "on_user_created", True),
        (
            "class UserViewSet:\n    def perform_create(self): pass",
            "perform_create",
            True,
        ),
        ("class SignupView:\n    def post(self): pass", "post", True),
        ("class UserRegistrationView:\n    def post(self): pass", "post", True),
        ("def signup_view(): pass", "signup_view", True),
        ("def signup_user(): pass", "signup_user", True),
        ("def record_signup_source(): pass", "record_signup_source", False),
        ("def signup_report(): pass", "signup_report", False),
        ("def register_device(): pass", "register_device", False),
        ("def create_user_report(): pass", "create_user_report", False),
        ("def update_profile(): pass", "update_profile", False),
        ("def login(): pass", "login", False),
        ("class DeviceRegistrationView:\n    def post(self): pass", "post", False),
        ("class UserOrderViewSet:\n    def create(self): pass", "create", False),
        ("class SignupView:\n    def get(self): pass", "get", False),
    ],
)
def test_creates_profile_table(source: str, name: str, expected: bool) -> None:
    assert creates_profile(_function(source, name)) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("CUSTOMERIO_TRACK_API_KEY", "track_api_key"),
        ("trackingApiKey", "track_api_key"),
        ("CIO_SITE_ID", "site_id"),
        ("SITEID", "site_id"),
        ("CUSTOMERIO_APP_API_KEY", "app_api_key"),
        ("appKey", "app_api_key"),
        ("CUSTOMERIO_API_KEY", None),
        ("WHATSAPP_BRIDGE_KEY", None),
        ("SITEMAP_KEY", None),
        ("APP_SITE_ID", None),
    ],
)
def test_named_role_table(name: str, expected: str | None) -> None:
    assert named_role(name) == expected


# -- project-level reporting ----------------------------------------------------------

CLIENT = 'from customerio import CustomerIO\n\ncio = CustomerIO("site", "key")\n'
BROWSE = (
    "from app.clients import cio\n\n\n"
    "def pricing(visitor):\n"
    '    cio.track_anonymous(anonymous_id=visitor, name="viewed_pricing")\n'
)
ACCOUNTS = (
    "from app.clients import cio\n\n\n"
    "def signup(user):\n"
    "    cio.identify(id=user.id, email=user.email)\n"
)


def _anonymous_project(project) -> Path:  # type: ignore[no-untyped-def]
    return project(
        {
            "app/__init__.py": "",
            "app/clients.py": CLIENT,
            "app/browse.py": BROWSE,
            "app/search.py": BROWSE.replace("viewed_pricing", "searched"),
            "app/accounts.py": ACCOUNTS,
        }
    )


def test_anonymous_id_reported_once(project) -> None:  # type: ignore[no-untyped-def]
    root = _anonymous_project(project)

    findings = run_cli(
        ["--select", "CIO203", "--output-format", "json", "."], root
    ).json["findings"]

    assert len(findings) == 1


def test_anonymous_id_points_at_first_event(project) -> None:  # type: ignore[no-untyped-def]
    root = _anonymous_project(project)

    finding = run_cli(
        ["--select", "CIO203", "--output-format", "json", "."], root
    ).json["findings"][0]

    assert (finding["path"], finding["line"]) == ("app/browse.py", 5)


def test_anonymous_id_lists_other_places(project) -> None:  # type: ignore[no-untyped-def]
    root = _anonymous_project(project)

    message = run_cli(
        ["--select", "CIO203", "--output-format", "json", "."], root
    ).json["findings"][0]["message"]

    assert "Identify calls: app/accounts.py:5." in message
    assert "Other track_anonymous calls: app/search.py:5." in message


def test_anonymous_id_has_no_fix(project) -> None:  # type: ignore[no-untyped-def]
    root = _anonymous_project(project)

    finding = run_cli(
        ["--select", "CIO203", "--output-format", "json", "."], root
    ).json["findings"][0]

    assert finding["fix"] is None


# -- unsafe fixes and messages ---------------------------------------------------------

EMAIL_ID = (
    'from customerio import CustomerIO\n\ncio = CustomerIO("site", "key")\n\n\n'
    "def login(user):\n"
    "    cio.identify(id=user.email)\n"
)


def test_email_id_fix_is_unsafe(project) -> None:  # type: ignore[no-untyped-def]
    root = project({"app.py": EMAIL_ID})

    finding = run_cli(
        ["--select", "CIO202", "--output-format", "json", "."], root
    ).json["findings"][0]

    assert finding["fix"] == "unsafe"


def test_email_id_apply_without_flag_keeps_file(project) -> None:  # type: ignore[no-untyped-def]
    root = project({"app.py": EMAIL_ID})

    outcome = run_cli(["--apply", "--select", "CIO202", "."], root)

    assert (root / "app.py").read_text(encoding="utf-8") == EMAIL_ID
    assert "1 unsafe fix available with `--unsafe-fixes`" in outcome.stdout


def test_email_id_message_explains_merge(project) -> None:  # type: ignore[no-untyped-def]
    root = project({"app.py": EMAIL_ID})

    message = run_cli(
        ["--select", "CIO202", "--output-format", "json", "."], root
    ).json["findings"][0]["message"]

    assert "`merge_customers`" in message
    assert "`user.id`" in message


WRAPPED_IDENTIFY = (
    "import os\n\n"
    "from customerio import CustomerIO\n\n"
    'us = CustomerIO(os.environ["CIO_US_SITE_ID"], os.environ["CIO_US_KEY"])\n\n\n'
    "def identify_us(uid, **attrs):\n"
    "    us.identify(id=uid, **attrs)\n\n\n"
    "def upgrade(uid, plan):\n"
    '    us.track(customer_id=uid, name="upgraded")\n'
    "    identify_us(uid, plan=plan)\n\n\n"
    "def signup(user):\n"
    '    identify_us(user.email, plan="free")\n'
)


@pytest.mark.parametrize(
    ("code", "ending"),
    [
        ("CIO201", "Send the identify first"),
        ("CIO202", "merged into the new ones with `merge_customers`"),
    ],
)
def test_wrapper_reason_inside_sentence(project, code: str, ending: str) -> None:  # type: ignore[no-untyped-def]
    root = project(
        {"requirements.txt": "customerio==3.0.0\n", "sync.py": WRAPPED_IDENTIFY}
    )
    expected = f"{ending} (not fixed: the call goes through the wrapper `identify_us`)."

    result = run_cli(["--select", code, "--output-format", "json", "."], root)
    text = run_cli(["--select", code, "--no-diff", "."], root)

    [finding] = result.json["findings"]
    assert finding["message"].endswith(expected)
    assert ". (not fixed" not in finding["message"]
    assert f"{code} {finding['message']}\n" in text.stdout


def test_missing_email_message_names_function(project) -> None:  # type: ignore[no-untyped-def]
    source = (
        'from customerio import CustomerIO\n\ncio = CustomerIO("site", "key")\n\n\n'
        "class UserViewSet:\n"
        "    def create(self, request):\n"
        '        cio.identify(id=request.user.id, plan="free")\n'
    )
    root = project({"app.py": source})

    message = run_cli(
        ["--select", "CIO401", "--output-format", "json", "."], root
    ).json["findings"][0]["message"]

    assert "`UserViewSet.create`, which is named for creating profiles" in message
    assert "a profile created here cannot receive email" in message
    assert "Add `email=request.user.email`." in message


WRONG_KEY = (
    '"""Transactional email."""\n\n'
    "from customerio import APIClient\n"
    "from django.conf import settings\n\n"
    "mailer = APIClient(key=settings.CIO_SITE_ID)\n"
)


def test_wrong_key_fix_imports_os(project) -> None:  # type: ignore[no-untyped-def]
    root = project({"mail.py": WRONG_KEY})

    run_cli(["--apply", "--unsafe-fixes", "--select", "CIO102", "."], root)

    lines = (root / "mail.py").read_text(encoding="utf-8").splitlines()
    assert "import os" in lines
    assert 'mailer = APIClient(key=os.environ["CUSTOMERIO_APP_API_KEY"])' in lines


def test_wrong_key_reuses_project_variable(project) -> None:  # type: ignore[no-untyped-def]
    settings = 'import os\n\nCIO_APP_KEY_VALUE = os.environ["CIO_APP_KEY"]\n'
    root = project({"mail.py": WRONG_KEY, "other.py": "import customerio\n" + settings})

    run_cli(["--apply", "--unsafe-fixes", "--select", "CIO102", "."], root)

    assert 'os.environ["CIO_APP_KEY"]' in (root / "mail.py").read_text(encoding="utf-8")


def test_wrong_key_hides_literal_key(project) -> None:  # type: ignore[no-untyped-def]
    key = "0a1b2c3d4e5f6a7b8c9d"
    source = (
        "from customerio import APIClient, CustomerIO\n\n"
        f'track = CustomerIO("3f9a0c1d2e4b5a69c7d1", "{key}")\n'
        f'api = APIClient("{key}")\n'
    )
    root = project({"app.py": source})

    outcome = run_cli(["--select", "CIO102", "--output-format", "json", "."], root)

    assert [finding["code"] for finding in outcome.json["findings"]] == ["CIO102"]
    assert key not in outcome.stdout


# -- configuration -------------------------------------------------------------------------


def test_customer_id_attribute_rejects_non_name(project) -> None:  # type: ignore[no-untyped-def]
    root = project(
        {
            "pyproject.toml": '[tool.cio-fix]\ncustomer-id-attribute = "user id"\n',
            "app.py": EMAIL_ID,
        }
    )

    outcome = run_cli(["."], root)

    assert outcome.exit_code == 2
    assert "customer-id-attribute must be a Python attribute name" in outcome.stderr


# -- the CIO201 reorder against a local Track API server ---------------------------------

SIGNUP = """\
import json
import os

from customerio import CustomerIO

cio = CustomerIO(
    "site",
    "key",
    host="127.0.0.1",
    port=int(os.environ["TRACK_API_PORT"]),
    retries=0,
    timeout=10,
)


def signup(form):
    cio.track(customer_id=form["id"], name="signed_up")
    cio.identify(id=form["id"], email=form["email"])


if __name__ == "__main__":
    signup({"id": "42", "email": "person@example.com"})
"""
IDENTIFY_REQUEST = ("PUT", "/api/v1/customers/42")
TRACK_REQUEST = ("POST", "/api/v1/customers/42/events")
# Bounds for the server and for the script that talks to it, in seconds.
REQUEST_TIMEOUT = 10
SCRIPT_TIMEOUT = 60


class _TrackApi(BaseHTTPRequestHandler):
    """Record each request's method and path, and respond with 200 as the Track API does."""

    timeout = REQUEST_TIMEOUT
    server: _RecordingServer

    def do_PUT(self) -> None:
        self._record()

    def do_POST(self) -> None:
        self._record()

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self.server.requests.append((self.command, self.path))
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


class _RecordingServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _TrackApi)
        self.requests: list[tuple[str, str]] = []


@pytest.fixture
def track_api(tmp_path: Path) -> Iterator[tuple[_RecordingServer, Path]]:
    """Serve a recording Track API over HTTPS on 127.0.0.1, with a CA file that trusts it.

    The customerio SDK (3.x) always builds https:// URLs, so the server
    needs a certificate, which trustme issues for 127.0.0.1.
    """
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))

    server = _RecordingServer()
    # The TLS handshake happens on the first read in the handler thread, under
    # the handler's timeout, so a stalled client cannot block the accept loop.
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server, ca_file
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=REQUEST_TIMEOUT)


def _run_signup(
    script: Path, server: _RecordingServer, ca_file: Path
) -> list[tuple[str, str]]:
    """Run the script with the real SDK against `server`, and return the requests it received."""
    server.requests.clear()
    environment = {
        name: value
        for name, value in os.environ.items()
        if name.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    environment.update(
        {
            "TRACK_API_PORT": str(server.server_address[1]),
            "REQUESTS_CA_BUNDLE": str(ca_file),
            "NO_PROXY": "127.0.0.1",
        }
    )
    subprocess.run(
        [sys.executable, str(script)],
        env=environment,
        check=True,
        capture_output=True,
        timeout=SCRIPT_TIMEOUT,
    )
    return list(server.requests)


def test_reorder_sends_identify_first(tmp_path: Path, track_api) -> None:  # type: ignore[no-untyped-def]
    server, ca_file = track_api
    folder = tmp_path / "project"
    folder.mkdir()
    script = folder / "signup.py"
    script.write_text(SIGNUP, encoding="utf-8")
    before = _run_signup(script, server, ca_file)

    run_cli(["--apply", "--select", "CIO201", "."], folder)
    after = _run_signup(script, server, ca_file)

    assert before == [TRACK_REQUEST, IDENTIFY_REQUEST]
    assert sorted(after) == sorted(before)
    assert after.index(IDENTIFY_REQUEST) < after.index(TRACK_REQUEST)


SHARED_LINE = """\
from customerio import CustomerIO

cio = CustomerIO("site", "key")


def signup(uid):
    cio.track(customer_id=uid, name="signed_up")
    count = 1; cio.identify(id=uid, email="a@example.com"); count += 1
    return count
"""


def test_identity_shared_line_reason(project) -> None:  # type: ignore[no-untyped-def]
    root = project({"app.py": SHARED_LINE})

    result = run_cli(["--output-format", "json", "--select", "CIO201", "."], root)

    [finding] = result.json["findings"]
    assert finding["fix"] is None
    assert finding["message"].endswith(
        "(cio-fix does not move calls that share their line with other statements)."
    )


# -- the CIO201 reorder and what identify sends -------------------------------------------

# A customerio module that records a copy of each call's keyword arguments,
# because the SDK serializes them when the call runs.
RECORDING_SDK = """\
import copy

CALLS = []


class CustomerIO:
    def __init__(self, site_id, api_key):
        pass

    def identify(self, **attributes):
        CALLS.append(("identify", copy.deepcopy(attributes)))

    def track(self, **data):
        CALLS.append(("track", copy.deepcopy(data)))
"""
PLANS = """\
from customerio import CustomerIO

cio = CustomerIO("site", "key")


def change_plan(user, new_plan):
    profile = user.profile
    cio.track(customer_id=user.id, name="plan_changed", plan=new_plan)
    profile.plan = new_plan
    cio.identify(id=user.id, plan=user.profile.plan)


def add_tag(user, tag):
    tags = user.tags
    cio.track(customer_id=user.id, name="tag_added", tag=tag)
    tags.append(tag)
    cio.identify(id=user.id, tags=user.tags)


def sign_up(user, order):
    profile = user.profile
    cio.track(customer_id=user.id, name="signed_up")
    orders = [order]
    cio.identify(id=user.id, plan=profile.plan)
    return orders
"""
PLANS_CHECK = """\
import json
from types import SimpleNamespace

import customerio
import plans

user = SimpleNamespace(id=1, profile=SimpleNamespace(plan="free"), tags=[])
plans.change_plan(user, "pro")
plans.add_tag(user, "vip")
plans.sign_up(user, SimpleNamespace(total=5))
print(json.dumps(customerio.CALLS))
"""


def _recorded_calls(folder: Path, stubs: Path) -> list[list[object]]:
    """Run check.py in `folder` with the recording SDK, and return the calls it made."""
    environment = {**os.environ, "PYTHONPATH": f"{stubs}{os.pathsep}{folder}"}
    completed = subprocess.run(
        [sys.executable, "check.py"],
        cwd=folder,
        env=environment,
        check=True,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
    )
    return json.loads(completed.stdout)  # type: ignore[no-any-return]


def test_reorder_keeps_identify_attributes(tmp_path: Path) -> None:
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "customerio.py").write_text(RECORDING_SDK, encoding="utf-8")
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "plans.py").write_text(PLANS, encoding="utf-8")
    (folder / "check.py").write_text(PLANS_CHECK, encoding="utf-8")
    before = _recorded_calls(folder, stubs)

    run_cli(["--apply", "--select", "CIO201", "."], folder)
    after = _recorded_calls(folder, stubs)
    identifies_before = [call for call in before if call[0] == "identify"]
    identifies_after = [call for call in after if call[0] == "identify"]

    assert identifies_after == identifies_before
    # Only the identify of sign_up moves, because nothing between its calls
    # changes what it sends.
    assert after[4:] == [before[5], before[4]]
    assert after[:4] == before[:4]


REGISTRATION = """\
import asyncio

from customerio import CustomerIO

cio = CustomerIO("site", "key")


class Database:
    def commit(self):
        raise RuntimeError("commit failed")


def register(form):
    cio.track(customer_id=form["id"], name="registered")
    Database().commit()
    cio.identify(id=form["id"], email=form["email"])


async def register_async(form):
    cio.track(customer_id=form["id"], name="registered")
    await asyncio.sleep(0)
    cio.identify(id=form["id"], email=form["email"])


def register_plan(form):
    cio.track(customer_id=form["id"], name="registered")
    plan = form["plan"]
    cio.identify(id=form["id"], email=form["email"])
    return plan
"""
REGISTRATION_CHECK = """\
import asyncio
import json

import customerio
import registration


async def cancel_registration():
    task = asyncio.ensure_future(registration.register_async({"id": 2, "email": "b@x.io"}))
    await asyncio.sleep(0)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


try:
    registration.register({"id": 1, "email": "a@x.io"})
except RuntimeError:
    pass
asyncio.run(cancel_registration())
try:
    registration.register_plan({"id": 3, "email": "c@x.io"})
except KeyError:
    pass
print(json.dumps(customerio.CALLS))
"""


def test_reorder_keeps_failed_handler_calls(tmp_path: Path) -> None:
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "customerio.py").write_text(RECORDING_SDK, encoding="utf-8")
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "registration.py").write_text(REGISTRATION, encoding="utf-8")
    (folder / "check.py").write_text(REGISTRATION_CHECK, encoding="utf-8")
    before = _recorded_calls(folder, stubs)

    run_cli(["--apply", "--select", "CIO201", "."], folder)
    after = _recorded_calls(folder, stubs)

    # The commit raises, the task is cancelled at the await and the form
    # has no plan, so no handler reaches its identify.
    assert [call[0] for call in before] == ["track", "track", "track"]
    assert after == before


@pytest.mark.parametrize(
    "between",
    [
        "db.commit()",
        "await db.flush()",
        "order.total = 0",
        'cache["last"] = "ordered"',
        "total = order.compute_total()",
        "first, second = order.items",
        "with db.begin():\n        pass",
        'plan = order["plan"]',
        "total = order.total",
        "share = 1 / order",
        "count = order + 1",
        "total += 1",
        "counts = {order: 1}",
        "seen = {order}",
        "items = [*order]",
        "label = f'{order:d}'",
        "total = int(order)",
        "total = len(order)",
    ],
)
def test_reorder_withheld_past_raising_code(project, between: str) -> None:
    source = (
        "from customerio import CustomerIO\n\n"
        'cio = CustomerIO("site", "key")\n\n\n'
        "async def checkout(user, order, db, cache):\n"
        '    cio.track(customer_id=user.id, name="ordered")\n'
        f"    {between}\n"
        "    cio.identify(id=user.id, email=user.email)\n"
    )
    root = project({"app.py": source})

    result = run_cli(["--output-format", "json", "--select", "CIO201", "."], root)

    [finding] = result.json["findings"]
    assert finding["fix"] is None
    assert finding["message"].endswith(
        "(cio-fix does not move it past code that may skip the identify)."
    )


@pytest.mark.parametrize(
    "data", ["order.summary()", 'order["total"]', "order.total", "{**order}"]
)
def test_reorder_withheld_for_raising_track(project, data: str) -> None:
    source = (
        "from customerio import CustomerIO\n\n"
        'cio = CustomerIO("site", "key")\n\n\n'
        "def checkout(user, order):\n"
        f'    cio.track(customer_id=user.id, name="ordered", data={data})\n'
        "    cio.identify(id=user.id, email=user.email)\n"
    )
    root = project({"app.py": source})

    result = run_cli(["--output-format", "json", "--select", "CIO201", "."], root)

    [finding] = result.json["findings"]
    assert finding["fix"] is None
    assert finding["message"].endswith(
        "(cio-fix does not move it above the track, whose own arguments may raise,"
        " and then the original code sends no identify)."
    )


ATTRIBUTE_CLIENTS = """\
import os

from customerio import CustomerIO


class Signup:
    def __init__(self):
        self.events = CustomerIO(os.environ["CIO_SITE_ID"], os.environ["CIO_API_KEY"])
        self.profiles = CustomerIO(os.environ["CIO_SITE_ID"], os.environ["CIO_API_KEY"])

    def signup(self, user):
        self.events.track(customer_id=user.id, name="signed_up")
        self.profiles.identify(id=user.id, email=user.email)
"""


def test_reorder_withheld_for_raising_receiver(project) -> None:  # type: ignore[no-untyped-def]
    root = project({"app.py": ATTRIBUTE_CLIENTS})

    result = run_cli(["--output-format", "json", "--select", "CIO201", "."], root)

    [finding] = result.json["findings"]
    assert finding["fix"] is None
    assert finding["message"].endswith(
        "(cio-fix does not move it above the track, whose receiver `self.events`"
        " may raise, and then the original code sends no identify)."
    )


def test_reorder_withheld_for_raising_receiver_and_arguments(project) -> None:  # type: ignore[no-untyped-def]
    source = ATTRIBUTE_CLIENTS.replace(
        'name="signed_up")', 'name="signed_up", data=user.profile)'
    )
    root = project({"app.py": source})

    result = run_cli(["--output-format", "json", "--select", "CIO201", "."], root)

    [finding] = result.json["findings"]
    assert finding["fix"] is None
    assert finding["message"].endswith(
        "(cio-fix does not move it above the track, whose receiver `self.events`"
        " and own arguments may raise, and then the original code sends no"
        " identify)."
    )


UNKNOWN_WORKSPACES = """\
from customerio import CustomerIO


def signup(user, events: CustomerIO, profiles: CustomerIO):
    events.track(customer_id=user.id, name="signed_up")
    profiles.identify(id=user.id, email=user.email)
"""


def test_reorder_withheld_for_unknown_workspace(project) -> None:  # type: ignore[no-untyped-def]
    root = project({"app.py": UNKNOWN_WORKSPACES})

    result = run_cli(["--output-format", "json", "--select", "CIO201", "."], root)

    [finding] = result.json["findings"]
    assert finding["fix"] is None
    assert finding["message"].endswith(
        "(cio-fix does not move it, because it cannot tell whether `profiles` sends"
        " to the same workspace as `events`, and an identify sent to another"
        " workspace does not create this person)."
    )


# A track and an identify through `cio`, whose binding at the identify
# depends on a branch, a loop, a value or code that runs elsewhere.
REBOUND_ALIAS = """\
import os

from customerio import CustomerIO

us = CustomerIO(os.environ["CIO_US_SITE_ID"], os.environ["CIO_US_API_KEY"])
eu = CustomerIO(os.environ["CIO_EU_SITE_ID"], os.environ["CIO_EU_API_KEY"])


def move(user, ready):
    cio = us
    cio.track(customer_id=user.id, name="moved")
{between}
    cio.identify(id=user.id)
"""


@pytest.mark.parametrize(
    "between",
    [
        "    if ready: cio = eu",
        "    while ready:\n        cio = eu",
        "    print(cio := eu)",
        "    cio = eu if ready else us",
        "    def switch():\n        nonlocal cio\n        cio = eu\n    switch()",
        "    del cio\n    cio = eu",
    ],
)
def test_alias_unknown_binding_still_pairs(project, between: str) -> None:  # type: ignore[no-untyped-def]
    root = project({"app.py": REBOUND_ALIAS.format(between=between)})

    result = run_cli(["--output-format", "json", "--select", "CIO201", "."], root)

    [finding] = result.json["findings"]
    assert finding["line"] == 11
    assert finding["fix"] is None


US_CLIENT = """\
import os

from customerio import CustomerIO

us = CustomerIO(os.environ["CIO_US_SITE_ID"], os.environ["CIO_US_API_KEY"])
"""
EU_CLIENT = US_CLIENT.replace("us =", "eu =").replace("_US_", "_EU_")

# The same calls through clients imported from two modules, whose
# workspaces cio-fix cannot compare, once direct and once through a local
# alias that a plain assignment binds again.
IMPORTED_ALIAS = """\
from clients_eu import eu
from clients_us import us


def move_direct(user):
    us.track(customer_id=user.id, name="moved")
    eu.identify(id=user.id)


def move_alias(user):
    cio = us
    cio.track(customer_id=user.id, name="moved")
    cio = eu
    cio.identify(id=user.id)
"""


def test_alias_of_imported_client_reason(project) -> None:  # type: ignore[no-untyped-def]
    root = project(
        {
            "clients_us.py": US_CLIENT,
            "clients_eu.py": EU_CLIENT,
            "app.py": IMPORTED_ALIAS,
        }
    )

    result = run_cli(["--output-format", "json", "--select", "CIO201", "."], root)
    findings = {finding["line"]: finding for finding in result.json["findings"]}

    assert sorted(findings) == [6, 12]
    reason = (
        "(cio-fix does not move it, because it cannot tell whether `eu` sends to"
        " the same workspace as `us`, and an identify sent to another workspace"
        " does not create this person)."
    )
    assert findings[6]["message"].endswith(reason)
    assert findings[12]["message"].endswith(reason)
    assert findings[12]["fix"] is None


def test_imported_clients_of_one_module(project) -> None:  # type: ignore[no-untyped-def]
    folder = FIXTURES / "CIO201" / "imported_clients_of_other_workspaces" / "svc"
    files = {
        f"svc/{name}": (folder / name).read_text(encoding="utf-8")
        for name in ("__init__.py", "clients.py", "migrate.py")
    }
    root = project(files)

    result = run_cli(["--output-format", "json", "--select", "CIO201", "."], root)
    findings = {finding["line"]: finding for finding in result.json["findings"]}

    # `us` and `eu` of one module with two site ids do not pair, through an
    # alias (line 14) or directly (line 20). A client of this module and
    # one imported may share a workspace (line 38).
    assert sorted(findings) == [26, 31, 38]
    assert findings[26]["fix"] == "safe"
    assert findings[31]["fix"] == "safe"
    assert findings[38]["fix"] is None
    assert "whether `us` sends to the same workspace as `us_local`" in (
        findings[38]["message"]
    )


def test_wrapper_workspace_from_its_client(project) -> None:  # type: ignore[no-untyped-def]
    folder = FIXTURES / "CIO201" / "wrapper_functions"
    root = project(
        {
            "app.py": (folder / "app.py").read_text(encoding="utf-8"),
            "helpers.py": (folder / "helpers.py").read_text(encoding="utf-8"),
        }
    )

    result = run_cli(["--output-format", "json", "--select", "CIO201", "."], root)
    findings = {finding["line"]: finding for finding in result.json["findings"]}

    # `mirror` on line 36 identifies through the wrapper of the EU client.
    assert sorted(findings) == [25, 30, 42]
    assert findings[42]["message"].endswith(
        "(cio-fix does not move it, because it cannot tell whether `send_profile`"
        " sends to the same workspace as `track_event`, and an identify sent to"
        " another workspace does not create this person)."
    )


# A customerio module whose clients record each call with their site id,
# and whose identify raises for the site ids listed in FAIL_SITES.
WORKSPACE_SDK = """\
import os

CALLS = []


class CustomerIO:
    def __init__(self, site_id, api_key):
        self.site_id = site_id

    def identify(self, id, **attributes):
        if self.site_id in os.environ.get("FAIL_SITES", "").split(","):
            raise RuntimeError(f"workspace {self.site_id} is down")
        CALLS.append((self.site_id, "identify", id))

    def track(self, customer_id, name, data=None):
        CALLS.append((self.site_id, "track", customer_id, name))
"""
MIRROR = """\
import os

from customerio import CustomerIO

us = CustomerIO(os.environ["CIO_US_SITE_ID"], os.environ["CIO_US_API_KEY"])
eu = CustomerIO(os.environ["CIO_EU_SITE_ID"], os.environ["CIO_EU_API_KEY"])


def mirror(user):
    us.track(customer_id=user.id, name="signed_up")
    eu.identify(id=user.id, email=user.email)


class Mirror:
    def __init__(self):
        self.us = CustomerIO(os.environ["CIO_US_SITE_ID"], os.environ["CIO_US_API_KEY"])
        self.eu = CustomerIO(os.environ["CIO_EU_SITE_ID"], os.environ["CIO_EU_API_KEY"])

    def mirror(self, user):
        self.us.track(customer_id=user.id, name="signed_up")
        self.eu.identify(id=user.id, email=user.email)
"""
MIRROR_CHECK = """\
import json
import os
from types import SimpleNamespace

os.environ.update(
    CIO_US_SITE_ID="us", CIO_US_API_KEY="k", CIO_EU_SITE_ID="eu", CIO_EU_API_KEY="k"
)
os.environ["FAIL_SITES"] = "eu"

import customerio
import mirror

user = SimpleNamespace(id=7, email="a@example.com")
for send in (mirror.mirror, mirror.Mirror().mirror):
    try:
        send(user)
    except RuntimeError:
        pass
print(json.dumps(customerio.CALLS))
"""


def test_two_workspaces_keep_event_order(tmp_path: Path) -> None:
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "customerio.py").write_text(WORKSPACE_SDK, encoding="utf-8")
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "mirror.py").write_text(MIRROR, encoding="utf-8")
    (folder / "check.py").write_text(MIRROR_CHECK, encoding="utf-8")
    before = _recorded_calls(folder, stubs)

    result = run_cli(
        ["--apply", "--select", "CIO201", "--output-format", "json", "."], folder
    )
    after = _recorded_calls(folder, stubs)

    assert result.json["findings"] == []
    assert (folder / "mirror.py").read_text(encoding="utf-8") == MIRROR
    # The EU workspace is down, and the US events are sent all the same.
    assert before == [["us", "track", 7, "signed_up"], ["us", "track", 7, "signed_up"]]
    assert after == before


def _changed_body_source(between: str) -> str:
    return (
        "from customerio import CustomerIO\n\n"
        'cio = CustomerIO("site", "key")\n\n\n'
        "def signup(body, audit):\n"
        '    cio.track(customer_id=body["id"], name="signed_up",'
        ' data={"source": body.get("source")})\n'
        f"{between}"
        '    cio.identify(id=body["id"], email=body["email"])\n'
    )


def test_reorder_change_reason_names_track_call(project) -> None:
    root = project({"app.py": _changed_body_source("")})

    result = run_cli(["--output-format", "json", "--select", "CIO201", "."], root)

    [finding] = result.json["findings"]
    assert finding["fix"] is None
    assert finding["message"].endswith(
        "(cio-fix does not move it above the track, whose own arguments call"
        " `body.get`, which may change what the identify sends)."
    )


def test_reorder_change_reason_names_code_between(project) -> None:
    root = project({"app.py": _changed_body_source("    audit(body)\n")})

    result = run_cli(["--output-format", "json", "--select", "CIO201", "."], root)

    [finding] = result.json["findings"]
    assert finding["fix"] is None
    assert finding["message"].endswith(
        "(cio-fix does not move it past code that may change what it sends)."
    )


def _utc_attribute_source(between: str) -> str:
    return (
        "import datetime as dt\n\n"
        "from customerio import CustomerIO\n\n"
        'cio = CustomerIO("site", "key")\n\n\n'
        "def signup(user, db):\n"
        '    cio.track(customer_id=user.id, name="signed_up")\n'
        f"    {between}\n"
        "    cio.identify(id=user.id, email=user.email)\n"
    )


@pytest.mark.parametrize(
    ("declarations", "declared"),
    [
        ({}, "the project declares no Python version that cio-fix reads"),
        (
            {"pyproject.toml": '[project]\nname = "app"\nrequires-python = ">=3.10"\n'},
            "pyproject.toml declares 3.10",
        ),
    ],
)
def test_reorder_withheld_past_utc_attribute(
    project, declarations: dict[str, str], declared: str
) -> None:
    source = _utc_attribute_source("now = dt.datetime.now(dt.UTC)")
    root = project({"app.py": source, **declarations})

    result = run_cli(["--output-format", "json", "--select", "CIO201", "."], root)

    [finding] = result.json["findings"]
    assert finding["fix"] is None
    assert finding["message"].endswith(
        "(cio-fix does not move it past `datetime.UTC`, which raises AttributeError"
        f" before Python 3.11, and {declared})."
    )


def test_reorder_past_utc_attribute_on_python311(project) -> None:
    source = _utc_attribute_source("now = dt.datetime.now(dt.UTC)")
    pyproject = '[project]\nname = "app"\nrequires-python = ">=3.11"\n'
    root = project({"app.py": source, "pyproject.toml": pyproject})

    result = run_cli(["--output-format", "json", "--select", "CIO201", "."], root)

    [finding] = result.json["findings"]
    assert finding["fix"] is not None


def test_reorder_utc_and_call_reason(project) -> None:
    source = _utc_attribute_source("now = dt.datetime.now(dt.UTC); db.commit()")
    root = project({"app.py": source})

    result = run_cli(["--output-format", "json", "--select", "CIO201", "."], root)

    [finding] = result.json["findings"]
    assert finding["message"].endswith(
        "(cio-fix does not move it past code that may skip the identify)."
    )


@pytest.mark.parametrize(
    ("receiver", "between"),
    [
        ("cio", 'email = form["email"]'),
        ("cio", 'cio.track(customer_id=form["id"], name="paid", email=form["email"])'),
        ("self.cio", "email = self.cio"),
        ("self.cio", 'label = f"{form}!"'),
    ],
)
def test_reorder_passes_reads_identify_makes(
    project, receiver: str, between: str
) -> None:
    source = (
        "from customerio import CustomerIO\n\n"
        'cio = CustomerIO("site", "key")\n\n\n'
        "class Signup:\n"
        "    def __init__(self):\n"
        '        self.cio = CustomerIO("site", "key")\n\n'
        "    def register(self, form):\n"
        f'        {receiver}.track(customer_id=form["id"], name="registered")\n'
        f"        {between}\n"
        f'        {receiver}.identify(id=form["id"], email=form["email"])\n'
    )
    root = project({"app.py": source})

    result = run_cli(["--output-format", "json", "--select", "CIO201", "."], root)

    fixes = [finding["fix"] for finding in result.json["findings"]]
    assert fixes
    assert None not in fixes
