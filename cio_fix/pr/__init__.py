"""Bot pull requests: apply the fixes rule by rule, commit, push and describe them.

Nothing here imports libcst at import time, so `cio_fix.config` can read the
`[tool.cio-fix.pr]` table through `cio_fix.pr.settings` cheaply.
"""
