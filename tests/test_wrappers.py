"""Calls of a project's pass-through wrapper functions, checked as client calls."""

from __future__ import annotations

import re

import pytest

from conftest import run_cli

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
