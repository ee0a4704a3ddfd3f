"""A sweep's progress on stderr: a tqdm bar on a terminal, plain lines otherwise (CI logs, ``| tee``).

Without a terminal tqdm draws nothing, so a sweep would be silent for minutes. :class:`LineProgress`
prints ``name: done/total runs, F failed, elapsed, ETA`` after a finished run (at most one line per
``1/LINES_PER_SWEEP`` of the grid, so a 10^4-run sweep prints about a hundred), and a heartbeat line
from a daemon thread whenever nothing was printed for ``HEARTBEAT_S`` seconds while runs go on
(a single long run must not leave a log silent).
"""

from __future__ import annotations

import math
import sys
import threading
import time
from typing import IO, Any

#: Seconds of silence after which a heartbeat line is printed (below CI tools' usual 30 s+ stall checks).
HEARTBEAT_S = 20.0
#: At most about this many per-run lines in one sweep (the rest of the runs advance silently).
LINES_PER_SWEEP = 100


class _Progress:
    """What :func:`baselines.sweep.runner.run_sweep` calls: ``update`` per finished run, ``write`` a line, ``close``."""

    def update(self, failed: bool) -> None:
        pass

    def write(self, line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        pass

    def __enter__(self) -> "_Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class LineProgress(_Progress):
    """Progress as plain lines: after finished runs (rate-limited), and a heartbeat while runs go on."""

    def __init__(self, total: int, name: str, *, file: IO[str] | None = None, heartbeat_s: float = HEARTBEAT_S,
                 lines: int = LINES_PER_SWEEP) -> None:
        self.total, self.name, self.file = total, name, file if file is not None else sys.stderr
        self.done = self.failed = 0
        self._step = max(1, math.ceil(total / lines))
        self._start = self._last_line = time.monotonic()
        self._lock = threading.Lock()  # the heartbeat thread and the sweep's loop both print
        self._stop = threading.Event()
        self._heartbeat_s = heartbeat_s
        self._thread = threading.Thread(target=self._beat, name="sweep-heartbeat", daemon=True)
        self._print(f"{name}: {total} runs to do")
        self._thread.start()

    def _status(self) -> str:
        elapsed = time.monotonic() - self._start
        eta = "?" if self.done == 0 else _duration(elapsed / self.done * (self.total - self.done))
        return (f"{self.name}: {self.done}/{self.total} runs done, {self.failed} failed, "
                f"elapsed {_duration(elapsed)}, ETA {eta}")

    def _print(self, line: str) -> None:
        with self._lock:
            print(line, file=self.file, flush=True)
            self._last_line = time.monotonic()

    def _beat(self) -> None:
        while not self._stop.wait(max(0.05, self._heartbeat_s - (time.monotonic() - self._last_line))):
            if time.monotonic() - self._last_line >= self._heartbeat_s:
                self._print(self._status() + " (running)")

    def update(self, failed: bool) -> None:
        self.done += 1
        self.failed += int(failed)
        if self.done == self.total or self.done % self._step == 0:
            self._print(self._status())

    def write(self, line: str) -> None:
        self._print(line)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class BarProgress(_Progress):
    """A tqdm bar (on a terminal)."""

    def __init__(self, total: int, name: str) -> None:
        from tqdm.auto import tqdm

        self.failed = 0
        self._bar = tqdm(total=total, desc=name, unit="run", file=sys.stderr, dynamic_ncols=True)

    def update(self, failed: bool) -> None:
        self.failed += int(failed)
        self._bar.set_postfix(failed=self.failed, refresh=False)
        self._bar.update(1)

    def write(self, line: str) -> None:
        self._bar.write(line, file=sys.stderr)

    def close(self) -> None:
        self._bar.close()


class NoProgress(_Progress):
    """``--no-progress``: failures are still printed, nothing else."""


def make_progress(total: int, name: str, progress: bool | None) -> _Progress:
    """``progress=None``: a bar on a terminal, lines otherwise; ``True``: a bar; ``False``: nothing."""
    if progress is False:
        return NoProgress()
    if progress is None and not sys.stderr.isatty():
        return LineProgress(total, name)
    return BarProgress(total, name)
