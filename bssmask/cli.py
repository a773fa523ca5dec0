"""The ``bssmask`` command: ``bssmask ablate``, ``bssmask separate``.

Every user error (bad file, bad option) ends with one line on stderr,
``bssmask <command>: error: <what, naming the file or option>``, exit code 2,
and no output written.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

from . import __version__, ablation, device, mask_stats, resample, separate
from .atomic import output_folder
from .audio import AudioError, load_sources
from .data import DEFAULT_SOURCES
from .data.mixtures import list_mixtures, mixture_files

#: A mixture file matches a mixing rule when it differs from the rule's mixture by at most -30 dB.
RULE_TOLERANCE_DB = -30.0


class Parser(argparse.ArgumentParser):
    """``argparse`` whose errors are one line, ``<prog>: error: <message>``, exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


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


def add_ablate_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = ablation.AblationConfig()
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--sources", nargs="+", metavar="WAV",
                     help="two or more mono source files (default: the bundled speech pair)")
    src.add_argument("--dataset", metavar="DIR_OR_CSV",
                     help="LibriMix-style CSV or a folder with s1/, s2/ ... of same-named wav files")
    parser.add_argument("--masks", type=_names, default=defaults.masks,
                        help="comma-separated mask kinds, each with options as kind:key=value "
                             f"(e.g. cirm:max=1, iam:max=2, psm:min=-1:max=1; default: {','.join(defaults.masks)})")
    parser.add_argument("--upsampled", type=_names, default=defaults.upsampled,
                        help="what is upsampled: mask,spectrogram (default: both)")
    parser.add_argument("--methods", type=_names, default=defaults.methods,
                        help="upsampling methods (default: nearest,bilinear,bicubic)")
    parser.add_argument("--spaces", type=_names, default=defaults.spaces,
                        help="spaces for complex values (default: cartesian,polar,phasor)")
    parser.add_argument("--mix", default=defaults.mix,
                        help="mixture = sum (default) or mean of the sources, or file: the --dataset CSV's "
                             "mixture_path (mixtures that are not the sum of the sources, e.g. with noise)")
    parser.add_argument("--n-fft", type=int, default=defaults.n_fft, help="STFT size (default 1022: 512 bins)")
    parser.add_argument("--hop", type=int, default=defaults.hop, help="STFT hop (default 256)")
    parser.add_argument("--window", default=defaults.window,
                        help="STFT window: hann (default, as torch.stft users) or sqrt-hann (Asteroid's default)")
    parser.add_argument("--factor", type=int, default=defaults.factor, help="frequency downsampling factor (default 2)")
    parser.add_argument("--down-method", default=defaults.down_method,
                        help=f"downsampling: {', '.join(resample.DOWN_METHODS)} (default keep: every k-th bin)")
    parser.add_argument("--sample-rate", type=int, default=None,
                        help="resample every file to this rate (default: files must share one rate)")
    parser.add_argument("--max-mixtures", type=_positive_int, default=None,
                        help="score only the first N mixtures of --dataset (N >= 1)")
    parser.add_argument("--stats", action="store_true",
                        help="also write mask_stats.{csv,md,json}: adjacent-bin correlations and large-mask "
                             "shares of each mask kind (what decides the cost of downsampling)")
    parser.add_argument("--out", default="results/ablation", help="output folder (default results/ablation)")
    parser.add_argument("--device", default=defaults.device, help="torch device: auto, cpu, cuda, cuda:N (default cpu)")


def _distance_db(mixture: torch.Tensor, reference: torch.Tensor) -> float:
    """``10 log10(|mixture - reference|^2 / |reference|^2)``: how far a mixture file is from a rule's mixture."""
    error = (mixture - reference).double().pow(2).sum()
    energy = reference.double().pow(2).sum()
    if error == 0:
        return -math.inf
    return math.inf if energy == 0 else 10 * math.log10(error / energy)


def check_mixture_rule(sources: torch.Tensor, mixture: torch.Tensor, mix: str, path: Path) -> None:
    """Refuse a mixture file that is neither the sum nor the mean of its ``sources`` (within :data:`RULE_TOLERANCE_DB`).

    A file made by either rule is a clean mixture of these sources, and
    ``mix`` then says which rule the ablation mixes them by (a LibriMix sum
    can be studied as a mean); any other file (noise, music, other sources)
    is scored only with ``--mix file``.

    Raises:
        AudioError: one line naming the file and how far it is from the ``mix`` rule.
    """
    if any(_distance_db(mixture, ablation.mixture_of(sources, rule)) <= RULE_TOLERANCE_DB for rule in ("sum", "mean")):
        return
    distance = _distance_db(mixture, ablation.mixture_of(sources, mix))
    raise AudioError(f"{path}: the mixture file is not the {mix} of its sources ({distance:.1f} dB from it, "
                     f"more than {RULE_TOLERANCE_DB:g} dB), nor their {'mean' if mix == 'sum' else 'sum'}; "
                     "pass --mix file to score the file itself (a mixture with noise, say)")


def run_ablate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    config = ablation.AblationConfig(
        masks=args.masks, upsampled=args.upsampled, methods=args.methods, spaces=args.spaces,
        factor=args.factor, down_method=args.down_method, n_fft=args.n_fft, hop=args.hop,
        window=args.window, mix=args.mix, device=str(device.resolve(args.device)),
    )
    config.validate()
    output_folder(args.out)
    if args.sample_rate is not None and args.sample_rate <= 0:
        raise ValueError(f"--sample-rate must be positive, got {args.sample_rate}")
    files = mixture_files(args.dataset) if args.dataset else {}
    if args.mix == "file" and not files:
        raise ValueError("--mix file: needs a --dataset CSV with a mixture_path column (the mixtures to score)")
    if args.dataset:
        mixtures = list_mixtures(args.dataset)[: args.max_mixtures]
    else:
        paths = [Path(p) for p in (args.sources or DEFAULT_SOURCES)]
        mixtures = [("+".join(p.stem for p in paths), paths)]
    per_mixture, stats, rates, notes = {}, [], set(), []
    for mixture_id, paths in tqdm(mixtures, desc="mixtures", disable=len(mixtures) == 1, file=sys.stderr):
        mixture_path = files.get(mixture_id)
        sources, rate, file_notes = load_sources([*paths, mixture_path] if mixture_path else paths, args.sample_rate)
        mixture = None
        if mixture_path:
            sources, mixture = sources[:-1], sources[-1]
            if args.mix != "file":
                check_mixture_rule(sources, mixture, args.mix, mixture_path)
        if sources.shape[-1] < config.n_fft:
            raise AudioError(f"{', '.join(map(str, paths))}: {sources.shape[-1]} samples, shorter than one "
                             f"STFT frame (--n-fft {config.n_fft})")
        rates.add(rate)
        notes += file_notes
        try:  # the config is valid: what score_mixture refuses now is this mixture's sources
            per_mixture[mixture_id] = ablation.score_mixture(sources, config, mixture)
        except ValueError as err:
            raise AudioError(f"{', '.join(map(str, paths))}: {err}") from None
        if args.stats:
            stats.append(mask_stats.mask_statistics(sources, config.masks, config.n_fft, config.hop,
                                                    config.window, config.mix, mixture))
    if len(rates) > 1:
        raise AudioError(f"{args.dataset}: mixtures have different sample rates {sorted(rates)}; pass --sample-rate")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    rows = ablation.mean_rows(list(per_mixture.values()))
    meta = ablation.config_dict(
        config, sample_rate=rates.pop(), n_mixtures=len(per_mixture),
        sources=None if args.dataset else [str(p) for p in mixtures[0][1]],
        dataset=args.dataset, sample_rate_option=args.sample_rate,
    )
    table = ablation.write_results(args.out, rows, meta, per_mixture)
    print(table, end="")
    if args.stats:
        print("\n" + mask_stats.write_statistics(args.out, stats, meta), end="")
    print(f"written: {Path(args.out) / 'ablation'}.{{csv,md,json,png}}"
          f"{' and mask_stats.{csv,md,json}' if args.stats else ''}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="bssmask", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"bssmask {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{ablate,separate}")
    ablate = sub.add_parser("ablate", help="oracle mask ablation of frequency down/upsampling")
    add_ablate_arguments(ablate)
    ablate.set_defaults(func=run_ablate)
    separate_parser = sub.add_parser("separate", help="separate mixtures with a trained model")
    separate.add_arguments(separate_parser)
    separate_parser.set_defaults(func=separate.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except (ValueError, OSError) as err:
        print(f"bssmask {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
