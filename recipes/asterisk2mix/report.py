"""Stage 3: the trained ablation: each head of ``report.heads``, trained and evaluated with everything else equal.

Each head's overrides replace keys of the ``model`` (and ``loss``) sections;
the rest of the config is shared. A head whose resulting config is the
config of ``--exp_dir`` reuses that run (stages 1 and 2); the others train
and evaluate in ``<exp_dir>/heads/<name>/`` (``train.py`` then ``eval.py``,
each skipped when its result exists for the same config), ``report.jobs``
at a time: with several jobs each gets its share of the CPU threads
(``OMP_NUM_THREADS``, unless set) and writes its output to
``<exp_dir>/heads/<name>/{train,eval}.log``. Next to each head, the oracle
of the same mask kind (with its options, e.g. the PSM range) at the same
resolution (factor, upsampling method and space, STFT) on the same test
mixtures, scored by :func:`bssmask.ablation.score_mixture` (the machinery of
``bssmask ablate``; the head's bound on cIRM values is not applied).

Writes ``<exp_dir>/report/report.{md,csv,json,png}``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bssmask import ablation, config, heads, masks, tables
from bssmask.audio import load_sources
from bssmask.data.checks import split_csv
from bssmask.data.mixtures import list_mixtures

HERE = Path(__file__).resolve().parent
COLUMNS = {
    "head": None, "mask": None, "options": None, "factor": None,
    "si_sdr": ".2f", "si_sdr_imp": ".2f", "sdr": ".2f", "sdr_imp": ".2f", "sir": ".2f", "sar": ".2f",
    "pesq": ".2f", "stoi": ".3f", "oracle_si_sdr": ".2f", "oracle_sdr": ".2f",
}
OVERRIDABLE = ("model", "loss")


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exp_dir", required=True, help="experiment folder of stages 1 and 2 (exp/<tag>)")


def head_config(conf: dict, name: str, overrides) -> dict:
    """``conf`` with a head's overrides applied to its ``model`` and ``loss`` sections."""
    if not isinstance(overrides, dict):
        raise config.ConfigError(f"report.heads.{name}: expected a mapping of model/loss keys")
    sections = {}
    for key, value in overrides.items():
        section = config.KEY_SECTION.get(key)
        if section not in OVERRIDABLE:
            valid = ", ".join(k for s in OVERRIDABLE for k in config.SCHEMA[s])
            raise config.ConfigError(f"report.heads.{name}: cannot override {key!r}; valid keys: {valid}")
        sections.setdefault(section, {})[key] = value
    return config.merge(conf, config.validate(sections, f"report.heads.{name}", partial=True))


#: What does not change a run's result: how it is run, shown and reported.
NOT_RESULT = {"trainer": None, "eval": None, "report": None,
              "training": ("num_workers", "logger", "progress_bar")}


def _result_part(conf: dict) -> dict:
    """The parts of a config that determine a trained model and its scores."""
    out = {}
    for section, keys in conf.items():
        skip = NOT_RESULT.get(section, ())
        if skip is not None:
            out[section] = {k: v for k, v in keys.items() if k not in skip}
    return out


def _same_run(conf_a: dict, conf_b: dict) -> bool:
    return _result_part(conf_a) == _result_part(conf_b)


def _stored_conf(run_dir: Path):
    path = run_dir / "conf.yml"
    try:
        return config.load(path) if path.is_file() else None
    except config.ConfigError:
        return None


def train_and_evaluate(conf: dict, run_dir: Path, env: dict | None = None, log: bool = False) -> dict:
    """Run ``train.py`` and ``eval.py`` for ``conf`` in ``run_dir`` unless done; return the eval summary.

    Args:
        env: environment of the scripts (default: this one).
        log: write each script's output to ``run_dir/<train|eval>.log`` instead of the console.
    """
    model, summary = run_dir / "best_model.pth", run_dir / "eval" / "summary.json"
    stored = _stored_conf(run_dir)
    trained = stored is not None and _same_run(stored, conf) and model.is_file()
    evaluated = trained and summary.is_file() and summary.stat().st_mtime >= model.stat().st_mtime
    conf_file = run_dir / "report_conf.yml"
    scripts = ([] if trained else ["train.py"]) + ([] if evaluated else ["eval.py"])
    if scripts:
        config.dump(conf, conf_file)
    for script in scripts:
        command = [sys.executable, str(HERE / script), "--conf", str(conf_file), "--exp_dir", str(run_dir)]
        if log:
            with open(run_dir / f"{Path(script).stem}.log", "w") as out:
                subprocess.run(command, check=True, env=env, stdout=out, stderr=subprocess.STDOUT)
        else:
            subprocess.run(command, check=True, env=env)
    return json.loads(summary.read_text())


def oracle_config(conf: dict) -> ablation.AblationConfig:
    """Ablation grid holding the oracle of the model's mask kind (with its options) at the model's resolution."""
    model = conf["model"]
    head = heads.HEADS.get(model["mask"])
    kind = masks.get(model["mask"], **{k: v for k, v in model["mask_options"].items()
                                      if head is None or k not in head.options})
    return ablation.AblationConfig(
        masks=(kind,), upsampled=("mask",), methods=(model["method"],), spaces=(model["space"],),
        factor=model["factor"], down_method=model["down_method"], n_fft=model["n_fft"], hop=model["hop"],
        window=model["window"],
    )


def oracle_scores(abl: ablation.AblationConfig, mixtures, sample_rate: int) -> dict:
    """Mean oracle metrics over ``mixtures`` (``[(id, [source paths])]``) at the config's resolution."""
    per_mixture = [ablation.score_mixture(load_sources(paths, sample_rate)[0], abl) for _, paths in mixtures]
    rows = ablation.mean_rows(per_mixture)
    wanted = "none" if abl.factor == 1 else "mask"
    return next(r for r in rows if r["upsampled"] == wanted)


def plot(rows: list[dict], path: Path) -> None:
    """Trained and oracle SI-SDR per head; bars beyond the axis are labelled with their value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trained = [r["si_sdr"] for r in rows]
    oracle = [r["oracle_si_sdr"] for r in rows]
    finite = [v for v in trained + oracle if not math.isnan(v)]
    top = min(max(finite, default=1.0), 3 * max([v for v in trained if not math.isnan(v)], default=10.0)) * 1.15
    fig, ax = plt.subplots(figsize=(1.4 * len(rows) + 2, 3.6))
    x = range(len(rows))
    for offset, values, label in ((-0.2, trained, "trained"), (0.2, oracle, "oracle")):
        bars = ax.bar([i + offset for i in x], [min(v, top) if not math.isnan(v) else 0 for v in values],
                      width=0.4, label=label)
        for bar, v in zip(bars, values):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), "n/a" if math.isnan(v) else f"{v:.1f}",
                    ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(x), [r["head"] for r in rows])
    ax.set_ylim(min(0.0, min(finite, default=0.0)), top * 1.1)
    ax.set_ylabel("SI-SDR (dB)")
    ax.set_title("Trained heads and the oracle of their mask (test set)", fontsize=10)
    ax.legend(fontsize=8)
    tables.save_png(fig, path)


def main(argv=None) -> int:
    conf, args = config.parse_args(argv, __doc__.splitlines()[0], add_options)
    exp_dir = Path(args.exp_dir)
    try:
        config.require(conf, "data", "model", "loss", "report")
        variants = {name: head_config(conf, name, overrides) for name, overrides in conf["report"]["heads"].items()}
        if not variants:
            raise config.ConfigError("report.heads: no head to train")
        test_csv = split_csv(conf["data"]["test_dir"], conf["data"]["task"])
        mixtures = list_mixtures(test_csv)
        for head_conf in variants.values():
            oracle_config(head_conf).validate()
    except (ValueError, OSError) as err:
        print(f"report.py: error: {err}", file=sys.stderr)
        return 2
    runs = {name: exp_dir if _same_run(head_conf, conf) else exp_dir / "heads" / name
            for name, head_conf in variants.items()}
    jobs = max(1, conf["report"]["jobs"])
    env = dict(os.environ)
    if jobs > 1:
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))

    print_lock = threading.Lock()  # heads run in threads: one whole line at a time

    def say(line: str) -> None:
        with print_lock:
            print(line, flush=True)

    def run_head(name):
        runs[name].mkdir(parents=True, exist_ok=True)
        say(f"report: head {name} in {runs[name]}")
        try:
            summary = train_and_evaluate(variants[name], runs[name], env, log=jobs > 1)
        except subprocess.CalledProcessError as err:
            script = Path(err.cmd[1]).name
            where = f", see {runs[name] / Path(script).with_suffix('.log')}" if jobs > 1 else ""
            raise RuntimeError(f"head {name}: {script} failed with exit code {err.returncode}{where}") from None
        say(f"report: head {name} done: SI-SDR {summary['si_sdr']:.2f} dB")
        return summary

    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            summaries = dict(zip(variants, pool.map(run_head, variants)))
    except RuntimeError as err:
        print(f"report.py: error: {err}", file=sys.stderr)
        return 1
    rows, oracles = [], {}
    for name, head_conf in variants.items():
        abl = oracle_config(head_conf)
        key = (repr(abl.masks[0]), abl.factor, abl.methods, abl.spaces, abl.down_method, abl.n_fft, abl.hop, abl.window)
        if key not in oracles:
            oracles[key] = oracle_scores(abl, mixtures, conf["data"]["sample_rate"])
        model, summary = head_conf["model"], summaries[name]
        rows.append(dict(
            head=name, mask=model["mask"], factor=model["factor"], run=str(runs[name]),
            options=", ".join(f"{k}={v}" for k, v in model["mask_options"].items()) or None,
            **{k: summary[k] for k in ("si_sdr", "si_sdr_imp", "sdr", "sdr_imp", "sir", "sar", "pesq", "stoi")},
            oracle_si_sdr=oracles[key]["si_sdr"], oracle_sdr=oracles[key]["sdr"],
        ))
    out_dir = exp_dir / "report"
    preamble = (
        f"Trained heads on {test_csv} ({len(mixtures)} test mixtures), everything else equal "
        f"(masker {conf['model']['masker']}, loss {conf['loss']['loss']}, n_fft {conf['model']['n_fft']}, "
        f"hop {conf['model']['hop']}). Means over mixtures; *_imp: improvement over the mixture; "
        "oracle_*: the mask kind's oracle at the head's resolution (bssmask ablate).\n\n"
    )
    paths = tables.write_table(out_dir, "report", rows, COLUMNS, dict(config=conf, test_csv=str(test_csv)), preamble)
    plot(rows, out_dir / "report.png")
    print(paths["md"].read_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
