"""How far apart the training voices of a corpus are (:mod:`bssmask.data.voice_distance`).

Usage: python local/voice_distance.py --corpus data/Asterisk2Mix/wav8k/max [--max_excerpts 300]
"""

import sys

from bssmask.data.voice_distance import main

if __name__ == "__main__":
    sys.exit(main())
