"""Ctrl-C: stop the run, and never let a rule or a fallback swallow it.

libcst and the rules' guards turn some exceptions into others, so a
KeyboardInterrupt raised deep in a rule could end up reported as a rule's
internal error while the run went on and wrote files. The handler records
the interrupt, and the places that catch broad exceptions check it.
"""

from __future__ import annotations

import signal
from types import FrameType

_interrupted = False


def install() -> None:
    """Record Ctrl-C (SIGINT) before raising KeyboardInterrupt as Python does."""

    def handle(signum: int, frame: FrameType | None) -> None:
        global _interrupted
        _interrupted = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handle)


def interrupted() -> bool:
    return _interrupted


def stop_if_interrupted() -> None:
    """Raise KeyboardInterrupt when Ctrl-C came, even if something caught it."""
    if _interrupted:
        raise KeyboardInterrupt
