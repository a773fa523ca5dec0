#!/usr/bin/env bash
# Install the Debian packages of the corpus's voices given as arguments
# (those that local/prepare_data.py --missing_packages true lists): with apt-get
# when running as root, otherwise say how.
set -euo pipefail
[[ $# -eq 0 ]] && exit 0
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "Installing $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
else
  echo "error: the voices of the corpus are not installed;" \
       "install them as root: 'apt-get install $*'," \
       "or run with --source_dir DIR (one subfolder of audio files per speaker)" >&2
  exit 1
fi
