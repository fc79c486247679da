"""Configuration of the shop service."""

import os

DEBUG = os.environ.get("DEBUG") == "1"
DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///shop.db")

# Customer.io workspace "shop-production".
CUSTOMERIO_SITE_ID = "3f9a0c1d2e4b5a69c7d1"
CUSTOMERIO_API_KEY = "0a1b2c3d4e5f6a7b8c9d"
CUSTOMERIO_APP_API_KEY = os.getenv("CUSTOMERIO_APP_API_KEY", "")

SUPPORT_EMAIL = "support@shop.example"
