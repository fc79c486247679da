"""Measure cio-fix against ruff, libcst's no-op codemod and fixit; print one table.

Every comparison alternates its commands within each repetition and takes
the median wall time, so that the load of a shared machine hits all of
them alike; the table shows ratios next to the times. Peak memory is the
largest sum of proportional set sizes (PSS) over the process tree during
the last repetition of each command, sampled every 20 ms, so that worker
processes count and the pages they share with their parent count once.

    python benchmarks/run.py [--repeat N] [--heavy-repeat N]
                             [--scaling-repeat N] [--keep]

The corpora are generated under a temporary folder and removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from corpus import write_corpus

BIN = Path(sys.executable).parent
# Every measure but the cache row runs without the results cache, because a
# repeated run would otherwise read the results of the one before.
CIO_FIX_CACHED = [str(BIN / "cio-fix"), "--dry-run", "--exit-zero"]
CIO_FIX = [*CIO_FIX_CACHED, "--no-cache"]
SAMPLE_SECONDS = 0.02


@dataclass
class Command:
    label: str
    argv: list[str]
    cwd: Path
    prepare: Callable[[], None] | None = None
    times: list[float] = field(default_factory=list)
    peak_bytes: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def run_once(command: Command, sample_memory: bool = False) -> float:
    """Run `command` once with its output discarded; return the wall time in seconds."""
    if command.prepare is not None:
        command.prepare()
    start = time.perf_counter()
    process = subprocess.Popen(
        command.argv,
        cwd=command.cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
    )
    if not sample_memory:
        process.wait()
        return time.perf_counter() - start

    root = psutil.Process(process.pid)
    while process.poll() is None:
        command.peak_bytes = max(command.peak_bytes, _tree_pss(root))
        time.sleep(SAMPLE_SECONDS)
    return time.perf_counter() - start


def _tree_pss(root: psutil.Process) -> int:
    total = 0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for process in processes:
        try:
            total += process.memory_full_info().pss
        except psutil.Error:
            continue
    return total


def measure(commands: list[Command], repeat: int) -> None:
    """Alternate the commands `repeat` times, sampling memory in the last round."""
    for round_number in range(repeat):
        last = round_number == repeat - 1
        for command in commands:
            command.times.append(run_once(command, sample_memory=last))


# -- corpora ---------------------------------------------------------------------


def copy_stdlib(target: Path) -> tuple[int, int]:
    """Copy the running Python's standard library into a fresh git work tree."""
    source = Path(sysconfig.get_paths()["stdlib"])
    ignored = shutil.ignore_patterns(
        "site-packages", "dist-packages", "__pycache__", "*.pyc"
    )
    shutil.copytree(source, target / "Lib", ignore=ignored, symlinks=True)
    _git(target, "init", "-q")
    _git(target, "add", "-A")
    _git(
        target,
        "-c",
        "user.name=bench",
        "-c",
        "user.email=bench@localhost",
        "commit",
        "-q",
        "-m",
        "standard library",
    )
    return _count_python(target)


def _git(folder: Path, *arguments: str) -> None:
    subprocess.run(["git", *arguments], cwd=folder, check=True)


def _count_python(folder: Path) -> tuple[int, int]:
    files = 0
    lines = 0
    for path in folder.rglob("*.py"):
        if ".git" in path.parts:
            continue
        files += 1
        with path.open("rb") as stream:
            lines += sum(1 for _ in stream)
    return files, lines


def heavy_corpus(work: Path, modules: int) -> Path:
    folder = work / f"heavy-{modules}"
    write_corpus(folder, modules)
    return folder


# -- the table -------------------------------------------------------------------


def _megabytes(value: int) -> str:
    return f"{value / 1e6:.0f} MB"


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str, str]] = []

    def compare(
        self, what: str, ours: Command, baseline: Command, target: str, limit: float
    ) -> None:
        ratio = ours.median / baseline.median
        verdict = "met" if ratio <= limit else "MISSED"
        self.rows.append(
            (
                what,
                f"{ours.median:.2f} s",
                f"{baseline.median:.2f} s",
                f"{ratio:.2f}",
                target,
                verdict,
            )
        )

    def value(self, what: str, shown: str, target: str, met: bool) -> None:
        self.rows.append((what, shown, "", "", target, "met" if met else "MISSED"))

    def print(self) -> None:
        header = ("measure", "cio-fix", "baseline", "ratio", "target", "")
        widths = [max(len(row[i]) for row in [header, *self.rows]) for i in range(6)]
        for row in [header, tuple("-" * width for width in widths), *self.rows]:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
            print("| " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per comparison of fast commands"
    )
    parser.add_argument(
        "--heavy-repeat",
        type=int,
        default=2,
        help="runs per command on the heavy corpus (fixit takes minutes)",
    )
    parser.add_argument(
        "--scaling-repeat", type=int, default=3, help="runs per scaling point"
    )
    parser.add_argument("--keep", action="store_true", help="keep the corpora")
    arguments = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cio-fix-bench-"))
    try:
        _benchmark(
            work, arguments.repeat, arguments.heavy_repeat, arguments.scaling_repeat
        )
    finally:
        if arguments.keep:
            print(f"corpora kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _benchmark(work: Path, repeat: int, heavy_repeat: int, scaling_repeat: int) -> None:
    started = time.perf_counter()
    stdlib = work / "stdlib"
    stdlib_files, stdlib_lines = copy_stdlib(stdlib)
    heavy = {modules: heavy_corpus(work, modules) for modules in (100, 200, 400)}
    heavy_files, heavy_lines = _count_python(heavy[200])
    mixed = work / "stdlib-and-heavy"
    shutil.copytree(stdlib, mixed, symlinks=True)
    shutil.copytree(heavy[200], mixed / "heavy")
    _git(mixed, "add", "-A")

    print(f"machine: {platform.machine()}, {psutil.cpu_count()} CPUs;", end=" ")
    print(f"Python {platform.python_version()}")
    versions = ", ".join(
        f"{package} {metadata.version(package)}"
        for package in ("cio-fix", "libcst", "ruff", "fixit")
    )
    print(f"versions: {versions}")
    print(f"large repository: {stdlib_files} files, {stdlib_lines} lines")
    print(f"heavy corpus: {heavy_files} files, {heavy_lines} lines")
    print(
        f"repetitions: {repeat} for the large repository,"
        f" {heavy_repeat} on the heavy corpus and for the cache,"
        f" {scaling_repeat} per scaling point"
    )
    print()

    table = Table()
    python = str(BIN / "python")

    cio_large = Command("cio-fix large", [*CIO_FIX, "."], stdlib)
    ruff = Command(
        "ruff", [str(BIN / "ruff"), "check", "--isolated", "--no-cache", "."], stdlib
    )
    measure([cio_large, ruff], repeat)
    table.compare("large repository vs ruff check", cio_large, ruff, "<= 1.0", 1.0)

    cio_heavy = Command("cio-fix heavy", [*CIO_FIX, "."], heavy[200])
    noop = Command(
        "libcst noop",
        [python, "-m", "libcst.tool", "codemod", "noop.NOOPCommand", "service"],
        heavy[200],
    )
    fixit = Command("fixit", [str(BIN / "fixit"), "lint", "service"], heavy[200])
    measure([cio_heavy, noop, fixit], heavy_repeat)
    table.compare("heavy corpus vs libcst no-op", cio_heavy, noop, "<= 1.0", 1.0)
    table.compare("heavy corpus vs fixit lint", cio_heavy, fixit, "<= 0.2", 0.2)

    cache = heavy[200] / ".cio_fix_cache"
    cold = Command(
        "cold",
        [*CIO_FIX_CACHED, "."],
        heavy[200],
        prepare=lambda: shutil.rmtree(cache, ignore_errors=True),
    )
    warm = Command("warm", [*CIO_FIX_CACHED, "."], heavy[200])
    for _ in range(heavy_repeat):
        cold.times.append(run_once(cold))
        warm.times.append(run_once(warm))
    table.compare("second run vs first (cache)", warm, cold, "<= 0.3", 0.3)

    peak = cio_heavy.peak_bytes
    table.value("peak memory, heavy corpus", _megabytes(peak), "< 200 MB", peak < 200e6)
    for command in (cio_large, ruff, noop, fixit):
        table.value(
            f"peak memory, {command.label}", _megabytes(command.peak_bytes), "", True
        )

    # The 200-module point is the heavy-corpus run measured above.
    points = {
        modules: Command(f"{modules}", [*CIO_FIX, "."], folder)
        for modules, folder in heavy.items()
        if modules != 200
    }
    points[200] = cio_heavy
    with_large = Command("mixed", [*CIO_FIX, "."], mixed)
    alone = Command("alone", [*CIO_FIX, "."], heavy[200])
    for _ in range(scaling_repeat):
        for command in [points[100], points[400], alone, with_large]:
            command.times.append(run_once(command))
    # Linear or better: doubling the modules at most doubles the time,
    # with 10% for noise.
    doubling = max(
        points[200].median / points[100].median,
        points[400].median / points[200].median,
    )
    shown = ", ".join(
        f"{modules}: {points[modules].median:.1f} s" for modules in sorted(points)
    )
    table.value(
        "scaling 100/200/400 modules",
        shown,
        f"2x modules <= 2.2x time (worst {doubling:.2f}x)",
        doubling <= 2.2,
    )
    table.compare(
        "heavy corpus plus large repository vs alone", with_large, alone, "<= 1.1", 1.1
    )

    table.print()
    print()
    print(f"benchmark took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
