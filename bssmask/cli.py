"""The ``bssmask`` command: ``bssmask ablate``, ``bssmask separate``.

Every user error (bad file, bad option) ends with one line on stderr,
``bssmask <command>: error: <what, naming the file or option>``, exit code 2,
and no output written (:func:`bssmask.errors.run_cli`).

The parser and its help import no torch (``bssmask --help`` answers at
once); each command imports what it uses when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import fields
from pathlib import Path

from . import __version__, options
from .ablation_options import AblationConfig
from .errors import fail, run_cli
from .choices import METRICS, choose_each
from .separate_options import MIN_CHUNK_SECONDS, SeparateOptions


class Parser(argparse.ArgumentParser):
    """``argparse`` whose errors are one line, ``<prog>: error: <message>``, exit code 2."""

    def error(self, message: str):
        sys.exit(fail(self.prog, message))


def _names(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _metrics(text: str) -> tuple[str, ...]:
    names = _names(text)
    try:
        choose_each("metric", names, METRICS)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return tuple(m for m in METRICS if m in names)


#: Mixtures played on the ``bssmask ablate --html`` page unless ``--html-examples`` says otherwise.
HTML_EXAMPLES = 3


def add_ablate_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``bssmask ablate``: the sources, the :class:`AblationConfig` fields, the command's own."""
    defaults = AblationConfig()
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--sources", nargs="+", metavar="WAV",
                     help="two or more mono source files (default: the bundled speech pair)")
    src.add_argument("--dataset", metavar="DIR_OR_CSV",
                     help="LibriMix-style CSV or a folder with s1/, s2/ ... of same-named wav files")
    _add_config_flags(parser, defaults)
    parser.add_argument("--sample-rate", type=int, default=None,
                        help="resample every file to this rate (default: files must share one rate)")
    parser.add_argument("--max-mixtures", type=_positive_int, default=None,
                        help="score only the first N mixtures of --dataset (N >= 1)")
    parser.add_argument("--jobs", type=_positive_int, default=None,
                        help="mixtures of --dataset scored at once, each in its own process (default: the "
                             "number of CPU cores; 1 on a GPU); results are those of --jobs 1")
    parser.add_argument("--stats", action="store_true",
                        help="also write mask_stats.{csv,md,json}: adjacent-bin correlations and large-mask "
                             "shares of each mask kind (what decides the cost of downsampling)")
    parser.add_argument("--html", action="store_true",
                        help="also write the listening page <out>/index.html (with <out>/listening/): the "
                             "mixture, sources and every row's estimates as players, spectrograms and masks "
                             "as images, the sortable table; it opens from disk with no network")
    parser.add_argument("--html-examples", type=_positive_int, default=None, metavar="N",
                        help=f"mixtures played on the --html page: the first N of --dataset (N >= 1; default "
                             f"{HTML_EXAMPLES})")
    parser.add_argument("--out", default="results/ablation", help="output folder (default results/ablation)")
    parser.add_argument("--device", default=defaults.device,
                        help=f"torch device: auto, cpu, cuda, cuda:N (default {defaults.device})")


def _add_config_flags(parser: argparse.ArgumentParser, defaults: AblationConfig) -> None:
    """One flag per :class:`AblationConfig` field but ``device`` (``--n-fft`` for ``n_fft``), its meaning as help.

    Tuple fields take comma-separated names (``--metrics`` checks and orders
    them); the others one value of their default's type.
    """
    meanings = options.meanings(AblationConfig)
    for field in fields(AblationConfig):
        if field.name == "device":  # --device also takes auto: ablate's own flag
            continue
        default = getattr(defaults, field.name)
        if isinstance(default, tuple):
            parse = _metrics if field.name == "metrics" else _names
            shown = f"comma-separated; default: {','.join(default)}"
        else:
            parse, shown = type(default), f"default: {default}"
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=parse, default=default,
                            help=f"{meanings[field.name]} ({shown})")


def load_mixture(paths, mixture_path, config: AblationConfig, sample_rate: int | None):
    """The sources ``[n_src, T]`` of one ``bssmask ablate`` mixture, its mixture file ``[T]`` (or None), rate, notes.

    Raises:
        AudioError: an unreadable or too short file, a mixture file that does not follow ``config.mix``.
    """
    from . import ablation
    from .audio import AudioError, load_sources

    sources, rate, notes = load_sources([*paths, mixture_path] if mixture_path else paths, sample_rate)
    mixture = None
    if mixture_path:
        sources, mixture = sources[:-1], sources[-1]
        if config.mix != "file":
            ablation.check_mixture_rule(sources, mixture, config.mix, mixture_path)
    if sources.shape[-1] < config.n_fft:
        raise AudioError(f"{', '.join(map(str, paths))}: {sources.shape[-1]} samples, shorter than one "
                         f"STFT frame (--n-fft {config.n_fft})")
    return sources, mixture, rate, notes


def ablate_mixture(paths, mixture_path, config: AblationConfig, sample_rate: int | None, with_stats: bool):
    """Load and score one mixture of ``bssmask ablate``.

    Returns:
        ``(rows, statistics or None, sample rate, notes on the files, seconds taken)``.

    Raises:
        AudioError: an unreadable or too short file, a mixture file that does
            not follow ``config.mix``, linearly dependent sources.
    """
    from . import ablation, adjacent_bins
    from .audio import AudioError

    start = time.perf_counter()
    sources, mixture, rate, notes = load_mixture(paths, mixture_path, config, sample_rate)
    try:  # the config is valid: what score_mixture refuses now is this mixture's sources
        rows = ablation.score_mixture(sources, config, mixture)
    except ValueError as err:
        raise AudioError(f"{', '.join(map(str, paths))}: {err}") from None
    stats = (adjacent_bins.mask_statistics(sources, config.masks, config.n_fft, config.hop, config.window,
                                        config.mix, mixture) if with_stats else None)
    return rows, stats, rate, notes, time.perf_counter() - start


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def ablate_mixtures(jobs: list[tuple], n_processes: int) -> list[tuple]:
    """:func:`ablate_mixture` of each job (its arguments), in order, ``n_processes`` at a time, one progress bar.

    With several processes each gets its share of the CPU threads; the first
    error stops the rest.
    """
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    from tqdm import tqdm

    with tqdm(total=len(jobs), desc="mixtures", disable=len(jobs) == 1, file=sys.stderr) as bar:
        if n_processes == 1 or len(jobs) == 1:
            results = []
            for job in jobs:
                results.append(ablate_mixture(*job))
                bar.update()
            return results
        threads = max(1, (os.cpu_count() or 1) // n_processes)
        with ProcessPoolExecutor(n_processes, mp_context=get_context("spawn"), initializer=_set_threads,
                                 initargs=(threads,)) as pool:
            futures = {pool.submit(ablate_mixture, *job): i for i, job in enumerate(jobs)}
            results = [None] * len(jobs)
            try:
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    bar.update()
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise
        return results


def run_ablate(args: argparse.Namespace) -> int:
    from . import ablation, adjacent_bins, device
    from .ablation_page import ablation_page
    from .atomic import output_folder
    from .audio import AudioError
    from .data import DEFAULT_SOURCES
    from .data.librimix import list_mixtures, mixture_files

    resolved = device.resolve(args.device)
    if args.device == "auto" and resolved.type == "cpu":
        print("note: --device auto: no CUDA GPU here, running on the CPU", file=sys.stderr)
    options = {field.name: getattr(args, field.name) for field in fields(AblationConfig)}
    config = AblationConfig(**{**options, "device": str(resolved)})
    config.validate()
    output_folder(args.out)
    if args.sample_rate is not None and args.sample_rate <= 0:
        raise ValueError(f"--sample-rate must be positive, got {args.sample_rate}")
    files = mixture_files(args.dataset) if args.dataset else {}
    if args.html_examples is not None and not args.html:
        raise ValueError("--html-examples: needs --html (the page it sets the mixtures of)")
    if args.mix == "file" and not files:
        raise ValueError("--mix file: needs a --dataset CSV with a mixture_path column (the mixtures to score)")
    if args.dataset:
        mixtures = list_mixtures(args.dataset)[: args.max_mixtures]
    else:
        paths = [Path(p) for p in (args.sources or DEFAULT_SOURCES)]
        mixtures = [("+".join(p.stem for p in paths), paths)]
    n_processes = args.jobs or (1 if resolved.type == "cuda" else os.cpu_count() or 1)
    start = time.perf_counter()
    results = ablate_mixtures([(paths, files.get(mixture_id), config, args.sample_rate, args.stats)
                               for mixture_id, paths in mixtures], n_processes)
    wall = time.perf_counter() - start
    rates = {rate for _, _, rate, _, _ in results}
    if len(rates) > 1:
        raise AudioError(f"{args.dataset}: mixtures have different sample rates {sorted(rates)}; pass --sample-rate")
    for _, _, _, notes, _ in results:
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    per_mixture = {mixture_id: rows for (mixture_id, _), (rows, *_) in zip(mixtures, results)}
    rows = ablation.mean_rows(list(per_mixture.values()), metrics=config.metrics)
    meta = ablation.config_dict(
        config, sample_rate=rates.pop(), n_mixtures=len(per_mixture),
        sources=None if args.dataset else [str(p) for p in mixtures[0][1]],
        dataset=args.dataset, sample_rate_option=args.sample_rate,
    )
    examples = []
    if args.html:
        played = mixtures[: args.html_examples or HTML_EXAMPLES]
        jobs = [(mixture_id, paths, files.get(mixture_id)) for mixture_id, paths in played]
        examples = [(mixture_id, *load_mixture(paths, path, config, args.sample_rate)[:2])
                    for mixture_id, paths, path in jobs]
    table = ablation.write_results(args.out, rows, meta, per_mixture)
    if args.html:
        ablation_page(args.out, config, meta, examples, rows, per_mixture)
    print(table, end="")
    if args.stats:
        print("\n" + adjacent_bins.write_statistics(args.out, [stats for _, stats, *_ in results], meta), end="")
    if len(results) > 1:
        each = sum(seconds for *_, seconds in results) / len(results)
        print(f"scored {len(results)} mixtures in {wall:.1f} s ({each:.2f} s per mixture in each of "
              f"{min(n_processes, len(results))} process(es))", file=sys.stderr)
    print(f"written: {Path(args.out) / 'ablation'}.{{csv,md,json,png}}"
          f"{' and mask_stats.{csv,md,json}' if args.stats else ''}"
          f"{' and the listening page index.html' if args.html else ''}", file=sys.stderr)
    return 0


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def add_separate_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``bssmask separate`` (:mod:`bssmask.separate`): files, model, output, :class:`SeparateOptions`."""
    parser.add_argument("inputs", nargs="+", metavar="WAV_OR_DIR",
                        help="audio files to separate (any rate, mono or multichannel), or folders of them")
    parser.add_argument("--model", required=True,
                        help="a bundled model's name (default) or a model file saved with serialize() "
                             "(a recipe's best_model.pth)")
    parser.add_argument("--out", required=True, help="output folder: <out>/<input name>_s<k>.wav")
    meanings, defaults = options.meanings(SeparateOptions), SeparateOptions()
    parser.add_argument("--channel", type=_positive_int, metavar="N", help=meanings["channel"])
    parser.add_argument("--chunk-seconds", type=_positive_float, default=defaults.chunk_seconds, metavar="S",
                        help=f"{meanings['chunk_seconds']} (default: {defaults.chunk_seconds:g}, "
                             f"at least {MIN_CHUNK_SECONDS:g})")
    parser.add_argument("--device", default=defaults.device, help=f"{meanings['device']} (default: {defaults.device})")


def run_separate(args: argparse.Namespace) -> int:
    """Run ``bssmask separate``; errors propagate as ``ValueError``/``OSError`` for :func:`main` to report."""
    from .separate import separate_files

    for path in separate_files(args.model, args.inputs, args.out, channel=args.channel,
                               chunk_seconds=args.chunk_seconds, device=args.device):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="bssmask", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"bssmask {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{ablate,separate}")
    ablate = sub.add_parser("ablate", help="oracle mask ablation of frequency down/upsampling")
    add_ablate_arguments(ablate)
    ablate.set_defaults(func=run_ablate)
    separate_parser = sub.add_parser("separate", help="separate mixtures with a trained model")
    add_separate_arguments(separate_parser)
    separate_parser.set_defaults(func=run_separate)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return run_cli(f"bssmask {args.command}", args.func, args)


if __name__ == "__main__":
    sys.exit(main())
