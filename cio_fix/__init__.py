"""cio-fix: find and fix the known pitfalls of Customer.io integrations."""

__version__ = "0.1.0"
