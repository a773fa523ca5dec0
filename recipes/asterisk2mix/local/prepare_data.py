"""Stage 0: build the two-speaker corpus and the per-split CSV folders of the config.

Speech comes from ``--source_dir`` (one subfolder per speaker) or, by
default, from the Asterisk voices of the config's ``voices``,
``test_unseen_voices`` and ``dev_unseen_voices``
(:mod:`bssmask.data.asterisk_voices`; ``voices: []``: every Asterisk
voice that is not held out), and the synthetic voices of
``synthetic_voices`` (:mod:`bssmask.data.tts_voices`, made once under
``<storage_dir>/tts``). The corpus goes to
``<storage_dir>/Asterisk2Mix`` (LibriMix layout, with ``speakers.json``);
each split's CSV is then copied to the config's ``train_dir``,
``valid_dir``, ``test_dir``, ``test_unseen_dir``, ``dev_unseen_dir`` and
``test_same_dir``.

``--missing_packages true`` only prints the Debian packages of the config's
Asterisk and synthetic voices that are not installed (``run.sh`` installs them).
"""

from __future__ import annotations

import argparse
import json
import sys

from bssmask import recipe_config
from bssmask.data import corpus, speech, tts_voices
from bssmask.data.asterisk_voices import asterisk_speakers, corpus_voices, missing_packages
from bssmask.errors import entry_point

#: The data section's folder of each corpus split.
SPLIT_DIRS = {"train": "train_dir", "dev": "valid_dir", "test": "test_dir", "test_unseen": "test_unseen_dir",
              "dev_unseen": "dev_unseen_dir", "test_same": "test_same_dir"}


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage_dir", required=True, help="folder of the corpus (created)")
    parser.add_argument("--source_dir", default="", help="speech folder, one subfolder per speaker "
                        "(default: the Asterisk prompts)")
    parser.add_argument("--missing_packages", default="false", choices=("true", "false"),
                        help="print the Debian packages of the config's voices that are not installed, and stop")


@entry_point("prepare_data.py")
def main(argv=None) -> int:
    conf, args = recipe_config.parse_args(argv, __doc__.splitlines()[0], add_options)
    recipe_config.require(conf, "corpus", "data")
    corpus_conf = recipe_config.corpus_config(conf)
    corpus_conf.validate()
    voices = corpus_voices(corpus_conf)
    if args.missing_packages == "true":
        to_make = tts_voices.to_make(corpus_conf.synthetic_voices, f"{args.storage_dir}/tts")
        print(" ".join(missing_packages(voices) + tts_voices.missing_packages(to_make)))
        return 0
    unset = [SPLIT_DIRS[split] for split in corpus_conf.splits() if not conf["data"][SPLIT_DIRS[split]]]
    if unset:
        raise recipe_config.ConfigError(f"data: {', '.join(unset)} empty, but the corpus options ask for that split")
    speakers = speech.folder_speakers(args.source_dir) if args.source_dir else asterisk_speakers(voices)
    speakers.update(tts_voices.synthesize(corpus_conf.synthetic_voices, f"{args.storage_dir}/tts"))
    metadata = corpus.build(speakers, f"{args.storage_dir}/Asterisk2Mix", corpus_conf,
                            tts_voices.licences(corpus_conf.synthetic_voices))
    corpus.local_metadata(metadata, {split: conf["data"][SPLIT_DIRS[split]] for split in corpus_conf.splits()})
    print(f"corpus: {metadata.parent}")
    for split, per_speaker in json.loads((metadata.parent / "corpus.json").read_text())["utterances"].items():
        print(f"  {split}: utterances per speaker {per_speaker}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
