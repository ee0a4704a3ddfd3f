"""The results store: one JSON line per finished run in ``<out>/results.jsonl``.

Durability rules (a sweep may be killed at any instant):

- Only the sweep's main process writes. Each record is one complete line (``\\n``-terminated),
  written with a single ``os.write`` on an ``O_APPEND`` descriptor, then ``fsync``: a kill leaves
  either the whole line or, at worst, a *torn* last line with no newline. Nothing already written
  is ever rewritten.
- Readers ignore a torn last line (and say so): it may be a line still being written.
- Resuming (:meth:`ResultStore.open_for_append`) with a torn last line first copies the fragment to
  ``results.jsonl.torn-<timestamp>`` (fsynced) and only then cuts it from the main file, so the next
  record starts on a fresh line; every complete line stays byte-for-byte as it was.
- A complete line that is not a record of ours (bad JSON, foreign object) is an error naming the
  file and line number; the file is left untouched and a sweep refuses to append to it.
- ``<out>/.lock`` (``flock``) keeps two sweeps from writing to the same directory at once.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import functools
import json
import os
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS_FILE = "results.jsonl"
CONFIG_FILE = "config.yaml"
SCHEMA = "noisy-expert-bench/1"
STATUSES = ("ok", "error")
VERSIONED_PACKAGES = ("noisy-expert-envs", "imitation", "stable-baselines3", "gymnasium", "torch", "numpy")


@functools.cache
def package_version(name: str) -> str | None:
    """The installed version of ``name`` (``None`` if not installed); looked up once per process."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages a result depends on (``None`` if not installed)."""
    return {name: package_version(name) for name in VERSIONED_PACKAGES}


def describe_failure(record: dict[str, Any]) -> str:
    """One line naming a failed run's cell and its error (sweep output and report)."""
    cell = record["cell"]
    return (f"{record['label']} {cell['env_id']} {cell['env_kwargs']} budget={cell['budget']} "
            f"seed={cell['seed']}: {record['error']}")


def _utcnow() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Records:
    """What a results file holds: its records in file order, and a torn last line if any."""

    records: list[dict[str, Any]] = field(default_factory=list)
    torn: bytes | None = None
    complete_bytes: int = 0  # length of the file up to the end of its last complete line

    def latest_ok(self) -> dict[str, dict[str, Any]]:
        """The first successful record of each cell key (later duplicates are ignored)."""
        found: dict[str, dict[str, Any]] = {}
        for record in self.records:
            if record["status"] == "ok":
                found.setdefault(record["cell_key"], record)
        return found

    def errors(self) -> list[dict[str, Any]]:
        """Error records of cells that never succeeded."""
        ok = self.latest_ok()
        return [r for r in self.records if r["status"] == "error" and r["cell_key"] not in ok]


def _check_record(path: Path, lineno: int, line: bytes) -> dict[str, Any]:
    where = f"{path}:{lineno}"
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{where}: corrupt line, not JSON ({err}); the file was left untouched") from None
    if not isinstance(record, dict) or record.get("schema") != SCHEMA:
        raise ValueError(
            f"{where}: foreign line, not a {SCHEMA} record (schema={record.get('schema') if isinstance(record, dict) else None!r}); "
            "the file was left untouched"
        )
    if not isinstance(record.get("cell_key"), str) or record.get("status") not in STATUSES:
        raise ValueError(f"{where}: record lacks a cell_key or a status in {STATUSES}; the file was left untouched")
    return record


def read_records(path: str | Path) -> Records:
    """Read every complete line of a results file; ``ValueError`` naming file and line on a bad one.

    A last line without its newline is not parsed but returned as ``torn``.
    """
    path = Path(path)
    if not path.exists():
        return Records()
    data = path.read_bytes()
    end = data.rfind(b"\n")
    out = Records(torn=data[end + 1:] or None, complete_bytes=end + 1)
    lines = data[:end].split(b"\n") if end >= 0 else []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            raise ValueError(f"{path}:{lineno}: corrupt line, empty; the file was left untouched")
        out.records.append(_check_record(path, lineno, line))
    return out


class ResultStore:
    """A results directory: ``results.jsonl``, ``config.yaml`` and a lock file."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.results_path = self.dir / RESULTS_FILE
        self.config_path = self.dir / CONFIG_FILE
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self.notes: list[str] = []  # what open_for_append did (torn fragment moved aside, ...)

    # -- reading ----------------------------------------------------------------------------------

    def read(self) -> Records:
        return read_records(self.results_path)

    def stored_config(self) -> dict[str, Any] | None:
        import yaml

        if not self.config_path.exists():
            return None
        return yaml.safe_load(self.config_path.read_text())

    # -- writing ----------------------------------------------------------------------------------

    def lock(self) -> None:
        """Take the directory's exclusive lock (``ValueError`` if another sweep holds it)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ValueError(f"{self.dir} is in use by another running sweep (its .lock is held)") from None
        self._lock_fd = fd

    def write_config(self, raw: dict[str, Any]) -> None:
        """Store the config once (atomically: temp file + rename); never replaces an existing one."""
        import yaml

        if self.config_path.exists():
            return
        tmp = self.config_path.with_suffix(".yaml.tmp")
        with open(tmp, "w") as f:
            yaml.safe_dump(raw, f, sort_keys=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.config_path)

    def open_for_append(self) -> Records:
        """Check the existing file (raising on a corrupt line), set a torn fragment aside, open for appending."""
        records = self.read()
        if records.torn is not None:
            stamp = _dt.datetime.now().strftime("%Y%m%dT%H%M%S%f")
            side = self.results_path.with_name(f"{RESULTS_FILE}.torn-{stamp}")
            with open(side, "xb") as f:
                f.write(records.torn)
                f.flush()
                os.fsync(f.fileno())
            os.truncate(self.results_path, records.complete_bytes)
            self.notes.append(
                f"{self.results_path}: the last line was torn (an interrupted write, {len(records.torn)} bytes); "
                f"moved it to {side.name} and will re-run its cell"
            )
        self._fd = os.open(self.results_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return records

    def append(self, record: dict[str, Any]) -> None:
        """Append one record as one complete line: single write, then fsync."""
        if self._fd is None:
            raise RuntimeError("open_for_append() first")
        line = (json.dumps(record, sort_keys=True, default=_json_default) + "\n").encode()
        written = os.write(self._fd, line)
        while written < len(line):  # regular files write everything at once; be safe anyway
            written += os.write(self._fd, line[written:])
        os.fsync(self._fd)

    def close(self) -> None:
        for attr in ("_fd", "_lock_fd"):
            fd = getattr(self, attr)
            if fd is not None:
                os.close(fd)
                setattr(self, attr, None)

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return repr(obj)


def make_record(cell: dict[str, Any], key: str, status: str, **fields: Any) -> dict[str, Any]:
    """A store record: schema, cell key and config, status, versions and time, plus ``fields``."""
    return {
        "schema": SCHEMA,
        "cell_key": key,
        "cell": cell,
        "label": cell["label"],
        "status": status,
        "versions": package_versions(),
        "finished_at": _utcnow(),
        **fields,
    }
