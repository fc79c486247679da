"""Generate a Customer.io-heavy corpus: Flask handlers full of every catalogued pitfall.

Each module contains request handlers, a worker loop and plain helper code,
about 150 lines, and repeats every pitfall of the rule catalog
(CIO101 to CIO701) with names that vary from module to module. The
generated project declares customerio 3.2.0, so the SDK 3 rules apply.

    python benchmarks/corpus.py OUTPUT_FOLDER --modules 200
"""

from __future__ import annotations

import argparse
from pathlib import Path

MODULE_TEMPLATE = '''\
"""Handlers of the {area} area, number {number}."""

import os
import time
from datetime import datetime

from customerio import APIClient, CustomerIO, SendEmailRequest
from flask import Blueprint, jsonify, request

from {package} import settings

blueprint = Blueprint("{area}_{number}", __name__)

# CIO101: a key in the source.
CUSTOMERIO_SITE_ID_{number} = "3f9a0c1d2e4b{number:08d}"
CIO_API_KEY_{number} = os.getenv("CIO_API_KEY_{number}", "0a1b2c3d4e5f{number:08d}")
EVENT_RENEWED = "SubscriptionRenewed{number}"
BATCH_SIZE = {batch}


def load_user(user_id):
    return {{"id": user_id, "email": f"user{{user_id}}@{area}.example", "plan": "pro"}}


def paginate(items, page, size=BATCH_SIZE):
    start = page * size
    return items[start : start + size]


def format_price(cents):
    euros, rest = divmod(int(cents), 100)
    return f"{{euros}}.{{rest:02d}} EUR"


@blueprint.post("/{area}/{number}/signup")
def signup_{number}():
    form = request.get_json()
    # CIO601: a client per request; CIO101: literal credentials.
    cio = CustomerIO("3f9a0c1d2e4b{number:08d}", "0a1b2c3d4e5f{number:08d}")
    # CIO201: track before identify; CIO401: no email at signup.
    cio.track(customer_id=form["id"], name="signed_up")
    # CIO103: milliseconds; CIO402: plan as a number here, a string below.
    cio.identify(id=form["id"], created_at=int(time.time() * 1000), plan=1)
    return jsonify(ok=True)


@blueprint.post("/{area}/{number}/login")
def login_{number}():
    form = request.get_json()
    # CIO602: no connection pooling.
    cio = CustomerIO(
        settings.CUSTOMERIO_SITE_ID,
        settings.CUSTOMERIO_API_KEY,
        use_connection_pooling=False,
    )
    # CIO202: the email as the customer id; CIO302: personal data in the name.
    cio.identify(id=form["email"], email=form["email"], plan="1")
    cio.track(customer_id=form["email"], name=f"logged_in_{{form['email']}}")
    return jsonify(ok=True)


@blueprint.post("/{area}/{number}/cart/<int:user_id>/checkout")
def checkout_{number}(user_id):
    cart = request.get_json()
    cio = CustomerIO(settings.CUSTOMERIO_SITE_ID, settings.CUSTOMERIO_API_KEY)
    # CIO603: one request per item; CIO301: a dynamic event name;
    # CIO701: SDK 3 takes event attributes in `data`, not as keywords.
    for product in cart["products"]:
        cio.track(
            customer_id=user_id,
            name=f"purchased_{{product['sku']}}",
            price=product["price"],
        )
    cio.track(customer_id=user_id, name="order_shipped", timestamp=time.time() * 1000)
    return jsonify(ok=True, total=format_price(cart.get("total", 0)))


@blueprint.post("/{area}/{number}/renew/<int:user_id>")
def renew_{number}(user_id):
    cio = CustomerIO(settings.CUSTOMERIO_SITE_ID, settings.CUSTOMERIO_API_KEY)
    # CIO303: CamelCase next to snake_case names.
    cio.track(customer_id=user_id, name=EVENT_RENEWED, renewed_at=datetime.now().timestamp() * 1000)
    return jsonify(ok=True)


@blueprint.get("/{area}/{number}/browse")
def browse_{number}():
    cio = CustomerIO(settings.CUSTOMERIO_SITE_ID, settings.CUSTOMERIO_API_KEY)
    # CIO203: anonymous events that no identify merges.
    cio.track_anonymous(anonymous_id=request.cookies["visitor"], name="browsed")
    return jsonify(ok=True)


@blueprint.post("/{area}/{number}/receipt/<int:user_id>")
def receipt_{number}(user_id):
    user = load_user(user_id)
    # CIO102: the App API client given the Track API key.
    mailer = APIClient(settings.CUSTOMERIO_API_KEY)
    # CIO503: an email body without an unsubscribe link; CIO501: nothing
    # in the project suppresses bounced people.
    message = SendEmailRequest(
        transactional_message_id="receipt_{number}",
        to=user["email"],
        identifiers={{"id": user_id}},
        subject="Your receipt",
        body="<p>Thank you for your order!</p>",
    )
    mailer.send_email(message)
    return jsonify(ok=True)


@blueprint.post("/{area}/{number}/webhooks/customerio")
def customerio_webhook_{number}():
    # CIO502: the reporting webhook ignores spam complaints.
    report = request.get_json()
    if report["metric"] == "delivered":
        blueprint.logger.info("delivered to %s", report["data"]["customer_id"])
    return jsonify(ok=True)


def resend_orders_{number}(orders):
    cio = CustomerIO(CUSTOMERIO_SITE_ID_{number}, CIO_API_KEY_{number})
    for order in paginate(orders, 0):
        cio.track(
            customer_id=order["user_id"],
            name="order_placed",
            placed_at=int(time.time() * 1000),
            total=order["total"],
        )


def summarise_orders_{number}(orders):
    totals = {{}}
    for order in orders:
        key = order.get("currency", "EUR")
        totals[key] = totals.get(key, 0) + int(order["total"])
    lines = []
    for currency, total in sorted(totals.items()):
        lines.append(f"{{currency}}: {{format_price(total)}}")
    return "\\n".join(lines)


class ReportBuilder{number}:
    """Plain code without Customer.io calls, as every real module has some."""

    def __init__(self, title):
        self.title = title
        self.rows = []

    def add(self, label, value):
        self.rows.append((label, value))
        return self

    def render(self):
        width = max((len(label) for label, _ in self.rows), default=0)
        body = [f"{{label:<{{width}}}}  {{value}}" for label, value in self.rows]
        return "\\n".join([self.title, "=" * len(self.title), *body])
'''

SETTINGS = '''\
"""Configuration of the service."""

import os

DEBUG = os.environ.get("DEBUG") == "1"
DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///service.db")

# CIO101: keys committed with the code.
CUSTOMERIO_SITE_ID = "3f9a0c1d2e4b5a69c7d1"
CUSTOMERIO_API_KEY = "0a1b2c3d4e5f6a7b8c9d"
CUSTOMERIO_APP_API_KEY = os.getenv("CUSTOMERIO_APP_API_KEY", "")
'''

AREAS = ("shop", "billing", "accounts", "catalog", "support", "growth", "mobile")


def write_corpus(folder: Path, modules: int, package: str = "service") -> list[Path]:
    """Write `modules` handler modules, settings and requirements under `folder`."""
    source = folder / package
    source.mkdir(parents=True, exist_ok=True)
    (source / "__init__.py").write_text("", encoding="utf-8")
    (source / "settings.py").write_text(SETTINGS, encoding="utf-8")
    (folder / "requirements.txt").write_text(
        "flask==3.1.0\ncustomerio==3.2.0\n", encoding="utf-8"
    )

    written = []
    for number in range(modules):
        area = AREAS[number % len(AREAS)]
        text = MODULE_TEMPLATE.format(
            area=area, number=number, package=package, batch=50 + number % 7
        )
        path = source / f"{area}_{number:04d}.py"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="folder to write the corpus into")
    parser.add_argument("--modules", type=int, default=200, help="handler modules")
    arguments = parser.parse_args()
    written = write_corpus(arguments.output, arguments.modules)
    lines = sum(len(path.read_text().splitlines()) for path in written)
    print(f"wrote {len(written)} modules, {lines} lines, to {arguments.output}")


if __name__ == "__main__":
    main()
