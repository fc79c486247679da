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
# True while a `deferred` block runs, so the handlers only record the signal.
_deferring = False
# The exit status of a SIGTERM that arrived during a `deferred` block.
_deferred_exit: int | None = None


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


class Terminated(SystemExit):
    """The SystemExit that SIGTERM raises, so that the command can report the writes."""


def exit_unless_deferred(status: int) -> None:
    """Raise Terminated(status) now, or when the running `deferred` block ends.

    For signal handlers that end the run, such as the SIGTERM handler of
    `writer.terminate_as_exit`.
    """
    global _deferred_exit
    if not _deferring:
        raise Terminated(status)
    _deferred_exit = status


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Delay Ctrl-C and SIGTERM while the block runs, and raise them when it ends.

    For steps that must finish together, such as creating a temporary file
    and taking its name, or replacing a file and counting it as written.
    Only the handlers that `install` and `exit_unless_deferred` serve delay
    a signal; Python's default SIGINT handler raises at once.
    """
    global _deferring, _deferred_exit
    outer = _deferring
    _deferring = True
    try:
        yield
    finally:
        _deferring = outer
    if outer:
        return
    if _deferred_exit is not None:
        status, _deferred_exit = _deferred_exit, None
        raise Terminated(status)
    stop_if_interrupted()
