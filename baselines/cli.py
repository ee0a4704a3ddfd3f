"""``noisy-expert-bench``: run sweeps, report on them, run the demo, diagnose noisy experts, list what exists.

Exit codes: 0 success; 1 some runs of a sweep failed (they are recorded and retried on resume);
2 a usage, configuration or file-system error (one line on stderr naming the path and the problem;
nothing was run); 130 interrupted by SIGINT (Ctrl-C), 143 by SIGTERM (128 + the signal number).
Nothing heavy (torch, SB3, imitation, matplotlib) is imported before a command runs, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

PROG = "noisy-expert-bench"
DEMO_CONFIG = "demo.yaml"
#: Grids with more runs than this need --yes (or a "y" at the prompt on a terminal).
LARGE_GRID = 2000


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def _integer(minimum: int) -> Any:
    """An argparse type: an integer >= ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value
    return parse


_jobs = _integer(1)


def _target(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1], got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1], got {value}")
    return value


def _add_sweep_flags(p: argparse.ArgumentParser, default_out: str | None) -> None:
    p.add_argument("--out", default=default_out, metavar="DIR",
                   help="results directory (results.jsonl, config.yaml, report.md, plots); re-using it resumes")
    p.add_argument("--jobs", type=_jobs, default=1, metavar="N", help="runs in parallel (one CPU each)")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local process pool, or Ray tasks (needs the 'ray' extra)")
    p.add_argument("--engine", choices=("single", "batched"), default="single",
                   help="single: each run through imitation's BC trainer; batched: bc/bc_clean budget cells that "
                        "differ only in seed train as one stacked model (other cells as single; local backend only)")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="Ray cluster to join (e.g. 'auto' or 'ray://host:10001'); default: a local instance with --jobs CPUs")
    p.add_argument("--seeds", type=_jobs, default=None, metavar="N",
                   help="run seeds 0..N-1 instead of the config's 'seeds' (same as --set seeds=N)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config value before validation, recorded in DIR/config.yaml; KEY is dotted into "
                        "the YAML mapping (list items by index), VALUE parsed as YAML; repeatable. "
                        "e.g. --set eval_episodes=5 --set envs.0.grid.horizon=[5,10]")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress output (default: a bar on a terminal, otherwise a line per finished run "
                        "and a heartbeat line at least every 20 s, on stderr)")
    p.add_argument("--adopt", action="store_true",
                   help="accept a DIR whose records have no valid config.yaml (deleted, emptied, corrupt) as this "
                        "config's: its config.yaml is written (an invalid one is kept aside); records of another "
                        "config are still refused")
    p.add_argument("--yes", action="store_true",
                   help=f"run a grid of more than {LARGE_GRID} runs without asking (without --yes it asks on a "
                        "terminal and refuses otherwise)")


def _examples(*commands: str) -> str:
    return "examples:\n" + "\n".join(f"  {PROG} {c}" for c in commands)


def _command(sub: Any, name: str, summary: str, description: str, *examples: str) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` shows its description and examples."""
    return sub.add_parser(name, formatter_class=_Formatter, help=summary, description=description,
                          epilog=_examples(*examples))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        formatter_class=_Formatter,
        description="Benchmark offline imitation (BC), DAgger and on-policy distillation (OPD) against noisy experts.",
        epilog=_examples(
            "list", "demo --out demo-results --jobs 2", "run experiments/separation.yaml --out sep --jobs 2",
            "report sep", "diagnose NoisyExpert/CombinationLock-v0 horizon=20 epsilon=0.3",
        ) + "\n\nexit codes: 0 ok, 1 some runs failed (or an internal error, with its traceback), 2 bad usage, config "
          "or file-system error,\n130 interrupted "
          "(SIGINT), 143 terminated (SIGTERM).\nSIGINT or SIGTERM to a sweep stops its workers within a few "
          "seconds; finished runs are saved\n(an interrupted run is not), and the same command resumes. With "
          "--backend ray the running tasks\nare cancelled (force) and a Ray instance the sweep started is shut down.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = _command(
        sub, "run", "run a sweep from a YAML config (resumable)",
        "Run every cell of a YAML sweep config (envs x env-kwargs grid x algorithms x budgets x seeds),\n"
        "appending one JSON line per finished run to DIR/results.jsonl. The whole config is validated\n"
        "before anything runs (duplicate YAML keys are refused). Re-running into the same DIR resumes:\n"
        "finished cells are skipped, failed ones retried. A DIR holding a different config, a record of\n"
        "another config (e.g. a line copied from another sweep's results) or records without a valid\n"
        "config.yaml (see --adopt) is refused, naming the line or file, before anything is written.\n"
        f"Grids of more than {LARGE_GRID} runs need --yes. See experiments/*.yaml.\n"
        "With 'measure: threshold' (and max_budget instead of budgets) each cell measures one seed's\n"
        "labels-to-target (baselines.sweep.threshold.labels_to_target) instead of one budget's score.\n"
        "\nconfig sketch:\n"
        "  envs: [{id: NoisyExpert/CombinationLock-v0, kwargs: {epsilon: 0.2}, grid: {horizon: [5, 10]}}]\n"
        "  algorithms: [bc, dagger, {name: opd, loss: plurality, k: 3, label: opd-plurality}]\n"
        "  budgets: [100, 400]          # or: measure: threshold, max_budget: 3000\n"
        "  seeds: 3",
        "run experiments/separation.yaml --out sep --jobs 2",
        "run experiments/separation.yaml --out sep --backend ray --jobs 4",
        "run sweep.yaml --out results --backend ray --ray-address auto",
    )
    run.add_argument("config", metavar="CONFIG", help="YAML sweep config")
    _add_sweep_flags(run, default_out=None)
    run.add_argument("--report", action="store_true", help="write the report when the sweep ends")

    report = _command(
        sub, "report", "tables and plots from a results directory",
        "Write DIR/report.md (printed too): per cell, mean and 95% bootstrap CI over seeds of success rate\n"
        "and normalized return; and PNG plots: return vs budget, labels-to-target vs horizon (with the\n"
        "offline p^-H prediction), return vs noise level, success vs horizon at the largest budget.\n"
        "Plots without data are skipped with a note. Every record is validated first: DIR/config.yaml must\n"
        "be valid and every record must belong to it (a bad line is named). For a 'measure: threshold'\n"
        "sweep: per-seed labels-to-target tables, exponential vs power growth fits with 95% intervals\n"
        "(DIR/fits.json), labels-to-target vs horizon and BC's fitted rate vs log(1/p) plots.",
        "report sep", "report sep --target 0.8 --no-plots",
    )
    report.add_argument("dir", metavar="DIR", help="results directory of a sweep")
    report.add_argument("--target", type=_target, default=None,
                        help="success level for labels-to-target (default: the config's 'target', else 0.9)")
    report.add_argument("--no-plots", action="store_true", help="tables only")

    demo = _command(
        sub, "demo", "a small real comparison: BC vs DAgger vs OPD (~3 min on 2 cores)",
        "Run the packaged demo sweep (baselines/configs/demo.yaml: CombinationLock at horizons 10 and 30\n"
        "with uniform noise eps 0.3, and CartPole with eps 0.2; BC vs DAgger vs OPD), then print its table\n"
        "and plot paths. At horizon 30 offline BC cannot open the lock with 1500 labels; OPD can.\n"
        "Resumes like 'run' when DIR already holds demo results.",
        "demo", "demo --out /tmp/demo --jobs 2",
    )
    _add_sweep_flags(demo, default_out="demo-results")
    demo.add_argument("--show-config", action="store_true", help="print the demo config and exit")

    diag = _command(
        sub, "diagnose", "measure how noisy an expert is",
        "Roll out the clean and the noisy expert over seeded episodes and query the oracle at visited\n"
        "states: agreement with the clean expert (exact and empirical), mode margin (min, mean), p (the\n"
        "probability the noisy expert acts like the clean one), and the predicted label needs:\n"
        "offline BC ~ 4.5 p^-H trajectories (exponential in H) vs OPD ~ H(H+1)/2 + H*ceil(2 ln(H/0.1)/margin^2)\n"
        "(polynomial). For Box actions: mean |noisy - clean| (the mode margin is undefined).\n"
        "Formulas: see baselines/diagnose.py.",
        "diagnose NoisyExpert/CombinationLock-v0 horizon=40",
        "diagnose NoisyExpert/CartPole-v1 noise=boltzmann temperature=0.5 --episodes 5",
        "diagnose NoisyExpert/Pendulum-v1 sigma=0.5 --json",
    )
    diag.add_argument("env_id", metavar="ENV_ID", help="a registered id, e.g. NoisyExpert/CombinationLock-v0")
    diag.add_argument("kwargs", nargs="*", metavar="key=value", help="env keyword arguments (values parsed as YAML)")
    diag.add_argument("--episodes", type=_jobs, default=20, metavar="N", help="seeded episodes per expert")
    diag.add_argument("--seed", type=_integer(0), default=0, help="first episode seed")
    diag.add_argument("--json", action="store_true", help="print JSON instead of text")

    _command(
        sub, "list", "registered env ids, noise models, algorithms and losses",
        "List the NoisyExpert/* env ids, the noise models with their parameters, the algorithms\n"
        "with their settings, defaults and meanings, and the OPD losses.",
        "list",
    )
    return parser


class UsageError(ValueError):
    """A bad command line that argparse cannot see (exit 2, one line). Only this, :class:`ConfigError`
    and :class:`StoreError` are reported as bad input: any other ``ValueError`` is a bug and keeps its
    traceback (exit 1)."""


def _parse_kwargs(items: list[str]) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"expected key=value, got {item!r}")
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise UsageError(f"{item!r}: the value is not valid YAML ({str(err).splitlines()[0]})") from None
    return out


def _confirm_grid(n_runs: int, yes: bool) -> None:
    """Ask before a very large grid: :class:`UsageError` unless ``yes``, or a "y" typed on a terminal."""
    if n_runs <= LARGE_GRID or yes:
        return
    message = f"the grid has {n_runs} runs (more than {LARGE_GRID})"
    if not sys.stdin.isatty():
        raise UsageError(f"{message}; pass --yes to run it")
    answer = input(f"{message}; run them all? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise UsageError(f"{message}; not confirmed, nothing was run")


def _sweep(args: argparse.Namespace, config: Any) -> int:
    from baselines.sweep.runner import run_sweep
    from baselines.sweep.store import check_directory_name

    if args.out is None:
        raise UsageError("--out DIR is required")
    check_directory_name(args.out)  # before the --yes prompt; "" would mean the current directory
    _confirm_grid(len(config.cells), args.yes)
    summary = run_sweep(config, args.out, jobs=args.jobs, backend=args.backend, ray_address=args.ray_address,
                        progress=False if args.no_progress else None, adopt=args.adopt,
                        engine=args.engine)
    print(f"{config.name}: {summary.line()}; results in {Path(args.out) / 'results.jsonl'}")
    for err in summary.errors:
        print(f"failed: {err}", file=sys.stderr)
    return 1 if summary.failed else 0


def _config(args: argparse.Namespace, text: str | None = None, source: str | None = None) -> Any:
    """The sweep config of ``args`` (the file ``args.config``, or ``text``) with ``--seeds``/``--set`` applied."""
    from baselines.sweep.config import load_config, parse_config, read_config_text, safe_load_yaml
    from baselines.sweep.overrides import apply_overrides

    if text is None:
        if args.seeds is None and not args.overrides:
            return load_config(args.config)
        text, source = read_config_text(args.config), args.config
    return parse_config(apply_overrides(safe_load_yaml(text, source), args.seeds, args.overrides))


def _cmd_run(args: argparse.Namespace) -> int:
    code = _sweep(args, _config(args))
    if args.report:
        from baselines.report.build import make_report

        print(make_report(args.out).markdown)
    return code


def _cmd_report(args: argparse.Namespace) -> int:
    from baselines.report.build import make_report
    from baselines.sweep.store import check_directory_name

    report = make_report(check_directory_name(args.dir), target=args.target, plots=not args.no_plots)
    print(report.markdown)
    return 0


def demo_config_text() -> str:
    """The packaged demo config (``baselines/configs/demo.yaml``)."""
    return resources.files("baselines").joinpath("configs", DEMO_CONFIG).read_text()


def _cmd_demo(args: argparse.Namespace) -> int:
    from baselines.report.build import make_report

    text = demo_config_text()
    if args.show_config:
        print(text)
        return 0
    config = _config(args, text, DEMO_CONFIG)
    start = time.perf_counter()
    code = _sweep(args, config)
    report = make_report(args.out)
    print(report.markdown)
    print(f"demo finished in {time.perf_counter() - start:.0f} s; report: {Path(args.out) / 'report.md'}")
    for plot in report.plots:
        print(f"plot: {plot}")
    return code


def _cmd_diagnose(args: argparse.Namespace) -> int:
    import json

    from baselines.core.task import make_env
    from baselines.diagnose import diagnose, format_diagnosis
    from noisy_expert_envs.registration import check_env_id

    kwargs = _parse_kwargs(args.kwargs)
    try:  # the id and its kwargs are the user's: refused in one line before any rollout
        check_env_id(args.env_id)
        make_env(args.env_id, kwargs).close()
    except (TypeError, ValueError) as err:
        raise UsageError(f"{args.env_id} with {kwargs}: {err}") from None
    result = diagnose(args.env_id, kwargs, episodes=args.episodes, seed=args.seed)
    print(json.dumps(result, indent=2) if args.json else format_diagnosis(result))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    import noisy_expert_envs
    from baselines.core.run import COMMON_KWARGS
    from baselines.learners import LEARNERS, settings_docs
    from baselines.learners.losses import DISTRIBUTION_LOSSES, LABEL_LOSSES
    from baselines.core.policies import POLICIES
    from noisy_expert_envs.noise.factory import CONTINUOUS_NOISE, DISCRETE_NOISE, noise_parameters

    print("environments:")
    for env_id in noisy_expert_envs.registered_ids():
        print(f"  {env_id}")
    for family, table in (("Discrete", DISCRETE_NOISE), ("Box", CONTINUOUS_NOISE)):
        print(f"noise models ({family} actions):")
        for name, cls in table.items():
            params = ", ".join(f"{k}={v!r}" for k, v in noise_parameters(cls).items()) or "-"
            print(f"  {name:16s} {params}")
    print("algorithms (settings: default, meaning):")
    for algo, learner in LEARNERS.items():
        print(f"  {algo}")
        for name, (default, doc) in settings_docs(learner.Settings).items():
            print(f"    {name:20s} {default!r:10s} {doc}")
    print(f"  common to all: {', '.join(COMMON_KWARGS)}")
    print(f"policies (policy=...): {', '.join(POLICIES)}")
    print("OPD losses:")
    print(f"  label losses:        {', '.join(LABEL_LOSSES)}")
    print(f"  distribution losses: {', '.join(DISTRIBUTION_LOSSES)} (Discrete actions only)")
    return 0


COMMANDS = {"run": _cmd_run, "report": _cmd_report, "demo": _cmd_demo, "diagnose": _cmd_diagnose, "list": _cmd_list}


def _first_line(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``noisy-expert-bench`` and ``python -m baselines``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)  # --help exits here, before anything heavy is imported
    from baselines.sweep.config import ConfigError
    from baselines.sweep.store import StoreError

    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # here, so that a closed pipe is met below and not at exit
        return code
    except BrokenPipeError:  # e.g. `list | head -3`: the reader has what it wanted, which is no error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's flush must not fail again
        return 0
    except (ConfigError, StoreError, UsageError) as err:  # bad input (config, results, command line): one line
        print(f"{PROG} {args.command}: error: {_first_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:  # read-only or immutable file, full disk, a file where a directory is needed, ...
        where = err.filename if err.filename is not None else "file system"
        print(f"{PROG} {args.command}: error: {where}: {err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:  # SIGINT, or SIGTERM during a sweep (SweepInterrupted carries signum)
        signum = getattr(err, "signum", signal.SIGINT)
        print(f"{PROG} {args.command}: interrupted by {signal.Signals(signum).name}; finished runs are saved, "
              "run the same command to resume", file=sys.stderr)
        return 128 + signum


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
