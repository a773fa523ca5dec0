"""Stage 0: build the two-speaker corpus and the per-split CSV folders of the config.

Speech comes from ``--source_dir`` (one subfolder per speaker) or, by
default, from the Asterisk prompts (``bssmask.data.corpus.asterisk_speakers``).
The corpus goes to ``<storage_dir>/Asterisk2Mix`` (LibriMix layout); each
split's CSV is then copied to the config's ``train_dir``, ``valid_dir`` and
``test_dir``.
"""

from __future__ import annotations

import argparse
import json
import sys

from bssmask import config
from bssmask.data import corpus


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage_dir", required=True, help="folder of the corpus (created)")
    parser.add_argument("--source_dir", default="", help="speech folder, one subfolder per speaker "
                        "(default: the Asterisk prompts)")


def main(argv=None) -> int:
    conf, args = config.parse_args(argv, __doc__.splitlines()[0], add_options)
    try:
        config.require(conf, "corpus", "data")
        options, data = dict(conf["corpus"]), conf["data"]
        corpus_config = corpus.CorpusConfig(sample_rate=data["sample_rate"], seed=options.pop("corpus_seed"),
                                            split=tuple(options.pop("split")), **options)
        speakers = corpus.folder_speakers(args.source_dir) if args.source_dir else corpus.asterisk_speakers()
        metadata = corpus.build(speakers, f"{args.storage_dir}/Asterisk2Mix", corpus_config)
        corpus.local_metadata(metadata, {"train": data["train_dir"], "dev": data["valid_dir"],
                                         "test": data["test_dir"]})
    except (ValueError, OSError) as err:
        print(f"prepare_data.py: error: {err}", file=sys.stderr)
        return 2
    counts = json.loads((metadata.parent / "corpus.json").read_text())["utterances"]
    print(f"corpus: {metadata.parent}")
    for split, per_speaker in counts.items():
        print(f"  {split}: utterances per speaker {per_speaker}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
