#!/usr/bin/env bash
# Make sure the Asterisk prompts (the default speech of the corpus) are installed:
# install the Debian packages with apt-get when running as root, otherwise say how.
set -euo pipefail
root=/usr/share/asterisk/sounds
missing=()
for lang in en es fr it ru; do
  [[ -d $root/$lang ]] || missing+=("asterisk-core-sounds-$lang-wav")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "Installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
else
  echo "error: the Asterisk prompts are missing ($root/{en,es,fr,it,ru});" \
       "install them as root: 'apt-get install ${missing[*]}'," \
       "or run with --source_dir DIR (one subfolder of audio files per speaker)" >&2
  exit 1
fi
