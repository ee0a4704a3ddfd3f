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
- A complete line that is not a record of ours (bad JSON, foreign object, missing or ill-typed
  required fields, a ``cell_key`` that is not the hash of its ``cell``) is an error naming the file
  and line number; the file is left untouched and a sweep refuses to append to it.
- Every record carries ``config_fingerprint``, the sha256 of the canonical JSON of the config it
  belongs to (:func:`config_fingerprint`). Resuming refuses (naming the line) a record whose
  fingerprint is not the directory's config's, so records of two sweeps never mix; such a record is
  never counted as done and never overwritten. Records of schema ``noisy-expert-bench/1`` (written
  before fingerprints) are read by ``report`` only.
- ``<out>/.lock`` (``flock``) keeps two sweeps from writing to the same directory at once.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from baselines.sweep.cells import BudgetCell, Cell, ThresholdCell, cell_key

RESULTS_FILE = "results.jsonl"
CONFIG_FILE = "config.yaml"
SCHEMA = "noisy-expert-bench/2"
LEGACY_SCHEMA = "noisy-expert-bench/1"  # no config fingerprint; readable by report only
STATUSES = ("ok", "error")
#: The fields every record must have (beyond schema, cell_key, cell, status), by status, with their types;
#: an ``ok`` record's kind-specific fields are its cell kind's ``RECORD_FIELDS``
#: (:class:`baselines.sweep.cells.BudgetCell`, :class:`~baselines.sweep.cells.ThresholdCell`).
ERROR_FIELDS: dict[str, tuple[type, ...]] = {"label": (str,), "error": (str,)}
FINGERPRINT_FIELD = "config_fingerprint"


class StoreError(ValueError):
    """A results directory or file that cannot be used as it is (named, with its line): the CLI's exit 2."""

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
    cell = Cell.from_dict(record["cell"])
    return (f"{record['label']} {cell.env_id} {cell.env_kwargs} {cell.describe()} "
            f"seed={cell.seed}: {record['error']}")


def config_fingerprint(config: dict[str, Any]) -> str:
    """The sha256 of a config's canonical JSON (sorted keys, no spaces): what records are matched on."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_directory_name(directory: str | os.PathLike[str]) -> Path:
    """``directory`` as a path; ``StoreError`` for an empty name (``Path("")`` is the current
    directory, where results, config, lock and report would land unasked)."""
    if not str(directory).strip():
        raise StoreError(f"results directory {str(directory)!r}: an empty name (it would mean the current directory); "
                         "name a directory, e.g. 'results'")
    return Path(directory)


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Name ``path`` in an ``OSError`` raised while writing it: ``os.write``/``fsync`` errors (a full
    disk, "File too large") carry no file name, and the CLI's one line must say which file."""
    try:
        yield
    except OSError as err:
        if err.filename is not None:
            raise
        raise OSError(err.errno, err.strerror or str(err), str(path)) from err


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


def record_problem(record: Any) -> str | None:
    """What is wrong with a parsed line as a record of ours, or ``None``: schema, required fields and
    types, and every number within its cell's bounds (:meth:`baselines.sweep.cells.Cell.check_record`)."""
    if not isinstance(record, dict) or record.get("schema") not in (SCHEMA, LEGACY_SCHEMA):
        schema = record.get("schema") if isinstance(record, dict) else None
        return f"foreign line, not a {SCHEMA} record (schema={schema!r})"
    status = record.get("status")
    if status not in STATUSES:
        return f"status {status!r} is not one of {STATUSES}"
    if not isinstance(record.get("cell"), dict) or not isinstance(record.get("cell_key"), str):
        return "record lacks its cell (a mapping) or its cell_key (a string)"
    if record["cell_key"] != cell_key(record["cell"]):
        return f"cell_key {record['cell_key']!r} is not the hash of the record's cell"
    if record["schema"] == SCHEMA:
        fingerprint = record.get(FINGERPRINT_FIELD)
        if not isinstance(fingerprint, str) or len(fingerprint) != 64:
            return f"record lacks its {FINGERPRINT_FIELD} (a sha256 hex string)"
    kind = ThresholdCell if record["cell"].get("measure") == ThresholdCell.measure else BudgetCell
    problem = kind.check_cell(record["cell"])
    if problem is not None:
        return problem
    try:
        cell = Cell.from_dict(record["cell"])
    except (TypeError, ValueError) as err:
        return str(err)
    if status == "error":
        for name, types_ in ERROR_FIELDS.items():
            if not isinstance(record.get(name), types_):
                return f"error record lacks {name!r} or it has the wrong type ({record.get(name)!r})"
        return None
    return cell.check_record(record)


def _check_record(path: Path, lineno: int, line: bytes, fingerprint: str | None, legacy: bool) -> dict[str, Any]:
    where = f"{path}:{lineno}"
    untouched = "the file was left untouched"
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise StoreError(f"{where}: corrupt line, not JSON ({err}); {untouched}") from None
    problem = record_problem(record)
    if problem is not None:
        raise StoreError(f"{where}: {problem}; {untouched}")
    if record["schema"] == LEGACY_SCHEMA and not legacy:
        raise StoreError(f"{where}: a {LEGACY_SCHEMA} record (written before config fingerprints) cannot be "
                         f"resumed; 'report' still reads it, run the sweep into a new --out; {untouched}")
    if fingerprint is not None and record["schema"] == SCHEMA and record[FINGERPRINT_FIELD] != fingerprint:
        raise StoreError(f"{where}: record of another config (fingerprint {record[FINGERPRINT_FIELD][:12]}..., "
                         f"this directory's config is {fingerprint[:12]}...), e.g. a line from another sweep's "
                         f"results; {untouched}")
    return record


def read_records(path: str | Path, *, fingerprint: str | None = None, legacy: bool = False) -> Records:
    """Read and validate every complete line of a results file; ``ValueError`` naming file and line on a bad one.

    With ``fingerprint``, every record must carry it (:func:`config_fingerprint` of the directory's
    config). ``legacy`` accepts records of the older schema (no fingerprint). A last line without
    its newline is not parsed but returned as ``torn``.
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
            raise StoreError(f"{path}:{lineno}: corrupt line, empty; the file was left untouched")
        out.records.append(_check_record(path, lineno, line, fingerprint, legacy))
    return out


class ResultStore:
    """A results directory: ``results.jsonl``, ``config.yaml`` and a lock file."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = check_directory_name(directory)
        self.results_path = self.dir / RESULTS_FILE
        self.config_path = self.dir / CONFIG_FILE
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._fingerprint: str | None = None
        self.notes: list[str] = []  # what open_for_append did (torn fragment moved aside, ...)

    # -- reading ----------------------------------------------------------------------------------

    def check_directory(self) -> None:
        """``ValueError`` if ``dir`` exists but is not a directory (e.g. ``--out`` names a file)."""
        if self.dir.exists() and not self.dir.is_dir():
            raise StoreError(f"{self.dir}: not a directory (a results directory is needed)")

    def read(self, fingerprint: str | None = None, *, legacy: bool = False) -> Records:
        return read_records(self.results_path, fingerprint=fingerprint, legacy=legacy)

    def has_records(self) -> bool:
        """Whether ``results.jsonl`` holds anything (a complete line or a torn one)."""
        return self.results_path.exists() and self.results_path.stat().st_size > 0

    def stored_config(self) -> dict[str, Any] | None:
        """The stored config (``None`` if there is none); ``ValueError`` naming the file if it is invalid."""
        from baselines.sweep.config import MAX_CONFIG_BYTES, safe_load_yaml

        if not self.config_path.exists():
            return None
        try:
            # Our block-style dump of a config may be a few times its flow-style source: a larger cap.
            raw = safe_load_yaml(self.config_path.read_text(), str(self.config_path), max_bytes=4 * MAX_CONFIG_BYTES)
        except UnicodeDecodeError:
            raise StoreError(f"{self.config_path}: not a valid config (not UTF-8 text)") from None
        if not isinstance(raw, dict) or not raw:
            raise StoreError(f"{self.config_path}: not a valid config (empty, or not a mapping)")
        return raw

    # -- writing ----------------------------------------------------------------------------------

    def lock(self) -> None:
        """Take the directory's exclusive lock (``ValueError`` if another sweep holds it)."""
        self.check_directory()
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(f"{self.dir} is in use by another running sweep (its .lock is held)") from None
        self._lock_fd = fd

    def write_config(self, raw: dict[str, Any], *, replace: bool = False) -> None:
        """Store the config (atomically: temp file + rename). An existing one is never replaced unless
        ``replace`` (adopting a directory whose config is invalid: the old file is kept beside it)."""
        if self.config_path.exists():
            if not replace:
                return
            stamp = _dt.datetime.now().strftime("%Y%m%dT%H%M%S%f")
            os.replace(self.config_path, self.config_path.with_name(f"{CONFIG_FILE}.replaced-{stamp}"))
        tmp = self.config_path.with_suffix(".yaml.tmp")
        try:
            with writing(tmp), open(tmp, "w") as f:
                yaml.safe_dump(raw, f, sort_keys=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.config_path)
        except BaseException:  # any failure (full disk, a signal, a bad value): no half-written temp file
            tmp.unlink(missing_ok=True)
            raise

    def open_for_append(self, fingerprint: str) -> Records:
        """Check the existing file against ``fingerprint`` (raising on a bad line), open it for appending,
        then set a torn fragment aside. Every record appended afterwards carries ``fingerprint``."""
        records = self.read(fingerprint)
        # Opened before anything is moved or cut: an unwritable file fails here, with nothing changed.
        self._fd = os.open(self.results_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._fingerprint = fingerprint
        if records.torn is not None:
            stamp = _dt.datetime.now().strftime("%Y%m%dT%H%M%S%f")
            side = self.results_path.with_name(f"{RESULTS_FILE}.torn-{stamp}")
            with writing(side), open(side, "xb") as f:
                f.write(records.torn)
                f.flush()
                os.fsync(f.fileno())
            os.truncate(self.results_path, records.complete_bytes)
            self.notes.append(
                f"{self.results_path}: the last line was torn (an interrupted write, {len(records.torn)} bytes); "
                f"moved it to {side.name} and will re-run its cell"
            )
        return records

    def append(self, record: dict[str, Any]) -> None:
        """Append one record, stamped with the config fingerprint, as one complete line: one write, then fsync."""
        if self._fd is None:
            raise RuntimeError("open_for_append() first")
        record = {**record, FINGERPRINT_FIELD: self._fingerprint}
        line = (json.dumps(record, sort_keys=True, default=_json_default) + "\n").encode()
        with writing(self.results_path):
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


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return repr(obj)


def make_record(cell: Mapping[str, Any], key: str, status: str, **fields: Any) -> dict[str, Any]:
    """A store record: schema, cell key and config, status, versions and time, plus ``fields``."""
    return {
        "schema": SCHEMA,
        "cell_key": key,
        "cell": dict(cell),
        "label": cell["label"],
        "status": status,
        "versions": package_versions(),
        "finished_at": _utcnow(),
        **fields,
    }
