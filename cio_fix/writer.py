"""Read source files the way Python does and write them back atomically."""

from __future__ import annotations

import codecs
import contextlib
import errno
import io
import os
import re
import signal
import stat
import tempfile
import threading
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cio_fix.interrupts import deferred, exit_unless_deferred
from cio_fix.model import display_path

# Files above this size are generated or vendored code, not integrations,
# and libcst takes minutes to parse a megabyte of dense literals (seen on
# a 2-core machine).
MAX_FILE_BYTES = 1024 * 1024


class SourceError(Exception):
    """A file that cannot be read as Python source; the message gives the reason."""


@dataclass(frozen=True)
class Source:
    """A decoded source file and what is needed to encode it back unchanged."""

    path: Path
    raw: bytes
    text: str
    encoding: str

    def encode(self, text: str) -> bytes:
        # "utf-8-sig" writes the BOM back; any other encoding comes from the
        # PEP 263 cookie, which stays in `text` itself.
        return text.encode(self.encoding)


def decode_source(path: Path, raw: bytes) -> Source:
    """Decode `raw` with its BOM or PEP 263 cookie, as the interpreter would."""
    if len(raw) > MAX_FILE_BYTES:
        raise SourceError(
            f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB;"
            " exclude it if it is generated"
        )
    if b"\0" in raw:
        raise SourceError("binary file (contains NUL bytes); exclude it or rename it")

    try:
        encoding = _detect_encoding(raw)
    except SyntaxError as error:
        raise SourceError(_declaration_message(raw, error)) from error

    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        raise SourceError(_decode_message(raw, encoding, error)) from error
    except LookupError as error:
        raise SourceError(
            f"unknown encoding {encoding!r} in the coding line"
        ) from error
    return Source(path=path, raw=raw, text=text, encoding=encoding)


def _detect_encoding(raw: bytes) -> str:
    """Find the encoding that the BOM or PEP 263 coding line of `raw` declares.

    `tokenize.detect_encoding` raises "invalid or missing encoding
    declaration" for a first or second line that is not UTF-8, so a Latin-1
    byte there would get no line or byte in the message. Replacing the
    undecodable bytes keeps any coding line, which is ASCII. A file with no
    coding line then fails in the decode, whose message names the byte.
    """
    lines = io.BytesIO(raw)

    def readline() -> bytes:
        return lines.readline().decode("utf-8", "replace").encode("utf-8")

    encoding, _ = tokenize.detect_encoding(readline)
    return encoding


# A PEP 263 coding line; the interpreter reads it on the first two lines.
_CODING_LINE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.MULTILINE)


def _declaration_message(raw: bytes, error: SyntaxError) -> str:
    """Return why the BOM or coding line of `raw` cannot be used, naming both when they clash.

    tokenize reports a byte order mark before a coding line of another
    encoding as "encoding problem: utf-8", which names neither the line's
    encoding nor the mark.
    """
    if raw.startswith(codecs.BOM_UTF8) and str(error).startswith("encoding problem"):
        first_lines = b"\n".join(raw[len(codecs.BOM_UTF8) :].split(b"\n", 2)[:2])
        cookie = _CODING_LINE.search(first_lines)
        if cookie is not None:
            declared = cookie.group(1).decode("ascii", "replace")
            return (
                f"the file starts with a UTF-8 byte order mark, but its coding line"
                f" declares {declared}; remove the mark or correct the line"
            )
    return f"invalid encoding declaration: {error}"


def _decode_message(raw: bytes, encoding: str, error: UnicodeDecodeError) -> str:
    """Say where the first byte that `encoding` cannot decode is, and what to do."""
    # The offsets count from the end of a byte order mark, in the bytes that
    # the error holds.
    data = bytes(error.object)
    line_start = data.rfind(b"\n", 0, error.start) + 1
    line = data.count(b"\n", 0, error.start) + 1
    column = len(data[line_start : error.start].decode(encoding, "replace")) + 1
    found = " ".join(f"0x{byte:02x}" for byte in data[error.start : error.end])
    encoding_name = "utf-8" if encoding == "utf-8-sig" else encoding
    where = f"line {line}, column {column}: byte {found} is not valid {encoding_name}"
    first_lines = b"\n".join(raw.split(b"\n", 2)[:2])
    if encoding == "utf-8-sig":
        advice = "the file starts with a UTF-8 byte order mark; convert it to UTF-8"
    elif _CODING_LINE.search(first_lines) is not None:
        advice = (
            f"its coding line declares {encoding}; correct the line to the file's"
            " encoding, or convert the file to it"
        )
    else:
        advice = (
            "add a PEP 263 coding line naming the file's encoding"
            " (`# -*- coding: latin-1 -*-`), or convert the file to UTF-8"
        )
    return f"cannot decode as {encoding}: {where}; {advice}"


def read_source(path: Path) -> Source:
    try:
        raw = path.read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        raise SourceError(
            f"cannot read: {reason}; check the file's permissions"
        ) from error
    return decode_source(path, raw)


# The paths that `write_atomic` replaced while `record_writes` runs.
_write_log: list[Path] | None = None


@contextlib.contextmanager
def record_writes() -> Iterator[list[Path]]:
    """Collect the paths that `write_atomic` replaces while the block runs.

    An interrupted run uses the list to tell how many files it changed.
    """
    global _write_log
    outer = _write_log
    written: list[Path] = []
    _write_log = written
    try:
        yield written
    finally:
        _write_log = outer


class WriteError(Exception):
    """A fixed file that is not written; the message gives the reason and the next step."""


class FileChangedError(WriteError):
    """A file whose bytes or status changed on disk after cio-fix read it."""

    def __init__(self) -> None:
        super().__init__("changed on disk during the run; run cio-fix again")


_NOT_REGULAR = "no longer a regular file; run cio-fix again"


def write_atomic(
    path: Path, data: bytes, root: Path | None = None, original: bytes | None = None
) -> None:
    """Replace the file's contents with `data` without ever leaving it half-written.

    The bytes go to a temporary file in the same folder, which then replaces
    the original by rename. The original's permission bits, owner, group
    and extended attributes (a POSIX ACL and an SELinux label among them)
    are kept, and a symbolic link is kept as a link: its target is replaced.
    Not written: a path that no longer resolves to a regular file (inside
    `root`, when given), a read-only file, a file this user may not write,
    one with several hard links (which the rename would split), one in a
    folder this user may not create files in, and one whose owner, group or
    extended attributes the replacement could not keep. With `original`,
    a file whose bytes differ from it raises FileChangedError, and so does
    a file whose status changes while the replacement is written.
    """
    target = _write_target(path, root)
    status = _current_status(target, original)
    _check_writable(target, status)

    # A short name, so that a file whose own name nears the 255-byte limit
    # of most file systems can still be written.
    with temporary_file(target.parent, ".cio-fix.", ".tmp") as (stream, temporary):
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
        stream.close()
        # Changing the owner clears the setuid and setgid bits and the
        # security.capability attribute, so the mode and the attributes
        # come after it.
        _keep_owner(temporary, status)
        _copy_extended_attributes(target, temporary)
        os.chmod(temporary, stat.S_IMODE(status.st_mode))
        # The flush can take seconds on a busy or network disk, and an
        # editor may save the file meanwhile.
        # NOTE: an edit saved between this check and the rename is still
        # lost, because only a lock that every editor honours closes that gap.
        _check_unchanged(target, status)
        # A Ctrl-C between the two steps would leave a written file uncounted.
        with deferred():
            os.replace(temporary, target)
            if _write_log is not None:
                _write_log.append(path)


def _current_status(target: Path, original: bytes | None) -> os.stat_result:
    """Return the status of the file to replace, after checking that it still contains `original`.

    The file is opened without blocking, because a FIFO put in its place
    during the run would otherwise stop the run until another process
    writes to it.
    """
    try:
        status = target.stat()
    except FileNotFoundError as error:
        raise WriteError("the file was removed during the run") from error
    if not stat.S_ISREG(status.st_mode):
        raise WriteError(_NOT_REGULAR)
    if original is None:
        return status

    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(target, flags)
    except FileNotFoundError as error:
        raise WriteError("the file was removed during the run") from error
    except OSError as error:
        reason = error.strerror or str(error)
        raise WriteError(f"cannot read the file again: {reason}") from error
    with os.fdopen(descriptor, "rb") as stream:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise WriteError(_NOT_REGULAR)
        current = stream.read()
    if current != original:
        raise FileChangedError()
    return status


def _check_writable(target: Path, status: os.stat_result) -> None:
    """Raise WriteError when this user may not replace the file, or replacing it would split it."""
    if not status.st_mode & stat.S_IWUSR:
        raise WriteError("the file is read-only; make it writable to apply the fixes")
    if not os.access(target, os.W_OK):
        raise WriteError(
            f"this user may not write the file (owner {status.st_uid}, mode"
            f" {stat.S_IMODE(status.st_mode):o}); run cio-fix as a user who may"
        )
    if status.st_nlink > 1:
        raise WriteError(
            f"the file has {status.st_nlink} hard links, which replacing it would"
            " split; apply the diff by hand"
        )
    folder = target.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WriteError(
            f"the folder {display_path(folder)} is not writable (mode"
            f" {stat.S_IMODE(folder.stat().st_mode):o}), and cio-fix writes each"
            " fix to a temporary file there before the file is replaced; make the"
            " folder writable or apply the diff by hand"
        )


def _check_unchanged(target: Path, before: os.stat_result) -> None:
    """Raise FileChangedError when the file's status differs from `before`."""
    try:
        now = target.stat()
    except FileNotFoundError as error:
        raise WriteError("the file was removed during the run") from error
    if _identity(now) != _identity(before):
        raise FileChangedError()


def _identity(status: os.stat_result) -> tuple[int, ...]:
    """Return what changes in a file's status when it is edited, replaced or linked."""
    return (
        status.st_dev,
        status.st_ino,
        status.st_nlink,
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
    )


def _copy_extended_attributes(target: Path, temporary: str) -> None:
    """Give the temporary file each extended attribute of `target`, its POSIX ACL included.

    A failure raises WriteError rather than writing the file without the
    attribute, because an ACL decides who may read and write the file, and
    losing it would change that without a word. Nothing is copied where the
    platform (macOS, Windows) or the file system has no extended attributes.
    NOTE: an attribute that the new file has and the original lacks, such
    as an ACL inherited from the folder's default ACL, is not removed. And
    Linux lists `trusted.*` attributes to root only, so other users lose them.
    """
    # macOS and Windows have no os.listxattr.
    if not hasattr(os, "listxattr"):
        return
    try:
        names = os.listxattr(target)
    except OSError as error:
        if error.errno == errno.ENOTSUP:
            return
        raise _attribute_error(
            "cannot list the file's extended attributes", error
        ) from error

    for name in names:
        try:
            value = os.getxattr(target, name)
        except OSError as error:
            # Removed since the listing.
            if error.errno == errno.ENODATA:
                continue
            raise _attribute_error(
                f"cannot read its extended attribute {name}", error
            ) from error
        # The new file may have the value already, such as the SELinux label
        # that the policy gives new files in the folder, which an ordinary
        # user may not set.
        if _attribute_or_none(temporary, name) == value:
            continue
        try:
            os.setxattr(temporary, name, value)
        except OSError as error:
            raise _attribute_error(
                f"the replacement cannot keep its extended attribute {name}", error
            ) from error


def _attribute_or_none(path: str, name: str) -> bytes | None:
    try:
        return os.getxattr(path, name)
    except OSError:
        return None


def _attribute_error(problem: str, error: OSError) -> WriteError:
    reason = error.strerror or str(error)
    return WriteError(
        f"{problem} ({reason}); run cio-fix as a user who may copy the file's"
        " extended attributes, or apply the diff by hand"
    )


@contextlib.contextmanager
def temporary_file(
    folder: Path, prefix: str, suffix: str = ""
) -> Iterator[tuple[BinaryIO, str]]:
    """Create a temporary file in `folder`, and remove it when the block raises.

    Yields the open file and its name. The block renames the file to keep
    it. Ctrl-C and SIGTERM wait while the file is created, because
    `mkstemp` creates it before it returns the name, and an interrupt in
    between would leave a file whose name the cleanup never gets.
    """
    temporary: str | None = None
    stream: BinaryIO | None = None
    try:
        with deferred():
            descriptor, temporary = tempfile.mkstemp(
                prefix=prefix, suffix=suffix, dir=folder
            )
            stream = os.fdopen(descriptor, "wb")
        yield stream, temporary
    except BaseException:
        if temporary is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        raise
    finally:
        if stream is not None:
            stream.close()


def _write_target(path: Path, root: Path | None) -> Path:
    """Return the file that writing `path` replaces, checked to lie inside `root`.

    The check runs just before the write, because a file may have been
    replaced by a symbolic link to a file outside the project during the run.
    """
    try:
        target = path.resolve(strict=True)
    except RuntimeError as error:
        raise WriteError("the path is now a symbolic link loop") from error
    except FileNotFoundError as error:
        raise WriteError("the file was removed during the run") from error
    if root is None:
        return target
    boundary = root.resolve()
    if target != boundary and boundary not in target.parents:
        raise WriteError(
            f"the path now leads to {target}, outside the project root {boundary};"
            " check the symbolic link and run cio-fix again"
        )
    return target


def _keep_owner(temporary: str, status: os.stat_result) -> None:
    # Only root may give a file away; anyone else writes files they own.
    if (status.st_uid, status.st_gid) == (os.getuid(), os.getgid()):
        return
    try:
        os.chown(temporary, status.st_uid, status.st_gid)
    except PermissionError as error:
        raise WriteError(
            f"the file belongs to user {status.st_uid} and group {status.st_gid},"
            " which a replacement written by this user cannot keep; run cio-fix"
            " as the owner or apply the diff by hand"
        ) from error


@contextlib.contextmanager
def terminate_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit while the block runs, so `finally` code cleans up.

    A CI timeout, `timeout` and `docker stop` send SIGTERM, whose default
    action ends the process at once and leaves a temporary file behind.
    The exit status stays 143, as with the default action. Inside a
    `deferred` block, the SystemExit waits for the block to end.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def exit_on_terminate(signum: int, frame: object) -> None:
        exit_unless_deferred(128 + signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, exit_on_terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
