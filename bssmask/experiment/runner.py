"""The report's runs: each config trained and scored by the library's functions, several at a time, once.

A :class:`Run` is a config and the folder it trains and scores in: a head
runs the job ``train.py`` (:func:`bssmask.experiment.training.train`) then
``eval.py`` (:func:`bssmask.experiment.evaluate.evaluate`), a peer (a name of
``report.peers``) ``peer.py`` (:func:`bssmask.experiment.training.train_and_score_peer`):
the recipes' scripts of those names run the same functions. Each job is a process of its
own, ``python -m bssmask.experiment.runner JOB CONF RUN_DIR [PEER]``
(:func:`run_job`), which Lightning's DDP starts again once per device. What
a folder already holds for the same config (:func:`same_run`: every section
that decides the trained model and its scores) is kept. :func:`run_all`
runs them ``jobs`` at a time in threads; with several jobs each job gets its
share of the CPU threads (``OMP_NUM_THREADS``, unless set) and writes its
output to ``<folder>/<job>.log`` (``train.log``, ``eval.log``, ``peer.log``).

Example:
    >>> base = {"model": {"mask": "irm"}, "training": {"seed": 0, "num_workers": 2}, "trainer": {"devices": 1}}
    >>> same_run(base, {**base, "trainer": {"devices": 2}, "training": {"seed": 0, "num_workers": 4}})
    True
    >>> same_run(base, {**base, "trainer": {"devices": 1, "precision": "32-true"}})
    False
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .. import recipe_config
from ..errors import RunError, run_cli
from .evaluate import evaluate, test_sets
from .training import train, train_and_score_peer

__all__ = ["NOT_RESULT", "JOBS", "Run", "same_run", "run_job", "train_and_evaluate", "run_all"]

#: What does not change a run's result: how it is run, shown and reported (``None``: the whole section).
#: The trainer's precision does (bfloat16 against float32 training), so it is not here.
NOT_RESULT = {"trainer": ("accelerator", "devices", "num_nodes", "strategy"), "eval": None, "report": None,
              "training": ("num_workers", "logger", "progress_bar")}


def _result_part(conf: dict) -> dict:
    """The parts of a config that determine a trained model and its scores."""
    out = {}
    for section, keys in conf.items():
        skip = NOT_RESULT.get(section, ())
        if skip is not None:
            out[section] = {k: v for k, v in keys.items() if k not in skip}
    return out


def same_run(conf_a: dict, conf_b: dict) -> bool:
    """Whether two configs train the same model and score it the same way (:data:`NOT_RESULT` aside)."""
    return _result_part(conf_a) == _result_part(conf_b)


def _stored_conf(run_dir: Path):
    path = run_dir / "conf.yml"
    try:
        return recipe_config.load(path) if path.is_file() else None
    except recipe_config.ConfigError:
        return None


#: The jobs of a run, by name: ``f(conf, run_dir, peer)``.
JOBS = {
    "train.py": lambda conf, run_dir, peer: train(conf, run_dir),
    "eval.py": lambda conf, run_dir, peer: evaluate(conf, run_dir),
    "peer.py": train_and_score_peer,
}


def run_job(argv: list[str]) -> int:
    """Run one job of :data:`JOBS` as a command: ``JOB CONF RUN_DIR [PEER]``; its exit code.

    Errors are reported in one line as the recipe script of the job's name
    does (:func:`bssmask.errors.run_cli`): exit code 2 for a user error, 1
    for a run that failed.
    """
    job, conf_file, run_dir, *peer = argv

    def main() -> int:
        JOBS[job](recipe_config.load(conf_file), Path(run_dir), peer[0] if peer else None)
        return 0

    return run_cli(job, main)


def train_and_evaluate(conf: dict, run_dir: Path, env: dict | None = None, log: bool = False,
                       peer: str | None = None) -> dict[str, dict]:
    """Train and score ``conf`` in ``run_dir`` unless done; return the summaries by test set (``eval``, ...).

    A head runs the jobs ``train.py`` then ``eval.py``; a ``peer`` (a name of
    ``report.peers``) ``peer.py`` (:data:`JOBS`), each in a process of its
    own (:func:`run_job`). What exists for the same config is kept.

    Args:
        env: environment of the jobs (default: this one).
        log: write each job's output to ``run_dir/<job>.log`` instead of the console.

    Raises:
        subprocess.CalledProcessError: a job failed.
    """
    model = run_dir / ("peer_model.pth" if peer else "best_model.pth")
    summaries = [run_dir / out / "summary.json" for out in test_sets(conf)]
    stored = _stored_conf(run_dir)
    trained = stored is not None and same_run(stored, conf) and model.is_file()
    if peer:
        trained = trained and stored["report"]["peers"].get(peer) == conf["report"]["peers"][peer] \
            and stored["report"]["peer_minutes"] == conf["report"]["peer_minutes"]
    evaluated = trained and all(p.is_file() and p.stat().st_mtime >= model.stat().st_mtime for p in summaries)
    conf_file = run_dir / "report_conf.yml"
    if peer:
        names = [] if evaluated else ["peer.py"]
    else:
        names = ([] if trained else ["train.py"]) + ([] if evaluated else ["eval.py"])
    if names:
        recipe_config.dump(conf, conf_file)
    for job in names:
        command = [sys.executable, "-m", __name__, job, str(conf_file), str(run_dir), *([peer] if peer else [])]
        if log:
            with open(run_dir / f"{Path(job).stem}.log", "w") as out:
                subprocess.run(command, check=True, env=env, stdout=out, stderr=subprocess.STDOUT)
        else:
            subprocess.run(command, check=True, env=env)
    return {p.parent.name: json.loads(p.read_text()) for p in summaries}


@dataclass(frozen=True)
class Run:
    """One run of the report: ``conf`` trained and scored in ``folder``.

    Attributes:
        what: how messages name it (``"head irm seed 2"``, ``"peer convtasnet"``).
        conf: its config.
        folder: its experiment folder (created).
        peer: the name of ``report.peers`` it trains, or None for a head.
    """

    what: str
    conf: dict
    folder: Path
    peer: str | None = None


def run_all(runs: dict, jobs: int = 1) -> dict:
    """:func:`train_and_evaluate` of every :class:`Run`, ``jobs`` at a time; their summaries by the same keys.

    Prints a line when each run starts and ends.

    Raises:
        RunError: the first run whose job failed, naming the run, the
            job, its exit code and (several jobs) its log.
    """
    jobs = max(1, jobs)
    env = dict(os.environ)
    if jobs > 1:
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    print_lock = threading.Lock()  # runs go in threads: one whole line at a time

    def say(line: str) -> None:
        with print_lock:
            print(line, flush=True)

    def run(key):
        job = runs[key]
        job.folder.mkdir(parents=True, exist_ok=True)
        say(f"report: {job.what} in {job.folder}")
        try:
            summaries = train_and_evaluate(job.conf, job.folder, env, log=jobs > 1, peer=job.peer)
        except subprocess.CalledProcessError as err:
            name = err.cmd[3]
            where = f", see {job.folder / Path(name).with_suffix('.log')}" if jobs > 1 else ""
            raise RunError(f"{job.what}: {name} failed with exit code {err.returncode}{where}") from None
        say(f"report: {job.what} done: SI-SDR {summaries['eval']['si_sdr']:.2f} dB")
        return summaries

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return dict(zip(runs, pool.map(run, runs)))


if __name__ == "__main__":
    sys.exit(run_job(sys.argv[1:]))
