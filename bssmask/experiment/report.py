"""The trained ablation (the recipes' stage 3): each head of ``report.heads``, trained and evaluated with everything
else equal, next to Asteroid's own separators (``report.peers``).

Each head's overrides replace keys of the ``model`` (and ``loss``) sections;
the rest of the config is shared. Each head of ``report.seed_heads`` (all
heads when empty) trains once per seed of ``report.seeds``
(``training.seed``), the others with its first seed only; the report gives the mean over seeds
and, with several seeds, their standard deviation (``*_std``). A head run
whose config is the config of ``--exp_dir`` reuses that run (stages 1 and
2); the others train and evaluate in ``<exp_dir>/heads/<name>/`` (first
seed) or ``<exp_dir>/heads/<name>-seed<k>/`` (training, then evaluation,
each skipped when its result exists for the same config).
Each peer (:mod:`bssmask.peers`) trains for ``report.peer_minutes`` of
wall-clock time and is scored the same way in ``<exp_dir>/peers/<name>/``.
Runs go ``report.jobs`` at a time (:mod:`bssmask.experiment.runner`):
with several jobs each gets its share of the CPU threads (``OMP_NUM_THREADS``,
unless set) and writes its output to ``<run>/{train,eval,peer}.log``. Next to each head,
the oracle of the same mask kind (with its options, e.g. the PSM range) at
the same resolution (factor, upsampling method and space, STFT) on the same
test mixtures, scored by :func:`bssmask.ablation.score_mixture` (the
machinery of ``bssmask ablate``; the head's bound on cIRM values is not
applied); peers have no oracle (``null``).

Every row has ``kind`` (``bssmask`` or ``peer``), the SI-SDR improvement on
the seen-voice test set (``si_sdr_imp``), on the held-out-voice test set
(``si_sdr_imp_unseen``, ``sdr_imp_unseen``; ``null`` without one), on the
held-out validation voice (``si_sdr_imp_dev_unseen``) and on the same-voice
test set (``si_sdr_imp_same``).

Writes ``<exp_dir>/report/report.{md,csv,json,png}`` and the listening page
``<exp_dir>/report/index.html`` (with ``listening/``, :mod:`bssmask.listening`): the
summary table, then, for the mixtures each run saved (``eval.n_save_ex``) of ``test``,
``test_unseen`` and ``test_same``, the mixture, the sources and every head's and
peer's estimates as players. It opens from disk with no network.

Example (the recipes' ``report.py``, from ``recipes/asterisk2mix``)::

    conf = recipe_config.load("conf.yml", ["local/quick.yml"])
    paths = report(conf, "exp/quick")   # trains and scores what is not done yet
    print(paths["md"].read_text())

A run's config for one of ``report.seeds``, and its columns from its summaries:

    >>> seed_config({"training": {"seed": 0, "num_workers": 2}}, 3)
    {'training': {'seed': 3, 'num_workers': 2}}
    >>> row = scores([{"eval": {**dict.fromkeys(SCORES["eval"], 1.0), "si_sdr_imp": 6.0}}])
    >>> row["si_sdr_imp"], row["si_sdr_imp_unseen"]
    (6.0, None)
"""

from __future__ import annotations

import csv
import html
import statistics
from pathlib import Path

import soundfile as sf

from .. import ablation, heads, listening, masks, recipe_config, tables
from ..audio import load_sources
from ..data.librimix import list_mixtures, split_csv
from . import runner
from .evaluate import test_sets

__all__ = ["COLUMNS", "SCORES", "SPREAD", "LISTENED", "head_config", "scores", "oracle_config", "oracle_scores",
           "plot", "write_listening", "seed_config", "report"]
COLUMNS = {
    "head": None, "kind": None, "mask": None, "options": None, "factor": None, "seeds": None,
    "si_sdr_imp": ".2f", "si_sdr_imp_std": ".2f", "si_sdr_imp_unseen": ".2f", "si_sdr_imp_unseen_std": ".2f",
    "sdr_imp_unseen": ".2f", "si_sdr_imp_dev_unseen": ".2f", "si_sdr_imp_same": ".2f",
    "si_sdr": ".2f", "sdr": ".2f", "sdr_imp": ".2f", "sir": ".2f", "sar": ".2f",
    "pesq": ".2f", "stoi": ".3f", "oracle_si_sdr": ".2f", "oracle_sdr": ".2f",
}
#: Report columns from each test set's summary (``eval/``, ``eval_unseen/``, ``eval_dev_unseen/``, ``eval_same/``).
SCORES = {"eval": {k: k for k in ("si_sdr", "si_sdr_imp", "sdr", "sdr_imp", "sir", "sar", "pesq", "stoi")},
          "eval_unseen": {"si_sdr_imp": "si_sdr_imp_unseen", "sdr_imp": "sdr_imp_unseen"},
          "eval_dev_unseen": {"si_sdr_imp": "si_sdr_imp_dev_unseen"},
          "eval_same": {"si_sdr_imp": "si_sdr_imp_same"}}
#: Columns that get a standard deviation over seeds.
SPREAD = ("si_sdr_imp", "si_sdr_imp_unseen")
OVERRIDABLE = ("model", "loss")
#: Test sets whose saved examples (``<run>/<set>/examples/``) the listening page plays, with their titles.
LISTENED = {"eval": "test: seen voices", "eval_unseen": "test_unseen: held-out voices",
            "eval_same": "test_same: two utterances of one voice"}


def head_config(conf: dict, name: str, overrides) -> dict:
    """``conf`` with a head's overrides applied to its ``model`` and ``loss`` sections."""
    if not isinstance(overrides, dict):
        raise recipe_config.ConfigError(f"report.heads.{name}: expected a mapping of model/loss keys")
    sections = {}
    for key, value in overrides.items():
        section = recipe_config.KEY_SECTION.get(key)
        if section not in OVERRIDABLE:
            valid = ", ".join(k for s in OVERRIDABLE for k in recipe_config.SCHEMA[s])
            raise recipe_config.ConfigError(f"report.heads.{name}: cannot override {key!r}; valid keys: {valid}")
        sections.setdefault(section, {})[key] = value
    return recipe_config.merge(conf, recipe_config.validate(sections, f"report.heads.{name}", partial=True))


def scores(summaries: list[dict[str, dict]]) -> dict:
    """Report columns of :data:`SCORES` from one run's summaries per seed: means, and the spread of :data:`SPREAD`.

    A test set absent from the summaries gives ``None``; the spread is the
    sample standard deviation over seeds (``None`` for one seed).
    """
    row = {}
    for out, columns in SCORES.items():
        for key, column in columns.items():
            values = [s[out][key] for s in summaries if out in s]
            row[column] = sum(values) / len(values) if values else None
            if column in SPREAD:
                row[f"{column}_std"] = statistics.stdev(values) if len(values) > 1 else None
    return row


def oracle_config(conf: dict) -> ablation.AblationConfig:
    """Ablation grid holding the oracle of the model's mask kind (with its options) at the model's resolution."""
    model = conf["model"]
    _, kind_options = heads.split_options(model["mask"], model["mask_options"])
    kind = masks.get(model["mask"], **kind_options)
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
    """SI-SDR improvement of each head and peer on the seen-voice and held-out-voice test sets, side by side
    (error bars: the spread over seeds)."""
    tables.bar_plot(rows, ["head", "kind"], {"si_sdr_imp": "seen voices", "si_sdr_imp_unseen": "held-out voices"},
                    path, "Trained heads and Asteroid peers: seen and held-out voices", spread_suffix="_std",
                    axis_label="SI-SDR improvement (dB)", cut_outliers=False)


def _improvement(run: Path, out: str, mixture_id: str) -> float | None:
    """SI-SDR improvement of a run on one test mixture (its ``metrics.csv`` row), or None without one."""
    path = run / out / "metrics.csv"
    rows = [r for r in csv.DictReader(path.open()) if r["mixture_ID"] == mixture_id] if path.is_file() else []
    return float(rows[0]["si_sdr"]) - float(rows[0]["input_si_sdr"]) if rows else None


def write_listening(out_dir: Path, rows: list[dict], preamble: str, facts: dict[str, str]) -> Path:
    """Write the listening page ``<out_dir>/index.html`` of the report ``rows`` (each with its ``run`` folder).

    The summary table (with its spreads over seeds) and ``report.png``, then, per
    test set of :data:`LISTENED` and per saved example, the mixture and the sources
    (from the first run that saved it) and each run's estimates, all at one level.
    """
    body = [f"<p>{html.escape(line)}</p>" for line in preamble.splitlines() if line]
    body.append(listening.table(rows, COLUMNS, "Summary (click a column's title to sort by it)",
                                spread_suffix="_std"))
    body.append('<figure><img src="report.png" alt="Bar plot of each head\'s and peer\'s SI-SDR improvement on '
                'seen and held-out voices"></figure>')
    with listening.Assets.folder(out_dir) as assets:
        for out, title in LISTENED.items():
            examples = {}  # mixture ID -> {head: its example folder}
            for row in rows:
                for mixture in sorted((Path(row["run"]) / out / "examples").glob("*/mixture.wav")):
                    examples.setdefault(mixture.parent.name, {})[row["head"]] = mixture.parent
            if examples:
                body.append(f"<h2>{html.escape(title)}</h2>")
            for number, (mixture_id, folders) in enumerate(sorted(examples.items()), 1):
                first = next(iter(folders.values()))
                n_src = len(list(first.glob("s*_estimate.wav")))
                clips = {name: sf.read(first / f"{name}.wav", dtype="float32")[0]
                         for name in ["mixture", *(f"s{k + 1}" for k in range(n_src))]}
                estimates = {(head, k): sf.read(folder / f"s{k + 1}_estimate.wav", dtype="float32")[0]
                             for head, folder in folders.items() for k in range(n_src)}
                rate = sf.info(first / "mixture.wav").samplerate
                level, name = listening.gain(*clips.values(), *estimates.values()), f"{out}/mixture{number}"
                body.append(f"<h3>{html.escape(out.replace('eval', 'test'))} mixture {number}: "
                            f"{html.escape(mixture_id)}</h3>")
                labels = {"mixture": "mixture", **{f"s{k + 1}": f"source {k + 1} (true)" for k in range(n_src)}}
                body += [listening.player(assets.audio(f"{name}/{key}", wav, rate, level),
                                          f"{mixture_id}: {labels[key]}") for key, wav in clips.items()]
                heard = [dict(head=row["head"], kind=row["kind"], run=i,
                              si_sdr_imp=_improvement(Path(row["run"]), out, mixture_id))
                         for i, row in enumerate(rows) if row["head"] in folders]
                media = {f"source {k + 1} estimate": [
                    listening.player(assets.audio(f"{name}/run{row['run']}_s{k + 1}", estimates[row["head"], k], rate,
                                                  level), f"{row['head']}: source {k + 1} estimate", caption=False)
                    for row in heard] for k in range(n_src)}
                body.append(listening.table(heard, {"head": None, "kind": None, "si_sdr_imp": ".2f"},
                                            f"Estimates of {mixture_id} (si_sdr_imp: on this mixture, dB)",
                                            media=media))
    return listening.write_page(out_dir, "Trained heads and Asteroid peers: listening page", facts, "\n".join(body))


def seed_config(conf: dict, seed: int) -> dict:
    """``conf`` trained with ``seed``."""
    return recipe_config.merge(conf, {"training": {"seed": seed}})


def report(conf: dict, exp_dir: str | Path) -> dict[str, Path]:
    """Train and score the heads and peers of ``conf["report"]`` (those not done yet); write the report.

    ``exp_dir`` is the experiment folder of stages 1 and 2 (``exp/<tag>``).
    Returns the paths of ``<exp_dir>/report/report.{md,csv,json}``
    (:func:`bssmask.tables.write_table`).

    Raises:
        ConfigError: a bad ``report`` section (no head, bad seeds, unknown
            seed heads or peers), a head override of another key, a bad oracle grid.
        ValueError, OSError: a missing or bad test set (nothing trained).
        RunError: a run failed (:func:`bssmask.experiment.runner.run_all`).
    """
    exp_dir = Path(exp_dir)
    recipe_config.require(conf, "data", "model", "loss", "report", "eval")
    report_conf = conf["report"]
    variants = {name: head_config(conf, name, overrides) for name, overrides in report_conf["heads"].items()}
    if not variants:
        raise recipe_config.ConfigError("report.heads: no head to train")
    seeds = report_conf["seeds"]
    if not seeds or not all(isinstance(seed, int) and not isinstance(seed, bool) for seed in seeds) \
            or len(set(seeds)) < len(seeds):
        raise recipe_config.ConfigError(f"report.seeds: expected distinct integers, got {seeds!r}")
    unknown = [name for name in report_conf["seed_heads"] if name not in variants]
    if unknown:
        raise recipe_config.ConfigError(f"report.seed_heads: {', '.join(map(str, unknown))} not among report.heads "
                                 f"({', '.join(variants)})")
    head_seeds = {name: seeds if not report_conf["seed_heads"] or name in report_conf["seed_heads"] else seeds[:1]
                  for name in variants}
    for name, spec in report_conf["peers"].items():
        if not isinstance(spec, dict) or "peer" not in spec:
            raise recipe_config.ConfigError(f"report.peers.{name}: expected a mapping with a 'peer' key")
    if report_conf["peers"] and report_conf["peer_minutes"] <= 0:
        raise recipe_config.ConfigError(f"report.peer_minutes: expected > 0, got {report_conf['peer_minutes']}")
    test_csv = split_csv(conf["data"]["test_dir"], conf["data"]["task"])
    mixtures = list_mixtures(test_csv)
    for set_conf in test_sets(conf).values():
        split_csv(set_conf["data"]["test_dir"], conf["data"]["task"])
    for head_conf in variants.values():
        oracle_config(head_conf).validate()

    def head_run(name: str, head_conf: dict, seed: int) -> runner.Run:
        run_conf = seed_config(head_conf, seed)
        folder = exp_dir if runner.same_run(run_conf, conf) else \
            exp_dir / "heads" / (name if seed == seeds[0] else f"{name}-seed{seed}")
        return runner.Run(f"head {name}" + (f" seed {seed}" if len(head_seeds[name]) > 1 else ""), run_conf, folder)

    runs = {(name, seed): head_run(name, head_conf, seed) for name, head_conf in variants.items()
            for seed in head_seeds[name]}
    for name in report_conf["peers"]:
        runs[(name, None)] = runner.Run(f"peer {name}", conf, exp_dir / "peers" / name, peer=name)
    summaries = runner.run_all(runs, report_conf["jobs"])
    rows, oracles = [], {}
    for name, head_conf in variants.items():
        abl = oracle_config(head_conf)
        key = (repr(abl.masks[0]), abl.factor, abl.methods, abl.spaces, abl.down_method, abl.n_fft, abl.hop, abl.window)
        if key not in oracles:
            oracles[key] = oracle_scores(abl, mixtures, conf["data"]["sample_rate"])
        model = head_conf["model"]
        rows.append(dict(
            head=name, kind="bssmask", mask=model["mask"], factor=model["factor"], seeds=len(head_seeds[name]),
            run=str(runs[(name, seeds[0])].folder),
            options=", ".join(f"{k}={v}" for k, v in model["mask_options"].items()) or None,
            **scores([summaries[(name, seed)] for seed in head_seeds[name]]),
            oracle_si_sdr=oracles[key]["si_sdr"], oracle_sdr=oracles[key]["sdr"],
        ))
    for name, spec in report_conf["peers"].items():
        rows.append(dict(
            head=name, kind="peer", mask=None, factor=None, seeds=1, run=str(runs[(name, None)].folder),
            options=", ".join(f"{k}={v}" for k, v in spec.items()),
            **scores([summaries[(name, None)]]), oracle_si_sdr=None, oracle_sdr=None,
        ))
    out_dir = exp_dir / "report"
    seeded = "each head" if not report_conf["seed_heads"] else \
        f"the heads {', '.join(report_conf['seed_heads'])} (seed {seeds[0]} of the others)"
    preamble = (
        f"Trained heads (kind bssmask) and Asteroid separators (kind peer, each trained for "
        f"{report_conf['peer_minutes']:g} min of wall-clock time) on {test_csv} ({len(mixtures)} test mixtures, seen "
        f"voices; *_unseen: the held-out-voice test set, *_same: two utterances of one voice), everything else "
        f"equal (masker {conf['model']['masker']}, loss {conf['loss']['loss']}, n_fft {conf['model']['n_fft']}, "
        f"hop {conf['model']['hop']}). Means over mixtures, and over the training seeds {seeds} of {seeded} "
        "(*_std: their standard deviation); *_imp: improvement over the mixture; "
        "oracle_*: the mask kind's oracle at the head's resolution (bssmask ablate).\n\n"
    )
    paths = tables.write_table(out_dir, "report", rows, COLUMNS, dict(config=conf, test_csv=str(test_csv)), preamble)
    plot(rows, out_dir / "report.png")
    model = conf["model"]
    write_listening(out_dir, rows, preamble, {
        "window": model["window"], "factor": f"{model['factor']} (downsampling: {model['down_method']}; heads "
                                              "may override it, see the factor column)",
        "method": model["method"], "space": model["space"], "STFT": f"n_fft {model['n_fft']}, hop {model['hop']}",
        "masker": model["masker"], "loss": conf["loss"]["loss"], "sample rate": f"{conf['data']['sample_rate']} Hz",
        "examples per test set": str(conf["eval"]["n_save_ex"])})
    return paths
