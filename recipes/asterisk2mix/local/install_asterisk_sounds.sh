#!/usr/bin/env bash
# Install the Debian packages of the corpus's voices given as arguments
# (those that local/prepare_data.py --missing_packages true lists): with
# apt-get as root or through passwordless sudo; otherwise stop at once with
# one line naming the command to run.
set -euo pipefail
[[ $# -eq 0 ]] && exit 0
if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "error: the recipe's voices are not installed; run: sudo apt-get install $*" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "error: the recipe's voices are Debian packages ($*) and this machine has no apt-get;" \
       "run the recipe with --source_dir DIR (one subfolder of audio files per speaker)" >&2
  exit 1
fi
echo "Installing $*"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@"
