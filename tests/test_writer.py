"""Fixed files keep their encoding, BOM, newlines and mode; other files are not touched."""

from __future__ import annotations

import errno
import os
import stat
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import cio_fix.engine
from cio_fix.writer import (
    FileChangedError,
    SourceError,
    WriteError,
    decode_source,
    write_atomic,
)

from conftest import run_cli

BODY = (
    "import time\n"
    "from customerio import CustomerIO\n"
    "cio = CustomerIO('site', 'key')\n"
    "cio.identify(id=1, created_at=int(time.time() * 1000))\n"
)
FIXED = BODY.replace("int(time.time() * 1000)", "int(time.time())")


def _apply(root: Path) -> None:
    result = run_cli(["--apply", "--select", "CIO103", "."], root)
    assert result.exit_code == 0, result.stdout + result.stderr


def test_writer_keeps_crlf(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_bytes(BODY.replace("\n", "\r\n").encode())

    _apply(tmp_path)

    assert (tmp_path / "app.py").read_bytes() == FIXED.replace("\n", "\r\n").encode()


def test_writer_keeps_bom(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_bytes(b"\xef\xbb\xbf" + BODY.encode())

    _apply(tmp_path)

    assert (tmp_path / "app.py").read_bytes() == b"\xef\xbb\xbf" + FIXED.encode()


def test_writer_keeps_pep263_encoding(tmp_path: Path) -> None:
    header = "# -*- coding: latin-1 -*-\n# Café\n"
    (tmp_path / "app.py").write_bytes((header + BODY).encode("latin-1"))

    _apply(tmp_path)

    assert (tmp_path / "app.py").read_bytes() == (header + FIXED).encode("latin-1")


def test_writer_keeps_missing_final_newline(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_bytes(BODY.rstrip("\n").encode())

    _apply(tmp_path)

    assert (tmp_path / "app.py").read_bytes() == FIXED.rstrip("\n").encode()


def test_writer_keeps_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    path.write_text(BODY)
    path.chmod(0o750)

    _apply(tmp_path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o750
    assert path.read_text() == FIXED


def test_writer_untouched_file_keeps_bytes_and_mtime(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(BODY)
    clean = tmp_path / "clean.py"
    clean.write_bytes(b"from customerio import CustomerIO\r\nx = 1")
    os.utime(clean, ns=(1_000_000_000, 1_000_000_000))

    _apply(tmp_path)

    assert clean.read_bytes() == b"from customerio import CustomerIO\r\nx = 1"
    assert clean.stat().st_mtime_ns == 1_000_000_000


def test_writer_keeps_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.py"
    real.write_text(BODY)
    link = tmp_path / "link.py"
    link.symlink_to(real)

    write_atomic(link, FIXED.encode())

    assert link.is_symlink()
    assert real.read_text() == FIXED


def test_writer_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    path.write_text(BODY)

    write_atomic(path, FIXED.encode())

    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["app.py"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"import customerio\n\x00\x01", "binary file"),
        (b"import customerio\nx = '\xff\xfe'\n", "cannot decode as utf-8"),
        (b"# -*- coding: klingon -*-\nimport customerio\n", "encoding"),
    ],
)
def test_writer_decode_errors(raw: bytes, reason: str) -> None:
    with pytest.raises(SourceError, match=reason):
        decode_source(Path("bad.py"), raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            b"import customerio\nname = 'caf\xc3\xa9 \xe9'\n",
            "cannot decode as utf-8: line 2, column 14: byte 0xe9 is not valid utf-8;"
            " add a PEP 263 coding line naming the file's encoding"
            " (`# -*- coding: latin-1 -*-`), or convert the file to UTF-8",
        ),
        (
            b"# -*- coding: utf-8 -*-\nimport customerio\nname = 'caf\xe9'\n",
            "cannot decode as utf-8: line 3, column 12: byte 0xe9 is not valid utf-8;"
            " its coding line declares utf-8; correct the line to the file's"
            " encoding, or convert the file to it",
        ),
        (
            b"\xef\xbb\xbfimport customerio\nname = 'caf\xe9'\n",
            "cannot decode as utf-8-sig: line 2, column 12: byte 0xe9 is not valid"
            " utf-8; the file starts with a UTF-8 byte order mark; convert it to UTF-8",
        ),
        # tokenize.detect_encoding reads the first two lines as UTF-8 while
        # it looks for a coding line, and its own error names no byte.
        (
            b"# caf\xe9\nimport customerio\n",
            "cannot decode as utf-8: line 1, column 6: byte 0xe9 is not valid utf-8;"
            " add a PEP 263 coding line naming the file's encoding"
            " (`# -*- coding: latin-1 -*-`), or convert the file to UTF-8",
        ),
        (
            b"\n# caf\xe9\nimport customerio\n",
            "cannot decode as utf-8: line 2, column 6: byte 0xe9 is not valid utf-8;"
            " add a PEP 263 coding line naming the file's encoding"
            " (`# -*- coding: latin-1 -*-`), or convert the file to UTF-8",
        ),
        (
            b"\xef\xbb\xbf# caf\xe9\nimport customerio\n",
            "cannot decode as utf-8-sig: line 1, column 6: byte 0xe9 is not valid"
            " utf-8; the file starts with a UTF-8 byte order mark; convert it to UTF-8",
        ),
    ],
)
def test_writer_decode_error_names_line_and_byte(raw: bytes, message: str) -> None:
    with pytest.raises(SourceError) as raised:
        decode_source(Path("bad.py"), raw)

    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("raw", "declared"),
    [
        (b"\xef\xbb\xbf# -*- coding: latin-1 -*-\nimport customerio\n", "latin-1"),
        (b"\xef\xbb\xbf#!/usr/bin/env python\n# vim: fileencoding=cp1252\n", "cp1252"),
        # Python rejects this spelling of UTF-8 after a mark too.
        (b"\xef\xbb\xbf# coding: utf8\nimport customerio\n", "utf8"),
    ],
)
def test_writer_decode_error_names_mark_and_coding_line(
    raw: bytes, declared: str
) -> None:
    with pytest.raises(SourceError) as raised:
        decode_source(Path("bad.py"), raw)

    assert str(raised.value) == (
        "the file starts with a UTF-8 byte order mark, but its coding line"
        f" declares {declared}; remove the mark or correct the line"
    )


def test_writer_decode_error_keeps_unknown_encoding_after_mark() -> None:
    raw = b"\xef\xbb\xbf# coding: klingon\nimport customerio\n"

    with pytest.raises(SourceError, match="unknown encoding: klingon"):
        decode_source(Path("bad.py"), raw)


def test_writer_rejects_read_only_file(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    path.write_text(BODY)
    path.chmod(0o444)

    result = run_cli(
        ["--apply", "--select", "CIO103", "--output-format", "json", "."], tmp_path
    )

    assert path.read_text() == BODY
    assert result.exit_code == 2
    assert "read-only" in result.json["errors"][0]["message"]
    assert result.json["changed_files"] == []


def test_writer_rejects_hard_linked_file(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    path.write_text(BODY)
    os.link(path, tmp_path / "twin.txt")

    result = run_cli(
        ["--apply", "--select", "CIO103", "--output-format", "json", "."], tmp_path
    )

    assert path.read_text() == BODY
    assert (tmp_path / "twin.txt").read_text() == BODY
    assert "hard links" in result.json["errors"][0]["message"]


@pytest.mark.skipif(
    os.geteuid() != 0, reason="only root can give a file to another user"
)
def test_writer_keeps_owner(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    path.write_text(BODY)
    os.chown(path, 65534, 65534)

    _apply(tmp_path)

    assert (path.stat().st_uid, path.stat().st_gid) == (65534, 65534)
    assert path.read_text() == FIXED


def test_writer_file_linked_out_of_root_during_run(
    project, tmp_path_factory, monkeypatch
) -> None:
    root = project({"app.py": BODY})
    outside = tmp_path_factory.mktemp("outside") / "app.py"
    outside.write_text(BODY)
    original_write = cio_fix.engine._write

    def swap_then_write(result, *args):
        # The same bytes, so only the check of where the path leads can stop it.
        (root / "app.py").unlink()
        (root / "app.py").symlink_to(outside)
        original_write(result, *args)

    monkeypatch.setattr(cio_fix.engine, "_write", swap_then_write)

    result = run_cli(["--apply", "--output-format", "json", "."], root)

    assert outside.read_text() == BODY
    assert result.exit_code == 2
    message = result.json["errors"][0]["message"]
    assert message.startswith("not written: the path now leads to")
    assert "outside the project root" in message


def test_writer_link_inside_root_still_written(tmp_path: Path) -> None:
    real = tmp_path / "pkg" / "real.py"
    real.parent.mkdir()
    real.write_text(BODY)
    link = tmp_path / "link.py"
    link.symlink_to(real)

    write_atomic(link, FIXED.encode(), tmp_path)

    assert real.read_text() == FIXED


def test_writer_file_user_may_not_write(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "app.py"
    path.write_text(BODY)
    # The owner's write bit is set, but this user is not the owner.
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)

    with pytest.raises(WriteError, match="this user may not write the file"):
        write_atomic(path, FIXED.encode())

    assert path.read_text() == BODY


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root")
def test_writer_owner_not_kept_not_written(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "app.py"
    path.write_text(BODY)
    os.chown(path, 12345, 12345)

    def deny_chown(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    # As a user who may write the file through its group but cannot chown.
    monkeypatch.setattr(os, "chown", deny_chown)

    with pytest.raises(WriteError, match="belongs to user 12345 and group 12345"):
        write_atomic(path, FIXED.encode())

    assert path.read_text() == BODY
    assert path.stat().st_uid == 12345
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["app.py"]


def test_writer_longest_file_name(tmp_path: Path) -> None:
    # 255 bytes is the name limit of ext4, XFS and tmpfs.
    path = tmp_path / ("a" * 252 + ".py")
    path.write_text(BODY)

    write_atomic(path, FIXED.encode())

    assert path.read_text() == FIXED


def test_writer_sigterm_removes_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    path.write_text(BODY)
    script = f"""
import os, signal
from pathlib import Path
from cio_fix.writer import terminate_as_exit, write_atomic

def terminate(descriptor):
    os.kill(os.getpid(), signal.SIGTERM)

os.fsync = terminate
with terminate_as_exit():
    write_atomic(Path({str(path)!r}), b"fixed = True\\n")
"""

    completed = subprocess.run([sys.executable, "-c", script], timeout=60)

    assert completed.returncode == 143
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["app.py"]
    assert path.read_text() == BODY


# Sends a signal to this process just before `mkstemp` returns, which is
# where an interrupt lands that comes after the temporary file exists and
# before its name reaches the cleanup.
SIGNAL_AFTER_MKSTEMP = """
import os, signal, sys, tempfile
from pathlib import Path
from cio_fix.interrupts import install
from cio_fix.writer import terminate_as_exit, write_atomic

real_mkstemp = tempfile.mkstemp

def mkstemp_then_signal(*args, **kwargs):
    created = real_mkstemp(*args, **kwargs)
    os.kill(os.getpid(), getattr(signal, sys.argv[2]))
    return created

install()
tempfile.mkstemp = mkstemp_then_signal
with terminate_as_exit():
    write_atomic(Path(sys.argv[1]), b"fixed = True\\n")
"""


@pytest.mark.parametrize(("name", "status"), [("SIGINT", -2), ("SIGTERM", 143)])
def test_writer_signal_after_mkstemp_leaves_no_file(
    tmp_path: Path, name: str, status: int
) -> None:
    path = tmp_path / "app.py"
    path.write_text(BODY)

    completed = subprocess.run(
        [sys.executable, "-c", SIGNAL_AFTER_MKSTEMP, str(path), name],
        capture_output=True,
        timeout=60,
    )

    # After an uncaught KeyboardInterrupt, Python ends itself with SIGINT.
    assert completed.returncode == status, completed.stderr
    if name == "SIGINT":
        assert b"KeyboardInterrupt" in completed.stderr
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["app.py"]
    assert path.read_text() == BODY


def test_writer_deferred_exit_waits_for_block() -> None:
    from cio_fix.interrupts import deferred, exit_unless_deferred

    finished = False
    with pytest.raises(SystemExit) as raised, deferred():
        exit_unless_deferred(143)
        finished = True

    assert finished
    assert raised.value.code == 143
    with pytest.raises(SystemExit):
        exit_unless_deferred(143)


def test_writer_decodes_latin1_on_coding_line() -> None:
    # CPython 3.11 runs a file with a non-UTF-8 byte on its coding line.
    raw = b"# -*- coding: latin-1 -*- caf\xe9\nimport customerio\n"

    source = decode_source(Path("latin.py"), raw)

    assert source.encoding == "iso-8859-1"
    assert source.text.startswith("# -*- coding: latin-1 -*- caf\u00e9\n")


# -- Files that change, or carry more than a mode, while --apply runs ------------------

# Runs cio-fix --apply in the project given as argv[1], after replacing app.py by a
# FIFO once the check ends, as another process could at any time during a run.
FIFO_AFTER_CHECK = """
import os, sys
import cio_fix.engine

real_write = cio_fix.engine._write

def swap_then_write(result, *args):
    os.remove("app.py")
    os.mkfifo("app.py")
    real_write(result, *args)

cio_fix.engine._write = swap_then_write
from cio_fix.cli import main

os.chdir(sys.argv[1])
sys.argv = ["cio-fix", "--apply", "--select", "CIO103", "--no-diff", "--no-cache", "."]
sys.exit(main())
"""


def test_writer_fifo_in_place_reported(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(BODY)
    (tmp_path / "other.py").write_text(BODY)

    # A timeout, so that a read that waits on the FIFO fails the test.
    completed = subprocess.run(
        [sys.executable, "-c", FIFO_AFTER_CHECK, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode == 2
    assert (
        "app.py: error: not written: no longer a regular file; run cio-fix again"
        in completed.stderr
    )
    assert (tmp_path / "other.py").read_text() == FIXED


def test_writer_fifo_in_place_not_opened(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    os.mkfifo(path)

    with pytest.raises(WriteError, match="no longer a regular file"):
        write_atomic(path, FIXED.encode(), original=BODY.encode())


def test_writer_changed_bytes_not_written(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    path.write_text(BODY + "# edited\n")

    with pytest.raises(FileChangedError):
        write_atomic(path, FIXED.encode(), original=BODY.encode())

    assert path.read_text() == BODY + "# edited\n"


def test_writer_edit_during_flush_not_written(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "app.py"
    path.write_text(BODY)
    real_fsync = os.fsync

    def save_then_fsync(descriptor: int) -> None:
        # An editor's save that lands while the fix is flushed to disk.
        with path.open("a") as editor:
            editor.write("# saved meanwhile\n")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", save_then_fsync)

    with pytest.raises(FileChangedError):
        write_atomic(path, FIXED.encode(), original=BODY.encode())

    assert path.read_text() == BODY + "# saved meanwhile\n"
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["app.py"]


def test_writer_edit_during_flush_reported(project, monkeypatch) -> None:
    root = project({"app.py": BODY})
    real_fsync = os.fsync

    def save_then_fsync(descriptor: int) -> None:
        with (root / "app.py").open("a") as editor:
            editor.write("# saved meanwhile\n")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", save_then_fsync)

    result = run_cli(["--apply", "--select", "CIO103", "--no-cache", "."], root)

    assert (root / "app.py").read_text() == BODY + "# saved meanwhile\n"
    assert (
        "app.py: error: changed on disk during the run; not written, run cio-fix again"
        in result.stderr
    )
    assert result.exit_code == 2


def test_writer_read_only_folder_named(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    path = folder / "m01.py"
    path.write_text(BODY)
    folder.chmod(0o555)
    # Root may create files in any folder, so deny it as for an ordinary user.
    real_access = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda target, mode: Path(target) != folder and real_access(target, mode),
    )

    try:
        with pytest.raises(WriteError) as raised:
            write_atomic(path, FIXED.encode())
    finally:
        folder.chmod(0o755)

    assert str(raised.value).startswith(f"the folder {folder} is not writable")
    assert "(mode 555)" in str(raised.value)
    assert path.read_text() == BODY


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root")
def test_writer_keeps_setgid_of_other_owner(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    path.write_text(BODY)
    os.chown(path, 12345, 12345)
    path.chmod(0o2775)

    write_atomic(path, FIXED.encode())

    assert stat.S_IMODE(path.stat().st_mode) == 0o2775
    assert (path.stat().st_uid, path.stat().st_gid) == (12345, 12345)


def _set_attribute_or_skip(path: Path, name: str, value: bytes) -> None:
    try:
        os.setxattr(path, name, value)
    except (AttributeError, OSError) as error:
        pytest.skip(f"the file system has no {name} attribute: {error}")


# The binary form of `setfacl -m u:1234:rw` on a file of mode 664: version 2,
# then tag, permission and id of each entry.
ACL = struct.pack("<I", 2) + b"".join(
    struct.pack("<HHI", *entry)
    for entry in [
        (0x01, 6, 0xFFFFFFFF),
        (0x02, 6, 1234),
        (0x04, 4, 0xFFFFFFFF),
        (0x10, 6, 0xFFFFFFFF),
        (0x20, 4, 0xFFFFFFFF),
    ]
)


def test_writer_keeps_extended_attributes(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    path.write_text(BODY)
    path.chmod(0o664)
    _set_attribute_or_skip(path, "user.origin", b"generated")
    _set_attribute_or_skip(path, "system.posix_acl_access", ACL)

    write_atomic(path, FIXED.encode())

    assert os.getxattr(path, "user.origin") == b"generated"
    assert os.getxattr(path, "system.posix_acl_access") == ACL
    assert stat.S_IMODE(path.stat().st_mode) == 0o664
    assert path.read_text() == FIXED


def test_writer_attribute_not_kept_not_written(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "app.py"
    path.write_text(BODY)
    _set_attribute_or_skip(path, "user.origin", b"generated")

    def deny_setxattr(*args, **kwargs):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    # As for security.capability, which only a user with CAP_SETFCAP may set.
    monkeypatch.setattr(os, "setxattr", deny_setxattr)

    with pytest.raises(WriteError) as raised:
        write_atomic(path, FIXED.encode())

    assert str(raised.value).startswith(
        "the replacement cannot keep its extended attribute user.origin"
        " (Operation not permitted)"
    )
    assert path.read_text() == BODY
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["app.py"]


def test_writer_without_attribute_support_writes(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "app.py"
    path.write_text(BODY)

    def unsupported(*args, **kwargs):
        raise OSError(errno.ENOTSUP, "Operation not supported")

    monkeypatch.setattr(os, "listxattr", unsupported, raising=False)

    write_atomic(path, FIXED.encode())

    assert path.read_text() == FIXED
