"""Calls of a project's pass-through wrapper functions, checked as client calls."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli

PYPROJECT = """\
[project]
name = "acme"
dependencies = ["customerio>=2.1,<3", "fastapi"]
"""

WRAPPER = """\
import os

from customerio import CustomerIO

client = CustomerIO(os.environ["CUSTOMERIO_SITE_ID"], os.environ["CUSTOMERIO_API_KEY"])


def identify(customer_id, **attributes):
    \"\"\"Create or update a profile.\"\"\"
    client.identify(id=customer_id, **attributes)


def track(customer_id, name, **data):
    return client.track(customer_id, name, **data)
"""

VIEWS = """\
import time

from fastapi import FastAPI

from app.integrations import customerio as cio
from app.integrations.customerio import track

app = FastAPI()


@app.post("/signup")
def signup(user_id: str, email: str):
    cio.identify(user_id, email=email, created_at=int(time.time() * 1000), plan=1)
    track(email, "password_reset_requested", requested_at=time.time())
    return {}


@app.post("/plan")
def plan(user_id: str):
    cio.identify(user_id, plan="pro")
    return {}
"""


def _files(wrapper: str, views: str = VIEWS) -> dict[str, str]:
    return {
        "pyproject.toml": PYPROJECT,
        "app/__init__.py": "",
        "app/integrations/__init__.py": "",
        "app/integrations/customerio.py": wrapper,
        "app/views.py": views,
    }


def _codes(output: str) -> list[tuple[int, str]]:
    """Return (line, code) of each finding in app/views.py."""
    return [
        (int(line), code)
        for line, code in re.findall(r"app/views\.py:(\d+):\d+: (CIO\d+)", output)
    ]


def test_wrapper_calls_reported(project) -> None:
    folder = project(_files(WRAPPER))

    checked = run_cli(["--no-cache", "--no-diff", "."], folder)

    found = _codes(checked.stdout)
    assert (13, "CIO103") in found, checked.stdout
    assert (14, "CIO103") in found, checked.stdout
    assert (14, "CIO202") in found, checked.stdout
    assert (14, "CIO304") in found, checked.stdout
    assert (20, "CIO304") in found, checked.stdout
    assert (20, "CIO402") in found, checked.stdout
    assert "`cio.identify` makes request handler `plan` wait" in checked.stdout
    assert "`track` makes request handler `signup` wait" in checked.stdout


def test_wrapper_call_fixes_applied(project) -> None:
    folder = project(_files(WRAPPER))

    run_cli(["--no-cache", "--apply", "."], folder)

    fixed = (folder / "app/views.py").read_text()
    assert "created_at=int(time.time())" in fixed
    assert "requested_at=int(time.time())" in fixed
    assert '_customerio_in_background(cio.identify, user_id, plan="pro")' in fixed
    assert "_customerio_in_background(\n        track, email," in fixed
    compile(fixed, "views.py", "exec")
    assert (folder / "app/integrations/customerio.py").read_text() == WRAPPER


NOT_PASS_THROUGH = {
    "extra argument": """\
def track(customer_id, name, **data):
    client.track(customer_id, name, source="web", **data)
""",
    "changed default": """\
def track(customer_id, name="signup", **data):
    client.track(customer_id, name, **data)
""",
    "decorator": """\
@functools.lru_cache
def track(customer_id, name, **data):
    client.track(customer_id, name, **data)
""",
    "two statements": """\
def track(customer_id, name, **data):
    data.setdefault("source", "web")
    client.track(customer_id, name, **data)
""",
    "changed argument": """\
def track(customer_id, name, **data):
    client.track(str(customer_id), name, **data)
""",
    "parameters reordered": """\
def track(name, customer_id, **data):
    client.track(customer_id, name, **data)
""",
}

CALLER = """\
import time

from app.integrations import customerio as cio


def reset(email):
    cio.track(email, "password_reset_requested", requested_at=time.time())
"""


@pytest.mark.parametrize("shape", sorted(NOT_PASS_THROUGH))
def test_other_wrappers_not_followed(project, shape: str) -> None:
    wrapper = (
        "import functools\nimport os\n\nfrom customerio import CustomerIO\n\n"
        'client = CustomerIO(os.environ["SITE_ID"], os.environ["API_KEY"])\n\n\n'
        + NOT_PASS_THROUGH[shape]
    )
    folder = project(_files(wrapper, CALLER))

    checked = run_cli(["--no-cache", "--no-diff", "."], folder)

    assert _codes(checked.stdout) == [], checked.stdout


def test_renamed_wrapper_import_followed(project) -> None:
    views = (
        "import time\n\nfrom app.integrations.customerio import track as send_event\n\n\n"
        "def reset(user_id):\n"
        '    send_event(user_id, "password_reset_requested", sent_at=time.time())\n'
    )
    folder = project(_files(WRAPPER, views))

    checked = run_cli(["--no-cache", "--no-diff", "."], folder)

    assert _codes(checked.stdout) == [(7, "CIO103")], checked.stdout


SDK3_WRAPPER = """\
import os

from customerio import CustomerIO

client = CustomerIO(os.environ["SITE_ID"], os.environ["API_KEY"])


def track(customer_id, name, properties, /, *, source, **extra):
    client.track(customer_id, name, data=properties, source=source, **extra)


def track_all(*args, **kwargs):
    client.track(*args, **kwargs)
"""

SDK3_CALLER = """\
from app.integrations import customerio as cio


def viewed(user_id, page):
    cio.track(user_id, "page_viewed", {"a": 1}, source="web", page=page)
    cio.track_all(user_id, "page_viewed", page=page)
"""

SDK3_FIXED = """\
from app.integrations import customerio as cio


def viewed(user_id, page):
    cio.track(user_id, "page_viewed", {"a": 1}, source="web", page=page)
    cio.track_all(user_id, "page_viewed", data={"page": page})
"""


def test_sdk3_keywords_moved_through_wrapper(project) -> None:
    files = _files(SDK3_WRAPPER, SDK3_CALLER)
    files["pyproject.toml"] = (
        '[project]\nname = "acme"\ndependencies = ["customerio>=3"]\n'
    )
    folder = project(files)

    fixed = run_cli(["--no-cache", "--apply", "."], folder)

    assert (folder / "app/views.py").read_text() == SDK3_FIXED
    # `source` is a parameter of the wrapper, so moving it into `data`
    # would make the call raise TypeError.
    assert (
        "(not fixed: the wrapper `cio.track` needs `source` as an argument of"
        " its own)" in fixed.stdout
    )


def test_other_fixes_withheld_on_wrapper_call(project) -> None:
    views = (
        "from app.integrations import customerio as cio\n\n\n"
        "def shipped(user_id):\n"
        '    cio.track(user_id, "order_shipped")\n'
        '    cio.track(user_id, "order_placed")\n'
        '    cio.track(user_id, "Signed Up")\n'
    )
    folder = project(_files(WRAPPER, views))

    checked = run_cli(["--no-cache", "--unsafe-fixes", "--apply", "."], folder)

    assert _codes(checked.stdout) == [(7, "CIO303")], checked.stdout
    assert "(not fixed: the call goes through the wrapper `cio.track`)" in (
        checked.stdout
    )
    assert (folder / "app/views.py").read_text() == views


LOOP_CALLER = """\
from app.integrations.customerio import identify


def sync(users):
    for user in users:
        identify(user.id, email=user.email)
"""


def test_bulk_fix_withheld_on_wrapper_call(project) -> None:
    folder = project(_files(WRAPPER, LOOP_CALLER))

    checked = run_cli(["--no-cache", "--unsafe-fixes", "--apply", "."], folder)

    assert checked.exit_code == 1, checked.stdout + checked.stderr
    assert _codes(checked.stdout) == [(6, "CIO603")], checked.stdout
    assert "(not fixed: the call goes through the wrapper `identify`)" in (
        checked.stdout
    )
    assert (folder / "app/views.py").read_text() == LOOP_CALLER


WRAPPER_TRACK = """\
import os

from customerio import CustomerIO

client = CustomerIO(os.environ["SITE_ID"], os.environ["API_KEY"])


def track(customer_id, name, **data):
    client.track(customer_id, name, **data)
"""

FLOAT_SEND = 'track(user.email, "order_completed", paid_at=time.time())'


def _findings(root) -> list[dict]:
    return run_cli(["--no-cache", "--output-format", "json", "."], root).json[
        "findings"
    ]


def test_same_named_library_module_not_a_wrapper(project) -> None:
    # `import analytics` is Segment's package, not the project's app.analytics.
    sync = (
        "import time\n\nimport analytics\n\n\ndef sync(user):\n"
        f"    analytics.{FLOAT_SEND}\n"
    )
    root = project(
        {
            "pyproject.toml": PYPROJECT,
            "app/__init__.py": "",
            "app/analytics.py": WRAPPER_TRACK,
            "worker/segment_sync.py": sync,
        }
    )

    assert _findings(root) == []


# Module-level code after WRAPPER_TRACK that gives `track` another value.
REBINDINGS = {
    "assignment": (
        "\n\ndef _log_only(*args, **kwargs):\n    print(args)\n\n\n"
        "track = _log_only\n"
    ),
    "second def": "\n\ndef track(customer_id, name, **data):\n    print(name)\n",
    "import": (
        "\n\ntry:\n    from app.fast import track\nexcept ImportError:\n    pass\n"
    ),
}


@pytest.mark.parametrize("rebinding", sorted(REBINDINGS))
def test_wrapper_rebound_in_its_module_not_followed(project, rebinding) -> None:
    views = (
        "import time\n\nfrom app.tracking import track\n\n\ndef sync(user):\n"
        f"    {FLOAT_SEND}\n"
    )
    root = project(
        {
            "pyproject.toml": PYPROJECT,
            "app/__init__.py": "",
            "app/tracking.py": WRAPPER_TRACK + REBINDINGS[rebinding],
            "app/views.py": views,
        }
    )

    assert [f for f in _findings(root) if f["path"] == "app/views.py"] == []


def test_caller_own_def_replaces_wrapper(project) -> None:
    views = (
        "import time\n\nfrom app.tracking import track\n\n\n"
        "def track(customer_id, name, **data):\n    print(name)\n\n\n"
        f"def sync(user):\n    {FLOAT_SEND}\n"
    )
    root = project(
        {
            "pyproject.toml": PYPROJECT,
            "app/__init__.py": "",
            "app/tracking.py": WRAPPER_TRACK,
            "app/views.py": views,
        }
    )

    assert _findings(root) == []


def test_wrapper_of_same_named_module_followed(project) -> None:
    # The positive twin of the cases above: the project's own wrapper.
    views = (
        "import time\n\nfrom app.tracking import track\n\n\ndef sync(user):\n"
        f"    {FLOAT_SEND}\n"
    )
    root = project(
        {
            "pyproject.toml": PYPROJECT,
            "app/__init__.py": "",
            "app/tracking.py": WRAPPER_TRACK,
            "app/views.py": views,
        }
    )

    codes = {(f["path"], f["code"]) for f in _findings(root)}
    assert ("app/views.py", "CIO103") in codes
    assert ("app/views.py", "CIO202") in codes


@pytest.mark.parametrize(
    "client",
    ["CLIENTS[region.get()]", "get_client()"],
)
def test_wrapper_choosing_client_per_call_not_followed(project, client) -> None:
    # The CIO304 fix would choose the client on a worker thread.
    wrapper = (
        "import contextvars\nimport os\n\nfrom customerio import CustomerIO\n\n"
        'region = contextvars.ContextVar("region", default="us")\n'
        'CLIENTS = {"us": CustomerIO(os.environ["US"], os.environ["KEY"])}\n\n\n'
        "def get_client():\n    return CLIENTS[region.get()]\n\n\n"
        f"def track(customer_id, name, **data):\n    return {client}.track(customer_id, name, **data)\n"
    )
    views = (
        "import time\n\nfrom app.tracking import track\n\n\ndef sync(user):\n"
        f"    {FLOAT_SEND}\n"
    )
    root = project(
        {
            "pyproject.toml": PYPROJECT,
            "app/__init__.py": "",
            "app/tracking.py": wrapper,
            "app/views.py": views,
        }
    )

    assert [f for f in _findings(root) if f["path"] == "app/views.py"] == []


def _unread(document: dict) -> list[str]:
    return [f"{place['path']}:{place['line']}" for place in document["unread"]]


def test_list_events_counts_wrapper_callers_only(project) -> None:
    folder = project(_files(WRAPPER))

    text = run_cli(["--list-events", "--no-cache", "."], folder)
    document = run_cli(["--list-events", "--output-format", "json", "."], folder)

    assert text.exit_code == 0
    assert "password_reset_requested  1 call    app/views.py" in text.stdout
    assert "1 event name, 1 call site, style snake_case." in text.stdout
    assert "cannot read" not in text.stdout
    (event,) = document.json["events"]
    assert event["name"] == "password_reset_requested"
    assert event["places"] == [{"path": "app/views.py", "line": 14}]
    assert _unread(document.json) == []


@pytest.mark.parametrize(
    ("use", "line"),
    [
        ("HANDLERS = [cio.track]\n", 10),
        ("def relay(user_id, kind):\n    getattr(cio, kind)(user_id, 'x')\n", 11),
        ("for send in (cio.track,):\n    send(1, 'x')\n", 10),
    ],
    ids=["value", "getattr", "loop"],
)
def test_list_events_wrapper_use_unread(project, use: str, line: int) -> None:
    folder = project(_files(WRAPPER, CALLER + "\n\n" + use))

    text = run_cli(["--list-events", "--no-cache", "."], folder)
    document = run_cli(["--list-events", "--output-format", "json", "."], folder)

    assert "1 event name, 2 call sites, style snake_case." in text.stdout
    assert f"cannot read the event names sent at app/views.py:{line}," in text.stdout
    assert _unread(document.json) == [f"app/views.py:{line}"]


@pytest.mark.parametrize(
    ("wrapper", "line"),
    [
        (WRAPPER + '\n\nHANDLERS = {"track": track}\n', 14),
        (
            WRAPPER.replace("(customer_id, name, **data)", "(*args, **data)")
            + '\n\ndef login(user_id):\n    track(user_id, "logged_in")\n',
            14,
        ),
    ],
    ids=["used-as-value", "name-not-an-argument"],
)
def test_list_events_wrapper_own_use_unread(project, wrapper: str, line: int) -> None:
    folder = project(_files(wrapper, CALLER))

    document = run_cli(["--list-events", "--output-format", "json", "."], folder)

    assert _unread(document.json) == [f"app/integrations/customerio.py:{line}"]


def test_list_events_wrapper_own_call_read(project) -> None:
    wrapper = WRAPPER + '\n\ndef login(user_id):\n    track(user_id, "logged_in")\n'
    folder = project(_files(wrapper, CALLER))

    document = run_cli(["--list-events", "--output-format", "json", "."], folder)

    names = [event["name"] for event in document.json["events"]]
    assert names == ["logged_in", "password_reset_requested"]
    assert _unread(document.json) == []


# The wrapper module of WRAPPER, with the client imported from app/client.py.
IMPORTING_WRAPPER = WRAPPER.replace(
    "import os\n\nfrom customerio import CustomerIO\n\n"
    'client = CustomerIO(os.environ["CUSTOMERIO_SITE_ID"],'
    ' os.environ["CUSTOMERIO_API_KEY"])\n',
    "from app.client import client\n",
)
CLIENT = (
    "import os\n\nfrom customerio import CustomerIO\n\n"
    'client = CustomerIO(os.environ["SITE_ID"], os.environ["API_KEY"])\n'
)


def test_list_events_wrapper_imported_client_followed(project) -> None:
    folder = project({**_files(IMPORTING_WRAPPER, CALLER), "app/client.py": CLIENT})

    document = run_cli(["--list-events", "--output-format", "json", "."], folder)

    names = [event["name"] for event in document.json["events"]]
    assert names == ["password_reset_requested"]
    assert _unread(document.json) == []


def test_wrapper_imported_client_fixes_applied(project) -> None:
    folder = project({**_files(IMPORTING_WRAPPER), "app/client.py": CLIENT})

    run_cli(["--no-cache", "--apply", "."], folder)

    fixed = (folder / "app/views.py").read_text()
    assert "created_at=int(time.time())" in fixed
    assert "requested_at=int(time.time())" in fixed
    assert "_customerio_in_background(\n        track, email," in fixed
    assert (folder / "app/integrations/customerio.py").read_text() == IMPORTING_WRAPPER


@pytest.mark.parametrize(
    "client",
    [
        "import analytics\n\nclient = analytics.Client(WRITE_KEY)\n",
        "from customerio import CustomerIO\n\nclient = None\n",
    ],
    ids=["segment client", "no client"],
)
def test_wrapper_imported_other_client_not_followed(project, client: str) -> None:
    folder = project({**_files(IMPORTING_WRAPPER), "app/client.py": client})

    checked = run_cli(["--no-cache", "--no-diff", "."], folder)

    assert checked.exit_code == 0
    assert _codes(checked.stdout) == []


def test_list_events_wrapper_called_by_tests_unread(project) -> None:
    test_caller = CALLER.replace("def reset(", "def test_reset(")
    folder = project({**_files(WRAPPER, ""), "tests/test_views.py": test_caller})

    document = run_cli(["--list-events", "--output-format", "json", "."], folder)

    assert document.json["events"] == []
    assert _unread(document.json) == ["app/integrations/customerio.py:14"]


# A module that calls the wrapper's client directly with a name built from
# values, whose CIO301 fix is safe only when cio-fix reads every name sent.
CLICKED = """\
from app.integrations.customerio import client


def clicked(user_id, button):
    client.track(user_id, f"clicked_{button}")
"""


def _clicked_finding(folder: Path) -> dict:
    document = run_cli(
        ["--no-cache", "--select", "CIO301", "--output-format", "json", "."], folder
    )
    (finding,) = document.json["findings"]
    return finding


def test_wrapper_used_by_project_leaves_fix_safe(project) -> None:
    folder = project({**_files(WRAPPER, CALLER), "app/other.py": CLICKED})

    finding = _clicked_finding(folder)

    assert finding["path"] == "app/other.py"
    assert finding["fix"] == "safe"
    assert "cannot read" not in finding["message"]


def test_wrapper_unused_by_project_makes_fix_unsafe(project) -> None:
    folder = project({**_files(WRAPPER, ""), "app/other.py": CLICKED})

    finding = _clicked_finding(folder)

    assert finding["fix"] == "unsafe"
    assert (
        "cio-fix cannot read the name sent at app/integrations/customerio.py:14"
        in finding["message"]
    )


def test_wrapper_used_as_value_makes_fix_unsafe(project) -> None:
    views = CALLER + "\n\nHANDLERS = [cio.track]\n"
    folder = project({**_files(WRAPPER, views), "app/other.py": CLICKED})

    finding = _clicked_finding(folder)

    assert finding["fix"] == "unsafe"
    assert "cio-fix cannot read the name sent at app/views.py:10" in finding["message"]


def _own_module(project, code: str) -> Path:
    """Write a project whose app/tracking.py is `code`."""
    return project(
        {
            "pyproject.toml": PYPROJECT,
            "app/__init__.py": "",
            "app/tracking.py": code,
        }
    )


def _line_of(code: str, text: str) -> int:
    """Return the number of the one line of `code` that contains `text`."""
    (line,) = [
        number
        for number, content in enumerate(code.splitlines(), start=1)
        if text in content
    ]
    return line


# Callers of `track` in the wrapper's own module, with {send} for the call.
OWN_MODULE_CALLERS = {
    "function": "def sync(user):\n    {send}\n",
    "nested function": (
        "def sync(user):\n    def send():\n        {send}\n\n    send()\n"
    ),
    "method of a class that binds the name": (
        "class Sync:\n    track = None\n\n    def run(self, user):\n        {send}\n"
    ),
    "module level": 'if __name__ == "__main__":\n    user = load_user()\n    {send}\n',
}


@pytest.mark.parametrize("caller", sorted(OWN_MODULE_CALLERS))
def test_own_module_wrapper_call_reported(project, caller) -> None:
    code = (
        "import time\n"
        + WRAPPER_TRACK
        + "\n\n"
        + OWN_MODULE_CALLERS[caller].format(send=FLOAT_SEND)
    )
    root = _own_module(project, code)

    found = {(f["line"], f["code"]) for f in _findings(root)}

    line = _line_of(code, FLOAT_SEND)
    assert (line, "CIO103") in found
    assert (line, "CIO202") in found


# Callers in the wrapper's own module whose `track` is another object.
OWN_MODULE_SHADOWED = {
    "parameter": "def replay(user, track):\n    {send}\n",
    "local variable": "def sync(user):\n    track = print\n    {send}\n",
    "local variable bound after the call": (
        "def sync(user):\n    {send}\n    track = print\n"
    ),
    "variable of the enclosing function": (
        "def sync(user):\n    track = print\n\n"
        "    def send():\n        {send}\n\n    send()\n"
    ),
    "nested def": (
        "def sync(user):\n    def track(*args, **kwargs):\n        print(args)\n\n"
        "    {send}\n"
    ),
    "import in the function": (
        "def sync(user):\n    from app.audit import track\n\n    {send}\n"
    ),
    "lambda parameter": "send = lambda user, track: {send}\n",
    "comprehension variable": (
        "def sync(user, sinks):\n    return [{send} for track in sinks]\n"
    ),
    "class body": (
        "class Audit:\n    track = print\n    user = load_user()\n    {send}\n"
    ),
}


@pytest.mark.parametrize("caller", sorted(OWN_MODULE_SHADOWED))
def test_own_module_shadowed_name_not_followed(project, caller) -> None:
    code = (
        "import time\n"
        + WRAPPER_TRACK
        + "\n\n"
        + OWN_MODULE_SHADOWED[caller].format(send=FLOAT_SEND)
    )
    root = _own_module(project, code)

    assert _findings(root) == []


def test_own_wrapper_annotation_call_not_followed(project) -> None:
    # The annotation is never evaluated, and without the `__future__`
    # import it would run before `track` is bound.
    code = (
        "from __future__ import annotations\n\nimport time\n"
        + WRAPPER_TRACK.replace(
            "def track(customer_id, name, **data):",
            f"def track(customer_id, name, **data) -> {FLOAT_SEND}:",
        )
    )
    root = _own_module(project, code)

    assert _findings(root) == []


@pytest.mark.parametrize("rebinding", sorted(REBINDINGS))
def test_own_wrapper_rebound_not_followed(project, rebinding) -> None:
    code = (
        "import time\n"
        + WRAPPER_TRACK
        + REBINDINGS[rebinding]
        + f"\n\ndef sync(user):\n    {FLOAT_SEND}\n"
    )
    root = _own_module(project, code)

    assert _findings(root) == []


def test_own_module_other_fixes_withheld(project) -> None:
    code = WRAPPER_TRACK + '\n\ndef signed_up(user):\n    track(user.id, "Signed Up")\n'
    root = _own_module(project, code)

    checked = run_cli(["--no-cache", "--unsafe-fixes", "--apply", "."], root)

    assert "app/tracking.py:13:20: CIO303" in checked.stdout
    assert "(not fixed: the call goes through the wrapper `track`)" in (checked.stdout)
    assert (root / "app/tracking.py").read_text() == code


def test_own_module_names_listed_at_caller(project) -> None:
    tracking = (
        WRAPPER_TRACK
        + "\n\ndef signed_up(user):\n"
        + '    track(user.id, "signed_up")\n'
        + '    track(user.id, "signed_up", source="email")\n'
    )
    views = (
        "from app.tracking import track\n\n\n"
        'def paid(user):\n    track(user.id, "order_paid")\n'
    )
    root = project(
        {
            "pyproject.toml": PYPROJECT,
            "app/__init__.py": "",
            "app/tracking.py": tracking,
            "app/views.py": views,
        }
    )

    listed = run_cli(["--list-events", "--output-format", "json", "."], root).json
    events = {event["name"]: event for event in listed["events"]}
    text = run_cli(["--list-events", "."], root).stdout

    assert events["signed_up"]["places"] == [
        {"path": "app/tracking.py", "line": 13},
        {"path": "app/tracking.py", "line": 14},
    ]
    assert events["order_paid"]["places"] == [{"path": "app/views.py", "line": 5}]
    # The wrapper's own call is no call site: its callers are listed instead.
    assert listed["unread"] == []
    assert "2 event names, 3 call sites" in text


def test_own_module_constants_module_read(project) -> None:
    # app/names.py mentions no client, so only the call's argument reads it.
    tracking = (
        "from app import names\n"
        + WRAPPER_TRACK
        + "\n\ndef signed_up(user):\n    track(user.id, names.SIGNED_UP)\n"
    )
    root = project(
        {
            "pyproject.toml": PYPROJECT,
            "app/__init__.py": "",
            "app/names.py": 'SIGNED_UP = "SignedUp"\n',
            "app/tracking.py": tracking,
        }
    )

    found = [(f["path"], f["code"]) for f in _findings(root)]

    assert found == [("app/names.py", "CIO303")]


PARTIAL_BINDS_MILLISECONDS = """\
import functools
import time

from customerio import CustomerIO

cio = CustomerIO("site", "key")
_identify = functools.partial(cio.identify, created_at=int(time.time() * 1000))


def record_login(user):
    _identify(user.id, last_login_at=int(time.time() * 1000))


def record_signup(user):
    _identify(user.id, email=user.email)
"""


def test_partial_bound_argument_reported_once(project) -> None:
    folder = project(
        {"pyproject.toml": PYPROJECT, "app/tracking.py": PARTIAL_BINDS_MILLISECONDS}
    )

    checked = run_cli(["--no-cache", "--no-diff", "."], folder)

    found = re.findall(r"app/tracking\.py:(\d+):\d+: (CIO\d+)", checked.stdout)
    assert found.count(("7", "CIO103")) == 1, checked.stdout
    assert found.count(("11", "CIO103")) == 1, checked.stdout
    assert len(found) == 2, checked.stdout


def test_partial_call_fix_withheld_reasons(project) -> None:
    source = (FIXTURES / "CIO701/partial_calls_report_only.py").read_text()
    folder = project(
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": "customerio==3.2.0\n",
            "app/tracking.py": source,
        }
    )

    checked = run_cli(["--no-cache", "--no-diff", "--select", "CIO701", "."], folder)

    binds_data = "(not fixed: the partial `_track_order` binds `data`, which a `data`"
    assert "app/tracking.py:10:5: CIO701" in checked.stdout
    assert binds_data in checked.stdout
    assert "app/tracking.py:15:5: CIO701" in checked.stdout
    assert "(not fixed: the partial `send` binds `plan` too)" in checked.stdout


TRACKING_BUILT = """\
from acme.compat import Tracker

cio = Tracker("s", "k")


def track(customer_id, name, data=None, **kwargs):
    cio.track(customer_id=customer_id, name=name, data=data or {}, **kwargs)
"""

JOBS = """\
import time

from acme.tracking import track


def renew(user):
    track(user["id"], "renewed", seats=user["seats"])


def visit(user):
    track(user["id"], "visited", {"visited_at": int(time.time() * 1000)})
"""

RENEW_VIEW = """\
from flask import Flask, jsonify, request

from acme.tracking import track

app = Flask(__name__)


@app.route("/renew", methods=["POST"])
def renew():
    form = request.get_json()
    track(form["id"], "renewed")
    return jsonify(ok=True)
"""

# compat.py modules that pass customerio's client class on as `Tracker`.
CUSTOMERIO_TRACKERS = {
    "optional import, then alias": (
        "try:\n    from customerio import CustomerIO\n"
        "except ImportError:\n    CustomerIO = None\n\nTracker = CustomerIO\n"
    ),
    "import as": "from customerio import CustomerIO as Tracker\n",
}

# compat.py modules whose `Tracker` has a `track` method too, but is no
# Customer.io client.
OTHER_TRACKERS = {
    "other SDK's class": (
        "from customerio import CustomerIO\n"
        "from segment.analytics import Client as Tracker\n"
    ),
    "project class": (
        "class Tracker:\n    def __init__(self, *keys):\n        self.keys = keys\n\n"
        "    def track(self, customer_id, name, data=None, **kwargs):\n"
        "        print(customer_id, name, data, kwargs)\n"
    ),
}


def _built_tracker_project(project, compat: str) -> Path:
    return project(
        {
            "pyproject.toml": (
                '[project]\nname = "acme"\ndependencies = ["customerio>=3,<4"]\n'
            ),
            "acme/__init__.py": "",
            "acme/compat.py": compat,
            "acme/tracking.py": TRACKING_BUILT,
            "acme/jobs.py": JOBS,
            "acme/views.py": RENEW_VIEW,
        }
    )


@pytest.mark.parametrize("compat", sorted(CUSTOMERIO_TRACKERS))
def test_wrapper_client_built_with_reexported_class(project, compat: str) -> None:
    root = _built_tracker_project(project, CUSTOMERIO_TRACKERS[compat])

    found = {(f["path"], f["line"], f["code"]) for f in _findings(root)}

    assert ("acme/jobs.py", 7, "CIO701") in found
    assert ("acme/jobs.py", 11, "CIO103") in found
    assert ("acme/views.py", 11, "CIO304") in found


@pytest.mark.parametrize("compat", sorted(OTHER_TRACKERS))
def test_wrapper_client_built_with_other_class_ignored(project, compat: str) -> None:
    root = _built_tracker_project(project, OTHER_TRACKERS[compat])

    assert _findings(root) == []


SEGMENT_SINK = """\
import segment.analytics as analytics

__all__ = ["track"]


def track(user_id, event, properties=None):
    analytics.track(user_id, event, properties or {})
"""

CUSTOMERIO_SINK = """\
from customerio import CustomerIO

{all_list}

cio = CustomerIO("site", "key")


def identify(customer_id, **attributes):
    cio.identify(id=customer_id, **attributes)


def track(customer_id, name, data=None):
    cio.track(customer_id=customer_id, name=name, data=data or {{}})


def _track(customer_id, name, data=None):
    cio.track(customer_id=customer_id, name=name, data=data or {{}})
"""

SIGNUP_VIEW = """\
from flask import Flask, jsonify, request

from app.sinks import {name}

app = Flask(__name__)


@app.route("/signup", methods=["POST"])
def signup():
    form = request.get_json()
    {name}(form["id"], "signed_up")
    return jsonify(ok=True)
"""

# `__all__` of the Customer.io sink that leaves `track` to the Segment sink,
# which `app/sinks/__init__.py` star-imports before it.
ALL_WITHOUT_TRACK = {
    "list": '__all__ = ["identify"]',
    "tuple": '__all__ = ("identify",)',
    "annotated": '__all__: list[str] = ["identify"]',
    "empty": "__all__ = []",
}

# `__all__` that cio-fix cannot read, so none of the sink's names is followed
# through the star import, also where the run-time `__all__` has `track`.
ALL_UNREAD = {
    "extended with +=": '__all__ = ["identify"]\n__all__ += ["track"]',
    "extended with a call": '__all__ = ["identify"]\n__all__.append("track")',
    "built": '__all__ = [name for name in ("identify", "track")]',
    "unpacked": '__all__ = [*("identify",), "track"]',
}


def _sinks_project(project, all_list: str, name: str) -> Path:
    return project(
        {
            "pyproject.toml": PYPROJECT,
            "app/__init__.py": "",
            "app/sinks/__init__.py": (
                "from .segment_sink import *\nfrom .customerio_sink import *\n"
            ),
            "app/sinks/segment_sink.py": SEGMENT_SINK,
            "app/sinks/customerio_sink.py": CUSTOMERIO_SINK.format(all_list=all_list),
            "app/views.py": SIGNUP_VIEW.format(name=name),
        }
    )


def _view_findings(root: Path) -> list[dict]:
    return [f for f in _findings(root) if f["path"] == "app/views.py"]


@pytest.mark.parametrize("shape", sorted(ALL_WITHOUT_TRACK))
def test_star_import_name_outside_all_ignored(project, shape: str) -> None:
    root = _sinks_project(project, ALL_WITHOUT_TRACK[shape], "track")

    assert _view_findings(root) == []


@pytest.mark.parametrize("shape", sorted(ALL_UNREAD))
def test_star_import_with_unread_all_ignored(project, shape: str) -> None:
    root = _sinks_project(project, ALL_UNREAD[shape], "track")

    assert _view_findings(root) == []


@pytest.mark.parametrize("name", ["track", "_track"])
def test_star_import_name_in_all_followed(project, name: str) -> None:
    all_list = '__all__ = ["identify", "track", "_track"]'
    root = _sinks_project(project, all_list, name)

    found = [(f["line"], f["code"]) for f in _view_findings(root)]

    assert found == [(11, "CIO304")]
