"""Bundle a trained model with the package: ``bssmask/pretrained/<name>.pth`` and its model card ``<name>.md``.

Run after ``./run.sh --stage 0 --stop_stage 2`` (training and evaluation)::

    python local/bundle_model.py --exp_dir exp/default --name default

The model file keeps what :func:`bssmask.model_files.load_model` needs (class,
arguments, float32 weights) and the training record (epochs, best
validation loss, config); checkpoint paths and anything else are dropped.
The card states the command, the training voices and their licenses, and
the scores of ``exp_dir/eval`` (seen voices), ``exp_dir/eval_unseen`` (held-out
voices) and ``exp_dir/eval_same`` (one seen voice twice); "not yet measured"
for an evaluation that is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from bssmask import __version__
from bssmask.atomic import write_text
from bssmask.checkpoint import PRETRAINED_DIR, CheckpointError, load_safe
from bssmask.errors import entry_point
from bssmask.model_files import save_package

#: Voices of the Asterisk2Mix corpus: who recorded them, which prompts, under which license
#: (``/usr/share/doc/asterisk-core-sounds-*/copyright`` and the prompt packages' copyright files).
VOICE_CREDITS = {
    "allison": ("Allison Smith", "English and Spanish Asterisk core sounds (en, es)", "CC BY-SA 3.0"),
    "june": ("June Wallack", "French Asterisk core sounds (fr)", "CC BY-SA 3.0"),
    "carlo": ("Carlo Flora", "Italian Asterisk core sounds (it)", "CC BY 3.0"),
    "ivrvoiceru": ("Maxim Topal (IvrvoiceRU)", "Russian Asterisk core sounds (ru)", "CC BY 3.0"),
}

#: Scores of the card: summary.json key, column title, format.
SCORES = (("n_mixtures", "mixtures", "d"), ("si_sdr", "SI-SDR (dB)", ".2f"), ("si_sdr_imp", "SI-SDRi (dB)", ".2f"),
          ("sdr", "SDR (dB)", ".2f"), ("sdr_imp", "SDRi (dB)", ".2f"), ("pesq", "PESQ", ".2f"),
          ("stoi", "STOI", ".3f"))

#: Evaluations of ``run.sh``'s stage 2 the card reports: folder, test set.
EVALUATIONS = (("eval", "seen voices (`test`)"), ("eval_unseen", "held-out voices (`test_unseen`)"),
               ("eval_same", "two utterances of one seen voice (`test_same`)"))


def bundle_package(package: dict) -> dict:
    """The part of a ``serialize()`` package a bundled model keeps: class, arguments, float32 weights, training record."""
    training = {k: v for k, v in package.get("infos", {}).get("training", {}).items() if k != "checkpoint"}
    return {
        "model_name": package["model_name"],
        "model_args": package["model_args"],
        "state_dict": {k: v.detach().to(torch.float32 if v.is_floating_point() else v.dtype).clone()
                       for k, v in package["state_dict"].items()},
        "infos": {"software_versions": package.get("infos", {}).get("software_versions", {}),
                  "training": training},
    }


def _score_row(title: str, summary: dict | None) -> str:
    if summary is None:
        return f"| {title} | not yet measured |" + " |" * (len(SCORES) - 1)
    return "| " + " | ".join([title, *(format(summary[key], fmt) for key, _, fmt in SCORES)]) + " |"


def model_card(name: str, package: dict, summaries: dict[str, dict | None], command: str, size: int) -> str:
    """The Markdown model card of a bundled model."""
    args = package["model_args"]
    training = package["infos"]["training"]
    conf = training.get("config", {})
    voices = conf.get("corpus", {}).get("voices", list(VOICE_CREDITS))  # configs before voices: these four
    corpus = conf.get("corpus", {})
    held_out = [*corpus.get("test_unseen_voices", []), *corpus.get("dev_unseen_voices", [])]
    masker = args.get("masker_kwargs", {})
    options = ", ".join(f"{k}={v}" for k, v in args.get("mask_options", {}).items()) or "none"
    unknown = ("see its Debian package",) * 3
    credits = "\n".join("| {} | {} | {} | {} |".format(voice, *VOICE_CREDITS.get(voice, unknown)) for voice in voices)
    header = "| test set | " + " | ".join(title for _, title, _ in SCORES) + " |"
    rule = "| --- |" + " --- |" * len(SCORES)
    rows = "\n".join(_score_row(title, summaries.get(folder)) for folder, title in EVALUATIONS)
    return f"""# bssmask `{name}` model

A `{package['model_name']}` separating two speakers at {args['sample_rate']:g} Hz: an Asteroid
{args['masker']} masker ({', '.join(f'{k}={v}' for k, v in masker.items())}) on an STFT (n_fft {args['n_fft']},
hop {args['hop']}, window {args.get('window', 'sqrt-hann')}), a `{args['mask']}` head (options: {options}),
frequency factor {args['factor']}.

`{name}.pth` ({size / 2**20:.1f} MiB, float32 weights, no optimizer state) loads weights-only:
`MaskSeparator.from_pretrained("{name}")`, `bssmask separate --model {name} mix.wav --out DIR`.

## Training

Command: `cd recipes/asterisk2mix && {command}` (bssmask {__version__}), then
`python local/bundle_model.py --exp_dir <exp_dir> --name {name}`.
{training.get('epochs', '?')} epochs ({training.get('global_step', '?')} steps), best validation
loss {training.get('best_val_loss', float('nan')):.4f} (negative SI-SDR, dB, on the dev mixtures).
The full config is in the file: `load_safe(path)["infos"]["training"]["config"]`.

## Data

Asterisk2Mix (`recipes/asterisk2mix`, stage 0): two-speaker mixtures of the
Asterisk telephony prompts packaged by Debian, at a relative level in [-5, 5] dB.
Trained on these voices only (licenses as in `/usr/share/doc/asterisk-core-sounds-*/copyright`):

| voice | recorded by | prompts | license |
| --- | --- | --- | --- |
{credits}

The held-out voices ({', '.join(held_out) or 'none'}) were never seen in training or validation.

## Scores

Test means of `run.sh` stage 2 (improvements over the unprocessed mixture):

{header}
{rule}
{rows}
"""


@entry_point("bundle_model.py")
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp_dir", required=True, help="experiment folder with best_model.pth and eval/")
    parser.add_argument("--name", default="default", help="bundled model name (default: default)")
    parser.add_argument("--out", default=str(PRETRAINED_DIR), help=f"folder of the bundled models ({PRETRAINED_DIR})")
    parser.add_argument("--command", default="./run.sh --stage 0 --stop_stage 2",
                        help="the command that trained and evaluated the model, for the card")
    args = parser.parse_args(argv)
    exp = Path(args.exp_dir)
    try:
        package = bundle_package(load_safe(exp / "best_model.pth"))
    except KeyError as err:
        raise CheckpointError(f"{exp / 'best_model.pth'}: not a model file saved with serialize() (no {err})") from None
    summaries = {}
    for folder, _ in EVALUATIONS:
        path = exp / folder / "summary.json"
        summaries[folder] = json.loads(path.read_text()) if path.is_file() else None
    if summaries["eval"] is None:
        raise CheckpointError(f"{exp / 'eval' / 'summary.json'}: no such file; run stage 2 first")
    out = Path(args.out)
    save_package(package, out / f"{args.name}.pth")
    size = (out / f"{args.name}.pth").stat().st_size
    write_text(out / f"{args.name}.md", model_card(args.name, package, summaries, args.command, size))
    print(f"written: {out / args.name}.{{pth,md}} ({size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
