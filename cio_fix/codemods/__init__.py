"""The rules, one module per pitfall family. Every module here is imported by `all_rules`."""
