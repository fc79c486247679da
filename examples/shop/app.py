"""The shop's web application."""

import time

from customerio import APIClient, CustomerIO, SendEmailRequest
from flask import Flask, jsonify, render_template, request

from shop import settings

app = Flask(__name__)

EVENT_ORDER_SHIPPED = "OrderShipped"


def load_user(user_id):
    return {"id": user_id, "email": f"user{user_id}@shop.example", "plan": "pro"}


@app.post("/signup")
def signup():
    form = request.get_json()
    cio = CustomerIO(settings.CUSTOMERIO_SITE_ID, settings.CUSTOMERIO_API_KEY)
    cio.track(customer_id=form["id"], name="signed_up")
    cio.identify(id=form["id"], created_at=int(time.time() * 1000), plan=1)
    return jsonify(ok=True)


@app.post("/login")
def login():
    form = request.get_json()
    cio = CustomerIO(
        settings.CUSTOMERIO_SITE_ID,
        settings.CUSTOMERIO_API_KEY,
        use_connection_pooling=False,
    )
    cio.identify(id=form["email"], email=form["email"], plan="1")
    cio.track(customer_id=form["email"], name=f"logged_in_{form['email']}")
    return jsonify(ok=True)


@app.post("/cart/<int:user_id>/checkout")
def checkout(user_id):
    cart = request.get_json()
    cio = CustomerIO(settings.CUSTOMERIO_SITE_ID, settings.CUSTOMERIO_API_KEY)
    for product in cart["products"]:
        cio.track(
            customer_id=user_id,
            name=f"purchased_{product['sku']}",
            price=product["price"],
        )
    cio.track(customer_id=user_id, name="order_shipped", timestamp=time.time() * 1000)
    return jsonify(ok=True)


@app.post("/orders/<int:user_id>/ship")
def ship(user_id):
    cio = CustomerIO(settings.CUSTOMERIO_SITE_ID, settings.CUSTOMERIO_API_KEY)
    cio.track(customer_id=user_id, name=EVENT_ORDER_SHIPPED)
    return jsonify(ok=True)


@app.get("/browse")
def browse():
    cio = CustomerIO(settings.CUSTOMERIO_SITE_ID, settings.CUSTOMERIO_API_KEY)
    cio.track_anonymous(anonymous_id=request.cookies["visitor"], name="browsed")
    return jsonify(ok=True)


@app.post("/receipt/<int:user_id>")
def receipt(user_id):
    user = load_user(user_id)
    mailer = APIClient(settings.CUSTOMERIO_API_KEY)
    message = SendEmailRequest(
        transactional_message_id="receipt",
        to=user["email"],
        identifiers={"id": user_id},
        subject="Your receipt",
        body=render_template("receipt.html", customer=user, order=request.get_json()),
    )
    mailer.send_email(message)
    return jsonify(ok=True)


@app.post("/webhooks/customerio")
def customerio_webhook():
    report = request.get_json()
    if report["metric"] == "delivered":
        app.logger.info("delivered to %s", report["data"]["customer_id"])
    return jsonify(ok=True)
