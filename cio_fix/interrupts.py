"""Ctrl-C: stop the run, and never let a rule or a fallback swallow it.

libcst and the rules' guards turn some exceptions into others, so a
KeyboardInterrupt raised deep in a rule could end up reported as a rule's
internal error while the run went on and wrote files. The handler records
the interrupt, and the places that catch broad exceptions check it.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType

_interrupted = False
# True while a `deferred` block runs, so the handler only records Ctrl-C.
_deferring = False


def install() -> None:
    """Record Ctrl-C (SIGINT) before raising KeyboardInterrupt as Python does."""

    def handle(signum: int, frame: FrameType | None) -> None:
        global _interrupted
        _interrupted = True
        if not _deferring:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handle)


def interrupted() -> bool:
    return _interrupted


def stop_if_interrupted() -> None:
    """Raise KeyboardInterrupt when Ctrl-C came, even if something caught it."""
    if _interrupted:
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Delay a Ctrl-C that arrives while the block runs, and raise it when the block ends.

    For steps that must finish together, such as replacing a file and
    counting it as written. Only the handler that `install` sets delays it.
    """
    global _deferring
    outer = _deferring
    _deferring = True
    try:
        yield
    finally:
        _deferring = outer
    if not outer:
        stop_if_interrupted()
