"""Run a grid of cells into a results store, locally (process pool) or on Ray; resumable.

``run_sweep(config, out_dir, jobs=2)`` skips every cell that already has a successful record in
``out_dir/results.jsonl``, runs the rest, and appends one record per finished run as it finishes
(see :mod:`baselines.sweep.store` for the durability rules). A run that raises becomes an ``error``
record (with its traceback) and the sweep goes on; error cells are run again on the next resume.
Runs are deterministic given their cell, so a resumed sweep ends with the same records as an
uninterrupted one (wall times aside), whichever backend ran them.
"""

from __future__ import annotations

import collections
import contextlib
import math
import multiprocessing
import os
import sys
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from baselines.sweep.cells import BudgetCell, Cell
from baselines.sweep.config import ConfigError, SweepConfig, config_diff
from baselines.sweep.progress import make_progress
from baselines.sweep.store import ResultStore, config_fingerprint, describe_failure, make_record

BACKENDS = ("local", "ray")
#: ``single``: each run through imitation's BC trainer (the reference); ``batched``: the budget cells of
#: ``bc``/``bc_clean`` with the MLP policy that differ only in seed train together as one stacked model
#: (:mod:`baselines.learners.batched`), every other cell as with ``single``.
ENGINES = ("single", "batched")
#: At most this many trainings share one batched job (bounds its memory and keeps the pool busy).
MAX_BATCH = 64


@dataclass
class SweepSummary:
    """What a sweep did: cells in the grid, skipped as already done, run ok, failed."""

    total: int
    skipped: int
    ok: int = 0
    failed: int = 0
    wall_time_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.total} cells: {self.skipped} already done, {self.ok} run ok, {self.failed} failed "
                f"({self.wall_time_s:.1f} s)")


def _error_record(cell: Cell, err: BaseException, wall_time_s: float) -> dict[str, Any]:
    """The store record of a cell whose run raised (or whose worker died): error and traceback."""
    return make_record(cell, cell.key(), "error", error=f"{type(err).__name__}: {err}",
                       traceback=traceback.format_exc(), wall_time_s=wall_time_s)


#: Cells that differ only in how they are evaluated (``deterministic_eval``, ``eval_episodes``) or
#: labelled train the same policy (runs are deterministic given their cell): the last trainings of
#: this process, by :meth:`BudgetCell.training_key`, are evaluated again instead of retrained. Bounded: a
#: config's greedy and sampled variants of one training are ``budgets x seeds`` cells apart.
_TRAINED: collections.OrderedDict[str, Any] = collections.OrderedDict()
TRAINED_CACHE_SIZE = 64


def trained_for(cell: BudgetCell) -> Any:
    """The training of a budget cell: reused from this process when one matches, else trained."""
    from baselines.core.run import train_spec

    key = cell.training_key()
    trained = _TRAINED.pop(key, None)
    if trained is None:
        trained = train_spec(_spec(cell))
    _TRAINED[key] = trained
    while len(_TRAINED) > TRAINED_CACHE_SIZE:
        _TRAINED.popitem(last=False)
    return trained


def execute_cell(cell: Cell, engine: str = "single") -> dict[str, Any]:
    """Run one cell (:meth:`Cell.execute`) and return its store record (``error`` on any exception);
    an ``ok`` record names the ``engine`` that trained it."""
    start = time.perf_counter()
    try:
        fields = cell.execute()
    except Exception as err:  # noqa: BLE001  (recorded, and the sweep goes on)
        return _error_record(cell, err, time.perf_counter() - start)
    return make_record(cell, cell.key(), "ok", engine=engine, **fields)


def execute_cells(cells: list[Cell]) -> list[dict[str, Any]]:
    """:func:`execute_cell` for cells that share one training, in one process (so it is trained once)."""
    return [execute_cell(cell) for cell in cells]


def execute_batch(cells: list[BudgetCell]) -> list[dict[str, Any]]:
    """Train the distinct trainings of ``cells`` (budget cells that differ only in seed and evaluation)
    as one batch on the batched engine, then evaluate each cell on its training; the records of every
    cell are ``error`` records if the batch's training raises."""
    from baselines.learners.batched import train_batched

    first: dict[str, BudgetCell] = {}
    for cell in cells:
        first.setdefault(cell.training_key(), cell)
    start = time.perf_counter()
    try:
        trainings = dict(zip(first, train_batched([_spec(cell) for cell in first.values()])))
    except Exception as err:  # noqa: BLE001  (recorded, and the sweep goes on)
        return [_error_record(cell, err, time.perf_counter() - start) for cell in cells]
    records = []
    for cell in cells:
        _TRAINED[cell.training_key()] = trainings[cell.training_key()]  # what trained_for finds
        records.append(execute_cell(cell, engine="batched"))
    return records


def _spec(cell: BudgetCell) -> Any:
    """The cell's checked :class:`~baselines.core.run.RunSpec`: the config's (checked where it entered),
    or, for a cell read back from a record, checked here."""
    from baselines.core.run import RunSpec

    if cell.spec is not None:
        return cell.spec
    return RunSpec.check(cell.algo, cell.env_id, budget=cell.budget, seed=cell.seed, eval_episodes=cell.eval_episodes,
                         deterministic_eval=cell.deterministic_eval, **cell.run_arguments())


def engine_of(cell: Cell, engine: str) -> str:
    """The engine that trains ``cell`` in a sweep run with ``engine`` (``batched`` only batches what it can)."""
    from baselines.learners.batched import batchable

    batched = engine == "batched" and isinstance(cell, BudgetCell) and batchable(cell.algo, cell.policy,
                                                                               cell.policy_kwargs)
    return "batched" if batched else "single"


def _batch_groups(cells: list[Cell], jobs: int) -> list[tuple[Callable[[list[Cell]], list[dict[str, Any]]], list[Cell]]]:
    """``(executor, cells)`` jobs of the batched engine: the cells it batches, grouped by everything
    but seed and evaluation into batches of at most :data:`MAX_BATCH` trainings (more, smaller ones
    when there are fewer batches than ``jobs``); every other cell grouped as :func:`_training_groups`."""
    batches: dict[str, list[list[Cell]]] = {}
    others = []
    for cell in cells:
        if engine_of(cell, "batched") == "single":
            others.append(cell)
            continue
        batches.setdefault(cell.training_key(but=("seed",)), []).append(cell)
    out: list[tuple[Callable[[list[Cell]], list[dict[str, Any]]], list[Cell]]] = []
    for batch in batches.values():
        trainings = _training_groups(batch)
        pieces = min(len(trainings), max(math.ceil(len(trainings) / MAX_BATCH), math.ceil(jobs / len(batches))))
        size = math.ceil(len(trainings) / pieces)
        for i in range(0, len(trainings), size):
            out.append((execute_batch, [cell for group in trainings[i:i + size] for cell in group]))
    return out + [(execute_cells, group) for group in _training_groups(others)]


def _training_groups(cells: list[Cell]) -> list[list[Cell]]:
    """Cells grouped by the training they share (budget cells only), in first-occurrence order.

    A pool hands cells to whichever worker is free, so the greedy and sampled variants of one
    training would mostly land in different workers and each train it: they go to a worker together.
    """
    groups: dict[str, list[Cell]] = {}
    for i, cell in enumerate(cells):
        key = cell.training_key() if isinstance(cell, BudgetCell) else f"cell {i}"
        groups.setdefault(key, []).append(cell)
    return list(groups.values())


def _worker_init() -> None:
    import signal

    import torch

    # The parent stops workers on SIGINT/SIGTERM (see _Interrupts): a Ctrl-C sent to the whole process
    # group must not raise KeyboardInterrupt tracebacks in every worker, and a SIGTERM ends a worker at once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    torch.set_num_threads(1)
    # A forked worker inherits the parent's trainings (e.g. an earlier in-process sweep's, maybe by
    # the other engine): reuse starts empty in every worker, as within one sweep.
    _TRAINED.clear()


class SweepInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM reached the sweep: workers are stopped, finished runs are saved (``signum`` says which)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Interrupts:
    """SIGINT/SIGTERM raise :class:`SweepInterrupted` in the main thread, but never inside :meth:`critical`.

    A record being appended when the signal arrives is completed first (no torn line), then the
    exception is raised. Outside the main thread (signal handlers cannot be set there) it does nothing.
    """

    def __init__(self) -> None:
        self._pending: int | None = None
        self._in_critical = False
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        if self._in_critical:
            self._pending = signum
        else:
            raise SweepInterrupted(signum)

    def __enter__(self) -> "_Interrupts":
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        import signal

        for signum, previous in self._previous.items():
            signal.signal(signum, previous)

    @contextlib.contextmanager
    def critical(self) -> Iterator[None]:
        self._in_critical = True
        try:
            yield
        finally:
            self._in_critical = False
            if self._pending is not None:
                signum, self._pending = self._pending, None
                raise SweepInterrupted(signum)


#: How local workers start. ``fork`` (Linux default here): workers inherit the already imported
#: torch/imitation (a fresh interpreter spends ~4 s importing them), and the pool forks all its
#: workers before any thread of ours (tqdm's monitor, the pool's manager) exists and before the
#: parent ran any torch op, so no lock or thread pool is inherited half-held; workers then use one
#: torch thread each. Set ``NOISY_EXPERT_BENCH_START_METHOD=forkserver`` (or ``spawn``) to change it.
START_METHOD = os.environ.get("NOISY_EXPERT_BENCH_START_METHOD", "fork")


def _run_local(cells: list[dict[str, Any]], jobs: int, engine: str = "single") -> Iterator[dict[str, Any]]:
    """Start the runs now (so workers fork before the progress bar's thread exists), yield records as they finish."""
    groups = _batch_groups(cells, jobs) if engine == "batched" else [(execute_cells, g) for g in _training_groups(cells)]
    if jobs == 1:  # in-process: no pool start-up; results are identical (each run seeds everything)
        _TRAINED.clear()  # trainings are reused within one sweep only (pool workers start empty)
        if engine == "single":
            return (execute_cell(cell) for cell in cells)
        return (record for executor, group in groups for record in executor(group))
    ctx = multiprocessing.get_context(START_METHOD)
    if START_METHOD == "forkserver":
        ctx.set_forkserver_preload(["baselines.core.run", "baselines.sweep.runner"])
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(groups)), mp_context=ctx, initializer=_worker_init)
    pending: dict[Future, list[dict[str, Any]]] = {pool.submit(executor, group): group for executor, group in groups}
    return _drain_pool(pool, pending)


#: Seconds a worker gets to exit after SIGTERM before it is killed (the whole stop stays well under 5 s).
STOP_GRACE_S = 2.0


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """End ``pool``'s workers now (SIGTERM, then SIGKILL after ``STOP_GRACE_S``) and wait for them.

    ``shutdown(wait=True)`` would let every running cell finish first (minutes); an interrupted
    cell has no record yet and is simply run again on resume.
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public API lists them
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for proc in processes:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)
    pool.shutdown(wait=False, cancel_futures=True)


def _drain_pool(pool: ProcessPoolExecutor, pending: dict[Future, list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                group = pending.pop(future)
                try:
                    records = future.result()
                except Exception as err:  # a worker died (e.g. killed): record its cells, go on
                    records = [_error_record(cell, err, 0.0) for cell in group]
                yield from records
    except BaseException:  # interrupted (or the consumer failed): stop the workers, do not wait for their cells
        _stop_workers(pool)
        raise
    pool.shutdown(wait=True, cancel_futures=True)


def _run_ray(cells: list[dict[str, Any]], jobs: int, address: str | None) -> Iterator[dict[str, Any]]:
    """Connect to (or start) Ray and submit every cell as a task now; yield records as they finish."""
    import ray  # available: checked by _check_backend

    started = not ray.is_initialized()
    if started:
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=jobs, **kwargs)
    remote = ray.remote(num_cpus=1, max_retries=0)(execute_cell)
    refs = {remote.remote(cell): cell for cell in cells}
    return _drain_ray(ray, refs, started)


def _drain_ray(ray: Any, refs: dict[Any, dict[str, Any]], started: bool) -> Iterator[dict[str, Any]]:
    try:
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            cell = refs.pop(done[0])
            try:
                record = ray.get(done[0])
            except Exception as err:  # the task's worker died
                record = _error_record(cell, err, 0.0)
            yield record
    except BaseException:  # interrupted: cancel what still runs (on a cluster it would otherwise go on)
        for ref in refs:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()


def _normalized(raw: dict[str, Any]) -> Any:
    import yaml

    return yaml.safe_load(yaml.safe_dump(raw, sort_keys=False))


def sweep_fingerprint(config: SweepConfig) -> str:
    """The fingerprint every record of ``config``'s sweep carries (of the config as stored in ``config.yaml``)."""
    return config_fingerprint(_normalized(config.raw))


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; valid choices: {list(BACKENDS)}")
    if backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ConfigError("--backend ray needs Ray: pip install 'noisy-expert-envs[ray]'") from None


def _check_engine(engine: str, backend: str) -> None:
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; valid choices: {list(ENGINES)}")
    if engine == "batched" and backend == "ray":
        raise ConfigError("--engine batched runs on the local backend only for now; use --engine single with --backend ray")


def _check_engines(store: ResultStore, records: list[dict[str, Any]], engine: str) -> None:
    """Refuse (``ConfigError``) to resume a store whose ``ok`` records were trained by another engine
    than this sweep would train their cells with: a store's records of one cell kind never mix
    engines (records without an ``engine`` field, written before it existed, are ``single``)."""
    for line, record in enumerate(records, start=1):
        if record["status"] != "ok":
            continue
        made, wanted = record.get("engine", "single"), engine_of(Cell.from_dict(record["cell"]), engine)
        if made != wanted:
            raise ConfigError(
                f"{store.results_path}:{line}: record of {record['label']!r} seed {record['cell']['seed']} was trained "
                f"by the {made!r} engine, this sweep (--engine {engine}) would train its cell with the {wanted!r} "
                f"engine; resume with --engine {made}, or use a new --out directory (engines are not mixed in one store)")


def _check_resumable(store: ResultStore, new: dict[str, Any], adopt: bool, engine: str = "single") -> bool:
    """Check that ``store`` may receive ``new``'s records; returns whether its config.yaml must be (re)written.

    Read-only: refuses (``ValueError``) a different stored config, records without a valid stored
    config (unless ``adopt``), any record that is not a valid record of ``new`` (naming its line),
    and records of another engine than ``engine`` would use (:func:`_check_engines`).
    """
    store.check_directory()
    try:
        stored = store.stored_config()
    except ValueError as err:  # a StoreError, or the stored YAML's ConfigError
        if not (adopt and store.has_records()):
            hint = "pass --adopt to replace it" if store.has_records() else "remove it"
            raise ConfigError(f"{err}; {hint}") from None
        stored = None
    if stored is None and store.has_records() and not adopt:
        raise ConfigError(
            f"{store.results_path} has records but {store.config_path} is missing or invalid, so they cannot be "
            "checked against this config; pass --adopt to adopt them (records of another config are still refused)"
        )
    if stored is not None:
        diff = config_diff(stored, new)
        if diff is not None:
            raise ConfigError(
                f"{store.config_path} holds a different config (first difference at key {diff!r}); "
                "use a new --out directory for a different sweep"
            )
    records = store.read(config_fingerprint(new))  # every record must belong to this config
    _check_engines(store, records.records, engine)
    return stored is None


def run_sweep(
    config: SweepConfig,
    out_dir: str | Path,
    *,
    jobs: int = 1,
    backend: str = "local",
    ray_address: str | None = None,
    progress: bool | None = None,
    adopt: bool = False,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    engine: str = "single",
) -> SweepSummary:
    """Run the cells of ``config`` not yet done in ``out_dir``; returns a :class:`SweepSummary`.

    Before writing anything into ``out_dir``, refuses (``ValueError``) an unknown or unavailable
    backend, an ``out_dir`` that is a file, a stored ``config.yaml`` that differs from ``config``
    (naming the first differing key) or is invalid, records without a valid ``config.yaml`` (unless
    ``adopt``: then ``config`` is written as the directory's config, the invalid file kept beside
    it), and a results file with a corrupt, foreign or other-config line (naming its line). Also
    refuses a directory another sweep is writing to. ``progress=None``: a tqdm bar on a terminal, else a
    line per finished run (rate-limited) and a heartbeat line at least every 20 s; ``False``: neither.
    SIGINT or SIGTERM stops the workers at once and raises :class:`SweepInterrupted` (records already
    appended stay whole; the interrupted runs are run on resume). ``engine`` is one of :data:`ENGINES`
    (``batched``: local backend only); a store whose records another engine trained is refused.
    """
    _check_engine(engine, backend)  # the arguments' combination first, then whether Ray is installed
    _check_backend(backend)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"jobs must be an integer >= 1, got {jobs!r}")
    start = time.perf_counter()
    new = _normalized(config.raw)
    fingerprint = sweep_fingerprint(config)
    store = ResultStore(out_dir)
    _check_resumable(store, new, adopt, engine)  # before the lock creates anything
    store.lock()
    try:
        write = _check_resumable(store, new, adopt, engine)  # again under the lock: another sweep may have written
        records = store.open_for_append(fingerprint)
        store.write_config(new, replace=write and store.config_path.exists())
        done = records.latest_ok()
        todo = [c for c in config.cells if c.key() not in done]
        # Longest first (cost grows with the budget): fewer idle workers at the end of the sweep.
        todo.sort(key=lambda c: -c.cost)
        summary = SweepSummary(total=len(config.cells), skipped=len(config.cells) - len(todo))
        for note in store.notes:
            print(f"note: {note}", file=sys.stderr)
        if not todo:
            summary.wall_time_s = time.perf_counter() - start
            return summary
        with _Interrupts() as interrupts:
            # The stream starts the runs (local workers fork now, before the progress thread exists).
            stream = _run_ray(todo, jobs, ray_address) if backend == "ray" else _run_local(todo, jobs, engine)
            # closing(): an exception in this loop (a signal while appending) stops the workers now, not at gc.
            with contextlib.closing(stream), make_progress(len(todo), config.name, progress) as bar:
                for record in stream:
                    with interrupts.critical():
                        store.append(record)
                    failed = record["status"] != "ok"
                    if failed:
                        summary.failed += 1
                        summary.errors.append(describe_failure(record))
                        bar.write(f"run failed: {summary.errors[-1]}")
                    else:
                        summary.ok += 1
                    if on_record is not None:
                        on_record(record)
                    bar.update(failed)
        summary.wall_time_s = time.perf_counter() - start
        return summary
    finally:
        store.close()


__all__ = ["BACKENDS", "ENGINES", "SweepInterrupted", "SweepSummary", "execute_batch", "execute_cell", "run_sweep",
           "sweep_fingerprint"]

