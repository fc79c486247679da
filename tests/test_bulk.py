"""CIO603: the throttle fix, applied by the CLI and run against a local Track API server."""

from __future__ import annotations

import importlib.util
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from conftest import run_cli

RATE = 20
CALLS = 30
# The server shuts itself down after this many seconds even if a test hangs.
SERVER_LIFETIME = 60
CLIENT = (
    "import os\n\n"
    "from customerio import CustomerIO\n\n"
    'cio = CustomerIO("site", "key", host="127.0.0.1",'
    ' port=int(os.environ["TRACK_API_PORT"]), retries=0, timeout=5)\n'
)
SEQUENTIAL_LOOP = CLIENT + (
    "\n\ndef send_orders(orders):\n"
    "    for order in orders:\n"
    '        cio.track(customer_id="c1", name="order_placed", data={"n": order})\n'
)
EXECUTOR_LOOP = (
    "from concurrent.futures import ThreadPoolExecutor\n\n"
    + CLIENT
    + "\n\ndef send_one(user_id):\n"
    '    cio.identify(id=user_id, plan="pro")\n'
    "\n\ndef send_all(user_ids):\n"
    "    with ThreadPoolExecutor(max_workers=4) as executor:\n"
    "        list(executor.map(send_one, user_ids))\n"
)

# Three requests per order, in a small loop that on its own is not reported.
NESTED_LOOP = CLIENT + (
    "\n\ndef send_orders(orders):\n"
    "    for order in orders:\n"
    '        for name in ("order_placed", "order_paid", "order_shipped"):\n'
    '            cio.track(customer_id="c1", name=name, data={"n": order})\n'
)


class _TrackApiHandler(BaseHTTPRequestHandler):
    """Record every request with its arrival time and respond 200 with an empty object."""

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append((time.monotonic(), self.command, self.path, body))  # type: ignore[attr-defined]
        payload = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = _record
    do_PUT = _record

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def track_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Start an HTTPS Track API on 127.0.0.1 that the SDK trusts; return its request list."""
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))

    server = ThreadingHTTPServer(("127.0.0.1", 0), _TrackApiHandler)
    server.daemon_threads = True
    server.requests = []  # type: ignore[attr-defined]
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    deadline = threading.Timer(SERVER_LIFETIME, server.shutdown)
    deadline.daemon = True
    deadline.start()

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.setenv("TRACK_API_PORT", str(server.server_address[1]))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    for variable in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    try:
        yield server.requests  # type: ignore[attr-defined]
    finally:
        deadline.cancel()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _fixed_module(project, source: str, name: str):
    """Write `source` as a project with throttle-rate RATE, apply CIO603, import the result."""
    root = project(
        {
            "pyproject.toml": f"[tool.cio-fix]\nthrottle-rate = {RATE}\n",
            f"{name}.py": source,
        }
    )
    run_cli(["--apply", "--unsafe-fixes", "--select", "CIO603", "."], root)
    path = root / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"cio603_{name}_{id(root)}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return path.read_text(encoding="utf-8"), module


def _record_starts(module) -> list[float]:
    """Record the start time the fixed module's throttle gives each request.

    Arrival times at the server bunch up when a loaded machine wakes the
    waiting threads late, so the rate is checked on the throttle's own
    schedule, which load cannot change.
    """
    throttle = module._customerio_throttle
    reserve = throttle.reserve
    starts: list[float] = []

    def recording_reserve() -> float:
        delay = reserve()
        starts.append(time.monotonic() + delay)
        return delay

    throttle.reserve = recording_reserve
    return starts


def _max_per_second(times: list[float]) -> int:
    """Return the largest number of requests that arrived within any one second."""
    ordered = sorted(times)
    busiest = 0
    for start, first in enumerate(ordered):
        inside = [moment for moment in ordered[start:] if moment < first + 1.0]
        busiest = max(busiest, len(inside))
    return busiest


def test_bulk_throttled_loop_keeps_order(project, track_api):
    code, module = _fixed_module(project, SEQUENTIAL_LOOP, "orders")

    module.send_orders(range(CALLS))
    sent = [body["data"]["n"] for _, _, _, body in track_api]

    assert "_customerio_throttle.wait()" in code
    assert f"_CustomerioThrottle({RATE})" in code
    assert sent == list(range(CALLS))


def test_bulk_throttled_loop_stays_under_rate(project, track_api):
    _, module = _fixed_module(project, SEQUENTIAL_LOOP, "orders")
    starts = _record_starts(module)

    module.send_orders(range(CALLS))
    times = [moment for moment, _, _, _ in track_api]

    assert len(times) == CALLS
    # Request starts are at least 1/RATE seconds apart, so the first and the
    # last are at least (CALLS - 1) / RATE apart; 0.05 s allows for clock jitter.
    # A loaded machine only delays requests, which keeps this true.
    assert times[-1] - times[0] >= (CALLS - 1) / RATE - 0.05
    assert len(starts) == CALLS
    # One more than RATE fits in a second when the requests sit on its edges.
    assert _max_per_second(starts) <= RATE + 1


def test_bulk_throttle_shared_by_executor_threads(project, track_api):
    code, module = _fixed_module(project, EXECUTOR_LOOP, "users")
    starts = _record_starts(module)
    user_ids = [f"u{number}" for number in range(CALLS)]

    module.send_all(user_ids)
    paths = [path for _, _, path, _ in track_api]

    assert "    _customerio_throttle.wait()\n    cio.identify(" in code
    assert sorted(paths) == sorted(
        f"/api/v1/customers/{user_id}" for user_id in user_ids
    )
    assert len(starts) == CALLS
    assert _max_per_second(starts) <= RATE + 1
    assert max(starts) - min(starts) >= (CALLS - 1) / RATE - 0.05


def test_bulk_nested_loop_throttles_each_request(project, track_api):
    code, module = _fixed_module(project, NESTED_LOOP, "orders")
    starts = _record_starts(module)
    orders = CALLS // 3

    module.send_orders(range(orders))
    times = [moment for moment, _, _, _ in track_api]

    assert "            _customerio_throttle.wait()\n            cio.track(" in code
    assert len(times) == CALLS
    assert times[-1] - times[0] >= (CALLS - 1) / RATE - 0.05
    assert len(starts) == CALLS
    assert _max_per_second(starts) <= RATE + 1


def test_bulk_nested_loop_message_names_both(project):
    root = project({"orders.py": NESTED_LOOP})

    result = run_cli(["--select", "CIO603", "--output-format", "json", "."], root)
    messages = [finding["message"] for finding in result.json["findings"]]

    assert len(messages) == 1
    assert "runs in the loop at line 10 once per item of the loop at line 9" in (
        messages[0]
    )


def test_bulk_fixed_loop_not_reported_again(project):
    root = project({"orders.py": SEQUENTIAL_LOOP})

    run_cli(["--apply", "--unsafe-fixes", "--select", "CIO603", "."], root)
    again = run_cli(["--select", "CIO603", "--output-format", "json", "."], root)

    assert again.json["findings"] == []


def test_bulk_fix_needs_unsafe_fixes(project):
    root = project({"orders.py": SEQUENTIAL_LOOP})

    result = run_cli(
        ["--apply", "--select", "CIO603", "--output-format", "json", "."], root
    )

    assert result.json["findings"][0]["fix"] == "unsafe"
    assert result.json["findings"][0]["applied"] is False
    assert (root / "orders.py").read_text(encoding="utf-8") == SEQUENTIAL_LOOP


def test_bulk_existing_throttle_reused(project):
    root = project({"orders.py": SEQUENTIAL_LOOP})
    run_cli(["--apply", "--unsafe-fixes", "--select", "CIO603", "."], root)
    with (root / "orders.py").open("a", encoding="utf-8") as stream:
        stream.write(
            "\n\ndef send_refunds(orders):\n"
            "    for order in orders:\n"
            '        cio.track(customer_id="c1", name="order_refunded")\n'
        )

    run_cli(["--apply", "--unsafe-fixes", "--select", "CIO603", "."], root)
    code = (root / "orders.py").read_text(encoding="utf-8")

    assert code.count("class _CustomerioThrottle") == 1
    assert code.count("_customerio_throttle.wait()") == 2


def test_bulk_class_name_taken_gets_unused_name(project, track_api):
    source = SEQUENTIAL_LOOP + "\n\nclass _CustomerioThrottle:\n    pass\n"

    code, module = _fixed_module(project, source, "orders")
    module.send_orders(range(3))

    assert "class _CustomerioThrottle_2:" in code
    assert f"_customerio_throttle = _CustomerioThrottle_2({RATE})" in code
    assert len(track_api) == 3


def test_bulk_own_throttle_name_not_reused(project, track_api):
    # The project's own float named like the fix's throttle.
    source = SEQUENTIAL_LOOP.replace(
        "\ncio = ", "\n_customerio_throttle: float = 0.2\n\ncio = "
    )

    code, module = _fixed_module(project, source, "orders")
    module.send_orders(range(3))

    assert "        _customerio_throttle_2.wait()\n" in code
    assert f"_customerio_throttle_2 = _CustomerioThrottle({RATE})" in code
    assert module._customerio_throttle == 0.2
    assert len(track_api) == 3


@pytest.mark.parametrize(
    "binding",
    [
        "_customerio_throttle = threading.Event()",
        # The fix's class name, but not the fix's class.
        "class _CustomerioThrottle:\n    def wait(self):\n        pass\n\n\n"
        "_customerio_throttle = _CustomerioThrottle()",
        # The fix's throttle, bound a second time to something else.
        "_customerio_throttle = _CustomerioThrottle(5)\n"
        "_customerio_throttle = threading.Event()",
    ],
)
def test_bulk_other_throttle_binding_not_reused(project, binding):
    source = "import threading\n\n" + SEQUENTIAL_LOOP + "\n\n" + binding + "\n"
    root = project({"orders.py": source})

    run_cli(["--apply", "--unsafe-fixes", "--select", "CIO603", "."], root)
    code = (root / "orders.py").read_text(encoding="utf-8")

    assert "        _customerio_throttle_2.wait()\n" in code
    assert "_customerio_throttle_2 = _CustomerioThrottle" in code


def test_bulk_renamed_throttle_reused(project):
    source = SEQUENTIAL_LOOP.replace(
        "\ncio = ", "\n_customerio_throttle = 0.2\n\ncio = "
    )
    root = project({"orders.py": source})
    run_cli(["--apply", "--unsafe-fixes", "--select", "CIO603", "."], root)
    with (root / "orders.py").open("a", encoding="utf-8") as stream:
        stream.write(
            "\n\ndef send_refunds(orders):\n"
            "    for order in orders:\n"
            '        cio.track(customer_id="c1", name="order_refunded")\n'
        )

    run_cli(["--apply", "--unsafe-fixes", "--select", "CIO603", "."], root)
    code = (root / "orders.py").read_text(encoding="utf-8")

    assert code.count("class _CustomerioThrottle") == 1
    assert code.count("_customerio_throttle_2.wait()") == 2
    assert "_customerio_throttle_3" not in code


@pytest.mark.parametrize("rate", ["0", "-5", '"fast"', "true", "nan"])
def test_bulk_invalid_throttle_rate_rejected(project, rate):
    root = project(
        {"pyproject.toml": f"[tool.cio-fix]\nthrottle-rate = {rate}\n", "a.py": ""}
    )

    result = run_cli(["."], root)

    assert result.exit_code == 2
    assert "throttle-rate" in result.stdout + result.stderr


def test_bulk_explain_five_headings(project):
    text = run_cli(["--explain", "CIO603"], project({})).stdout

    for heading in (
        "What it does:",
        "Why is this bad?",
        "Example:",
        "Use instead:",
        "Fix safety:",
    ):
        assert heading in text


def test_bulk_fix_imports_one_section(project):
    source = (
        "from customerio import CustomerIO\n\n"
        'cio = CustomerIO("site", "key")\n\n\n'
        "def send(orders):\n"
        "    for order in orders:\n"
        '        cio.track(customer_id=order, name="order_placed")\n'
    )
    root = project({"orders.py": source})

    run_cli(["--apply", "--unsafe-fixes", "--select", "CIO603", "."], root)
    code = (root / "orders.py").read_text(encoding="utf-8")

    assert code.startswith(
        "import threading\nimport time\n\nfrom customerio import CustomerIO\n"
    )
