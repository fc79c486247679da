"""A Flask app and a FastAPI app behave as before after the CIO601, CIO602 and CIO304 fixes.

Each app runs through its framework's test client with the real customerio
SDK, which talks HTTPS to a Track API server that the test starts on
127.0.0.1 with a certificate from trustme (trusted through
REQUESTS_CA_BUNDLE). The same app source is checked as written and after
`cio-fix --apply`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import logging
import os
import queue
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import customerio
import pytest
import trustme

from conftest import run_cli

# Every wait in these tests ends after this many seconds at most.
WAIT_SECONDS = 10.0
# The server shuts itself down after this long, even if a test never stops it.
SERVER_LIFETIME_SECONDS = 120.0

SLOW_EVENT = "slow_event"
FAILING_EVENT = "failing_event"
CUSTOMER_EMAIL = "jane.doe@example.com"

FLASK_APP = """\
import os

from customerio import CustomerIO
from flask import Flask, request

app = Flask(__name__)


@app.post("/orders")
def order_created():
    order = request.get_json()
    cio = CustomerIO(
        os.environ["CIO_SITE_ID"],
        os.environ["CIO_API_KEY"],
        host="127.0.0.1",
        port=int(os.environ["CIO_TRACK_PORT"]),
        use_connection_pooling=False,
    )
    cio.track(customer_id=order["user_id"], name=order["event"], data={"email": order["email"]})
    return {"ok": True}
"""

FASTAPI_APP = """\
import os

from customerio import CustomerIO
from fastapi import FastAPI

app = FastAPI()


@app.post("/orders")
async def order_created(order: dict):
    cio = CustomerIO(
        os.environ["CIO_SITE_ID"],
        os.environ["CIO_API_KEY"],
        host="127.0.0.1",
        port=int(os.environ["CIO_TRACK_PORT"]),
        use_connection_pooling=False,
    )
    cio.track(customer_id=order["user_id"], name=order["event"], data={"email": order["email"]})
    return {"ok": True}
"""

APPS = {"flask": FLASK_APP, "fastapi": FASTAPI_APP}
_module_numbers = itertools.count()


# -- the Track API server ---------------------------------------------------------------


@dataclass
class TrackApi:
    """A Track API on 127.0.0.1 that records the events it receives."""

    port: int = 0
    # Event names, in the order the server sent its responses to them.
    completed: list[str] = field(default_factory=list)
    # Set when a slow event arrives. The server responds to it once `gate` is set.
    slow_started: threading.Event = field(default_factory=threading.Event)
    gate: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, names: set[str]) -> bool:
        """Wait until the server has responded to every event in `names`; False on timeout."""
        with self.changed:
            return self.changed.wait_for(
                lambda: names <= set(self.completed), WAIT_SECONDS
            )

    def finish(self, name: str) -> None:
        with self.changed:
            self.completed.append(name)
            self.changed.notify_all()


def _handler_class(api: TrackApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self._answer()

        def do_PUT(self) -> None:
            self._answer()

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            name = body.get("name", "")
            status = 200
            if name == SLOW_EVENT:
                api.slow_started.set()
                api.gate.wait(WAIT_SECONDS)
            if name == FAILING_EVENT:
                status = 400
            reply = b'{"meta": {"error": "invalid event"}}' if status != 200 else b"{}"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
            api.finish(name)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def track_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TrackApi]:
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(context)
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))

    api = TrackApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(api))
    server.daemon_threads = True
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    api.port = server.server_address[1]
    serving = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}
    )
    serving.daemon = True
    serving.start()
    watchdog = threading.Timer(SERVER_LIFETIME_SECONDS, server.shutdown)
    watchdog.daemon = True
    watchdog.start()

    for variable in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.setenv("CIO_SITE_ID", "test-site")
    monkeypatch.setenv("CIO_API_KEY", "test-key")
    monkeypatch.setenv("CIO_TRACK_PORT", str(api.port))
    try:
        yield api
    finally:
        api.gate.set()
        watchdog.cancel()
        server.shutdown()
        server.server_close()
        serving.join(WAIT_SECONDS)


# -- the apps ---------------------------------------------------------------------------


@pytest.fixture
def constructions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the CustomerIO clients constructed while the test runs."""
    built: list[int] = []
    original = customerio.CustomerIO.__init__

    def counting_init(self: customerio.CustomerIO, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(customerio.CustomerIO, "__init__", counting_init)
    return built


def _write_app(tmp_path: Path, framework: str, fixed: bool) -> Path:
    folder = tmp_path / ("after" if fixed else "before")
    folder.mkdir()
    path = folder / "app.py"
    path.write_text(APPS[framework], encoding="utf-8")
    if fixed:
        run_cli(["--apply", "--select", "CIO601,CIO602,CIO304", "."], folder)
    return path


def _load(path: Path) -> ModuleType:
    name = f"behaviour_app_{next(_module_numbers)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _poster(framework: str, module: ModuleType) -> Callable[[dict[str, str]], int]:
    """Return a function that posts an order to the app and returns the status code."""
    if framework == "flask":
        flask_client = module.app.test_client()
        return lambda order: flask_client.post("/orders", json=order).status_code

    from fastapi.testclient import TestClient

    fastapi_client = TestClient(module.app, raise_server_exceptions=False)
    return lambda order: fastapi_client.post("/orders", json=order).status_code


def _order(event: str) -> dict[str, str]:
    return {"user_id": "42", "event": event, "email": CUSTOMER_EMAIL}


@pytest.fixture(params=sorted(APPS))
def framework(request: pytest.FixtureRequest) -> str:
    return request.param


def _app(
    tmp_path: Path, framework: str, fixed: bool
) -> Callable[[dict[str, str]], int]:
    return _poster(framework, _load(_write_app(tmp_path, framework, fixed)))


# -- the fix itself -------------------------------------------------------------------------


def test_behaviour_fix_rewrites_app(tmp_path: Path, framework: str) -> None:
    fixed = _write_app(tmp_path, framework, fixed=True).read_text(encoding="utf-8")
    assert "\n@functools.cache\ndef _customerio_client():\n" in fixed
    assert "use_connection_pooling" not in fixed
    assert "_customerio_in_background(\n        cio.track," in fixed


# -- clients constructed once -----------------------------------------------------------------


def test_behaviour_client_per_request_before_fix(
    tmp_path: Path, framework: str, track_api: TrackApi, constructions: list[int]
) -> None:
    post = _app(tmp_path, framework, fixed=False)
    for number in range(3):
        assert post(_order(f"order_{number}")) == 200
    assert len(constructions) == 3


def test_behaviour_client_built_once_after_fix(
    tmp_path: Path, framework: str, track_api: TrackApi, constructions: list[int]
) -> None:
    post = _app(tmp_path, framework, fixed=True)
    for number in range(3):
        assert post(_order(f"order_{number}")) == 200
    assert track_api.wait_for({"order_0", "order_1", "order_2"})
    assert len(constructions) == 1


def test_behaviour_fixed_app_imports_before_environment(
    tmp_path: Path,
    framework: str,
    track_api: TrackApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An app that loads its environment after import (`load_dotenv()` in its
    # factory) must still import: the client reads it at the first request.
    path = _write_app(tmp_path, framework, fixed=True)
    monkeypatch.delenv("CIO_SITE_ID")
    module = _load(path)
    monkeypatch.setenv("CIO_SITE_ID", "test-site")

    post = _poster(framework, module)

    assert post(_order("order_0")) == 200
    assert track_api.wait_for({"order_0"})


# -- every call still arrives ----------------------------------------------------------------


def test_behaviour_every_call_arrives_after_fix(
    tmp_path: Path, framework: str, track_api: TrackApi
) -> None:
    post = _app(tmp_path, framework, fixed=True)
    names = {f"order_{number}" for number in range(5)}
    for name in sorted(names):
        assert post(_order(name)) == 200
    assert track_api.wait_for(names)
    assert sorted(track_api.completed) == sorted(names)


# -- the handler does not wait for a slow Track API ---------------------------------------------


def test_behaviour_handler_waits_before_fix(
    tmp_path: Path, framework: str, track_api: TrackApi
) -> None:
    post = _app(tmp_path, framework, fixed=False)
    statuses: list[int] = []
    request = threading.Thread(target=lambda: statuses.append(post(_order(SLOW_EVENT))))
    request.start()

    assert track_api.slow_started.wait(WAIT_SECONDS)
    # The server delays its Track API response, so the handler is still running.
    assert request.is_alive()
    track_api.gate.set()
    request.join(WAIT_SECONDS)
    assert statuses == [200]


def test_behaviour_handler_returns_first_after_fix(
    tmp_path: Path, framework: str, track_api: TrackApi
) -> None:
    post = _app(tmp_path, framework, fixed=True)

    assert post(_order(SLOW_EVENT)) == 200
    # The app responded while the server still delays its Track API response.
    assert SLOW_EVENT not in track_api.completed
    assert track_api.slow_started.wait(WAIT_SECONDS)
    track_api.gate.set()
    assert track_api.wait_for({SLOW_EVENT})


# -- a failing call ----------------------------------------------------------------------------


def test_behaviour_failure_fails_request_before_fix(
    tmp_path: Path, framework: str, track_api: TrackApi
) -> None:
    post = _app(tmp_path, framework, fixed=False)
    assert post(_order(FAILING_EVENT)) == 500


def _failure_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = [record for record in caplog.records if record.levelno >= logging.ERROR]
        if found:
            return found
        time.sleep(0.05)
    return []


def test_behaviour_failure_logged_after_fix(
    tmp_path: Path,
    framework: str,
    track_api: TrackApi,
    caplog: pytest.LogCaptureFixture,
) -> None:
    post = _app(tmp_path, framework, fixed=True)
    assert post(_order(FAILING_EVENT)) == 200

    records = _failure_records(caplog)
    assert len(records) == 1
    message = records[0].getMessage()
    assert message == "Customer.io call track failed: CustomerIOException"
    assert records[0].exc_info is None


def test_behaviour_failure_log_hides_payload_after_fix(
    tmp_path: Path,
    framework: str,
    track_api: TrackApi,
    caplog: pytest.LogCaptureFixture,
) -> None:
    post = _app(tmp_path, framework, fixed=True)
    assert post(_order(FAILING_EVENT)) == 200

    _failure_records(caplog)
    assert CUSTOMER_EMAIL not in caplog.text
    assert FAILING_EVENT not in caplog.text


# -- interpreter exit --------------------------------------------------------------------------

EXIT_SCRIPT = """\
import importlib.util
import sys

spec = importlib.util.spec_from_file_location("fixed_app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
status = module.app.test_client().post(
    "/orders", json={"user_id": "42", "event": sys.argv[2], "email": "a@example.com"}
).status_code
print(status, flush=True)
print("main finished", flush=True)
"""


def _lines(stream: Any) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line.strip())

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_behaviour_pending_call_sent_at_exit_after_fix(
    tmp_path: Path, track_api: TrackApi
) -> None:
    app = _write_app(tmp_path, "flask", fixed=True)
    script = tmp_path / "exit_script.py"
    script.write_text(EXIT_SCRIPT, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(script), str(app), SLOW_EVENT],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        lines = _lines(process.stdout)
        assert lines.get(timeout=WAIT_SECONDS) == "200"
        assert lines.get(timeout=WAIT_SECONDS) == "main finished"
        # The script's main code is done while the server still delays the call.
        assert SLOW_EVENT not in track_api.completed
        track_api.gate.set()
        assert process.wait(timeout=WAIT_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=WAIT_SECONDS)
    assert track_api.completed == [SLOW_EVENT]


# -- an async client in an async handler -------------------------------------------------------

ASYNC_APP = """\
from async_customerio import AsyncCustomerIO
from fastapi import FastAPI

app = FastAPI()
cio = AsyncCustomerIO("test-site", "test-key")


@app.post("/orders")
async def order_created(order: dict):
    await cio.track(customer_id=order["user_id"], name=order["event"])
    return {"ok": True}
"""

# A stand-in for the async_customerio package: its client records the events
# it sends, and fails the way the SDK does, with the payload in the message.
# The call of an event in `gates` waits until the test sets its asyncio.Event.
ASYNC_SDK = """\
import asyncio


class AsyncCustomerIOError(Exception):
    pass


class AsyncCustomerIO:
    def __init__(self, site_id, api_key):
        self.sent = []
        self.gates = {}

    async def track(self, customer_id, name):
        await asyncio.sleep(0.01)
        if name in self.gates:
            await self.gates[name].wait()
        if name == "failing_event":
            raise AsyncCustomerIOError(f"400: {customer_id} {name}")
        self.sent.append(name)
"""


@pytest.fixture
def async_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # The stand-in sits in a folder of its own, because an async_customerio.py
    # in the project root would be the project's module, not the SDK.
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "async_customerio.py").write_text(ASYNC_SDK, encoding="utf-8")
    monkeypatch.syspath_prepend(str(stubs))
    monkeypatch.delitem(sys.modules, "async_customerio", raising=False)
    app = tmp_path / "app.py"
    app.write_text(ASYNC_APP, encoding="utf-8")
    run_cli(["--apply", "--select", "CIO304", "."], tmp_path)
    module = _load(app)
    monkeypatch.delitem(sys.modules, "async_customerio")
    return module


def _wait_until(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_behaviour_async_call_becomes_task(async_app: ModuleType) -> None:
    from fastapi.testclient import TestClient

    with TestClient(async_app.app) as client:
        for number in range(3):
            order = {"user_id": "42", "event": f"order_{number}", "email": ""}
            assert client.post("/orders", json=order).status_code == 200
        assert _wait_until(lambda: len(async_app.cio.sent) == 3)
    assert sorted(async_app.cio.sent) == ["order_0", "order_1", "order_2"]
    assert async_app._customerio_tasks == set()


def test_behaviour_async_failure_logged(
    async_app: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    from fastapi.testclient import TestClient

    with TestClient(async_app.app) as client:
        order = {"user_id": "42", "event": FAILING_EVENT, "email": ""}
        assert client.post("/orders", json=order).status_code == 200
        records = _failure_records(caplog)
    assert [record.getMessage() for record in records] == [
        "Customer.io call track failed: AsyncCustomerIOError"
    ]
    assert FAILING_EVENT not in caplog.text


# -- the bound on pending async calls -----------------------------------------------------------

# The number of pending calls at which the async helper makes a request wait.
TASK_LIMIT = 1000


async def _post_async_order(app: ModuleType, event: str) -> None:
    """Run the app's handler for an order in the running event loop, as FastAPI would."""
    await app.order_created({"user_id": "42", "event": event})


async def _fill_bound(
    app: ModuleType, first_event: str
) -> tuple[asyncio.Event, asyncio.Event]:
    """Start TASK_LIMIT calls that wait for their gate, and return the gates.

    The call of `first_event` waits for the first gate, the other calls
    for the second.
    """
    first_gate = asyncio.Event()
    other_gate = asyncio.Event()
    app.cio.gates[first_event] = first_gate
    await _post_async_order(app, first_event)
    for number in range(1, TASK_LIMIT):
        event = f"held_{number}"
        app.cio.gates[event] = other_gate
        await _post_async_order(app, event)
    return first_gate, other_gate


async def _run_ready_tasks() -> None:
    """Yield to the event loop ten times, more steps than a handler takes to wait for a slot.

    asyncio.sleep(0) yields without a delay.
    """
    for _ in range(10):
        await asyncio.sleep(0)


async def _wait_for_tasks(app: ModuleType) -> set[asyncio.Task[None]]:
    """Wait for the app's pending calls, and return those pending after WAIT_SECONDS."""
    _, pending = await asyncio.wait(set(app._customerio_tasks), timeout=WAIT_SECONDS)
    return pending


def test_behaviour_async_full_bound_waits(async_app: ModuleType) -> None:
    tasks = async_app._customerio_tasks

    async def scenario() -> None:
        first_gate, other_gate = await _fill_bound(async_app, "held_0")
        assert len(tasks) == TASK_LIMIT

        waiting = asyncio.ensure_future(_post_async_order(async_app, "order_next"))
        await _run_ready_tasks()
        # The handler waits for a free slot and has started no call.
        assert not waiting.done()
        assert len(tasks) == TASK_LIMIT

        first_gate.set()
        await asyncio.wait_for(waiting, WAIT_SECONDS)
        assert "held_0" in async_app.cio.sent
        assert len(tasks) == TASK_LIMIT

        other_gate.set()
        assert await _wait_for_tasks(async_app) == set()
        assert tasks == set()

    asyncio.run(scenario())
    assert len(async_app.cio.sent) == TASK_LIMIT + 1
    assert "order_next" in async_app.cio.sent


def test_behaviour_async_failure_frees_slot(
    async_app: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    tasks = async_app._customerio_tasks

    async def scenario() -> None:
        failing_gate, other_gate = await _fill_bound(async_app, FAILING_EVENT)
        waiting = asyncio.ensure_future(_post_async_order(async_app, "order_next"))
        await _run_ready_tasks()
        assert not waiting.done()

        failing_gate.set()
        await asyncio.wait_for(waiting, WAIT_SECONDS)
        assert len(tasks) == TASK_LIMIT

        other_gate.set()
        assert await _wait_for_tasks(async_app) == set()
        assert tasks == set()

    asyncio.run(scenario())
    records = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.getMessage() for record in records] == [
        "Customer.io call track failed: AsyncCustomerIOError"
    ]
    assert FAILING_EVENT not in caplog.text
    assert "400: 42" not in caplog.text


def test_behaviour_async_bound_ignores_other_loop(async_app: ModuleType) -> None:
    tasks = async_app._customerio_tasks
    # This loop stops running with TASK_LIMIT calls pending, as the loop of
    # a finished test may. Its calls cannot finish while another loop runs.
    other_loop = asyncio.new_event_loop()
    try:
        gates = other_loop.run_until_complete(_fill_bound(async_app, "held_0"))

        async def one_order() -> None:
            await asyncio.wait_for(
                _post_async_order(async_app, "order_next"), WAIT_SECONDS
            )
            running_loop = asyncio.get_running_loop()
            started = [task for task in tasks if task.get_loop() is running_loop]
            await asyncio.wait_for(asyncio.gather(*started), WAIT_SECONDS)

        asyncio.run(one_order())
        assert "order_next" in async_app.cio.sent

        for gate in gates:
            gate.set()
        assert other_loop.run_until_complete(_wait_for_tasks(async_app)) == set()
    finally:
        other_loop.close()
    assert tasks == set()


# -- an async call in a task group ----------------------------------------------------------------

TASK_GROUP_APP = """\
import asyncio

from async_customerio import AsyncCustomerIO
from fastapi import FastAPI

app = FastAPI()
cio = AsyncCustomerIO("test-site", "test-key")


@app.post("/orders")
async def order_created(order: dict):
    async with asyncio.TaskGroup() as tg:
        tg.create_task(cio.track(customer_id=order["user_id"], name=order["event"]))
    return {"ok": True}
"""

needs_task_groups = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="asyncio.TaskGroup is new in Python 3.11"
)


def _task_group_app(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fixed: bool,
    source: str = TASK_GROUP_APP,
) -> ModuleType:
    """Load `source` with the stand-in async SDK, after `cio-fix --apply` if `fixed`."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "async_customerio.py").write_text(ASYNC_SDK, encoding="utf-8")
    monkeypatch.syspath_prepend(str(stubs))
    monkeypatch.delitem(sys.modules, "async_customerio", raising=False)
    app = tmp_path / "app.py"
    app.write_text(source, encoding="utf-8")
    if fixed:
        run_cli(["--apply", "--select", "CIO304", "."], tmp_path)
        assert "_customerio_in_background_task(" in app.read_text(encoding="utf-8")
    module = _load(app)
    monkeypatch.delitem(sys.modules, "async_customerio")
    return module


async def _held_order_returns_first(app: ModuleType) -> bool:
    """Run the handler for an order whose call waits for a gate; tell whether it returned first.

    The gate opens once the handler has had the time to return, and the
    call is then waited for until it is sent.
    """
    gate = asyncio.Event()
    app.cio.gates["order_held"] = gate
    handler = asyncio.ensure_future(
        app.order_created({"user_id": "42", "event": "order_held"})
    )
    await _run_ready_tasks()
    returned_first = handler.done()
    gate.set()
    await asyncio.wait_for(handler, WAIT_SECONDS)
    for _ in range(int(WAIT_SECONDS / 0.01)):
        if app.cio.sent:
            break
        await asyncio.sleep(0.01)
    return returned_first


@needs_task_groups
def test_behaviour_task_group_waits_before_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _task_group_app(tmp_path, monkeypatch, fixed=False)

    assert asyncio.run(_held_order_returns_first(app)) is False
    assert app.cio.sent == ["order_held"]


@needs_task_groups
def test_behaviour_task_group_returns_first_after_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _task_group_app(tmp_path, monkeypatch, fixed=True)

    assert asyncio.run(_held_order_returns_first(app)) is True
    assert app.cio.sent == ["order_held"]
    assert app._customerio_tasks == set()


# The other ways a handler waits for a task: a task that it awaits later,
# `asyncio.wait_for()`, and an anyio task group.
AWAITED_TASK_APPS = {
    "stored task": """\
import asyncio

from async_customerio import AsyncCustomerIO
from fastapi import FastAPI

app = FastAPI()
cio = AsyncCustomerIO("test-site", "test-key")


@app.post("/orders")
async def order_created(order: dict):
    task = asyncio.create_task(cio.track(customer_id=order["user_id"], name=order["event"]))
    await asyncio.sleep(0)
    await task
    return {"ok": True}
""",
    "wait_for": """\
import asyncio

from async_customerio import AsyncCustomerIO
from fastapi import FastAPI

app = FastAPI()
cio = AsyncCustomerIO("test-site", "test-key")


@app.post("/orders")
async def order_created(order: dict):
    await asyncio.wait_for(cio.track(customer_id=order["user_id"], name=order["event"]), 60)
    return {"ok": True}
""",
    "anyio task group": """\
import anyio
from async_customerio import AsyncCustomerIO
from fastapi import FastAPI

app = FastAPI()
cio = AsyncCustomerIO("test-site", "test-key")


@app.post("/orders")
async def order_created(order: dict):
    async with anyio.create_task_group() as tg:
        tg.start_soon(cio.track, order["user_id"], order["event"])
    return {"ok": True}
""",
}


@pytest.mark.parametrize("source", AWAITED_TASK_APPS.values(), ids=AWAITED_TASK_APPS)
def test_behaviour_awaited_task_waits_before_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    app = _task_group_app(tmp_path, monkeypatch, False, source)

    assert asyncio.run(_held_order_returns_first(app)) is False
    assert app.cio.sent == ["order_held"]


@pytest.mark.parametrize("source", AWAITED_TASK_APPS.values(), ids=AWAITED_TASK_APPS)
def test_behaviour_awaited_task_returns_first_after_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    app = _task_group_app(tmp_path, monkeypatch, True, source)

    assert asyncio.run(_held_order_returns_first(app)) is True
    assert app.cio.sent == ["order_held"]
    assert app._customerio_tasks == set()


@needs_task_groups
def test_behaviour_task_group_failure_raises_before_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _task_group_app(tmp_path, monkeypatch, fixed=False)
    order = {"user_id": "42", "event": FAILING_EVENT}

    # The task group raises ExceptionGroup, a builtin of Python 3.11 only.
    with pytest.raises(Exception) as raised:
        asyncio.run(app.order_created(order))
    assert type(raised.value).__name__ == "ExceptionGroup"
    assert [type(error).__name__ for error in raised.value.exceptions] == [
        "AsyncCustomerIOError"
    ]


@needs_task_groups
def test_behaviour_task_group_failure_logged_after_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = _task_group_app(tmp_path, monkeypatch, fixed=True)
    order = {"user_id": "42", "event": FAILING_EVENT}

    async def scenario() -> dict[str, bool]:
        response = await app.order_created(order)
        assert await _wait_for_tasks(app) == set()
        return response

    assert asyncio.run(scenario()) == {"ok": True}
    records = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.getMessage() for record in records] == [
        "Customer.io call track failed: AsyncCustomerIOError"
    ]
    assert FAILING_EVENT not in caplog.text


# -- a client from a FastAPI dependency ---------------------------------------------------------

DEPENDENCY_APP = """\
import os

from customerio import CustomerIO
from fastapi import Depends, FastAPI

app = FastAPI()


def get_customerio():
    return CustomerIO(
        os.environ["CIO_SITE_ID"],
        os.environ["CIO_API_KEY"],
        host="127.0.0.1",
        port=int(os.environ["CIO_TRACK_PORT"]),
    )


@app.post("/orders")
def order_created(order: dict, cio: CustomerIO = Depends(get_customerio)):
    cio.track(customer_id=order["user_id"], name=order["event"])
    return {"ok": True}
"""


def _dependency_app(tmp_path: Path, fixed: bool) -> Callable[[dict[str, str]], int]:
    path = tmp_path / "app.py"
    path.write_text(DEPENDENCY_APP, encoding="utf-8")
    if fixed:
        run_cli(["--apply", "--select", "CIO601", "."], tmp_path)
        assert "@functools.cache\ndef get_customerio" in path.read_text("utf-8")
    return _poster("fastapi", _load(path))


@pytest.mark.parametrize("fixed", [False, True], ids=["before_fix", "after_fix"])
def test_behaviour_dependency_clients(
    tmp_path: Path, track_api: TrackApi, constructions: list[int], fixed: bool
) -> None:
    post = _dependency_app(tmp_path, fixed)
    names = {f"order_{number}" for number in range(3)}
    for name in sorted(names):
        assert post(_order(name)) == 200
    assert track_api.wait_for(names)
    # FastAPI calls the dependency for every request until it is cached.
    assert len(constructions) == (1 if fixed else 3)
