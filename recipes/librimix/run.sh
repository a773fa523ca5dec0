#!/usr/bin/env bash
# LibriMix: speech separation with bssmask mask heads on a LibriMix already
# on disk, with the train, eval and report scripts of ../common.
#
# Usage: ./run.sh --storage_dir DIR [--stage N] [--stop_stage N] [--tag NAME]
#                 [--mode min|max] [--train_set train-360|train-100]
#                 [--resume true] [--<config key> VALUE ...]
#
# Stages (results in exp/<tag>/):
#   0  data:   copy the CSV files of DIR/Libri<n_src>Mix/wav<rate>k/<mode>/metadata
#              to data/ (LibriMix itself must exist: see README.md);
#              --n_src 3 --sample_rate 16000 --mode max pick other variants
#   1  train   2  eval   3  report   (as in ../asterisk2mix/run.sh)
#
# Every key of conf.yml is a flag. Several GPUs: --accelerator gpu --devices 4;
# several nodes: --num_nodes 2 --strategy ddp (one launch per node).
# A relative --storage_dir is taken from the folder run.sh is started in.
# Python: $PYTHON, else the repository's .venv, else python3.
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")"

stage=0
stop_stage=3
tag=default
resume=false
storage_dir=""
mode=min
train_set=train-360
run_options="stage stop_stage tag resume storage_dir mode train_set"
. ../common/parse_options.sh
storage_dir=$(from_caller "$storage_dir")

. ../common/path.sh

exp_dir=exp/$tag
args=(--conf conf.yml "${conf_args[@]}")

if [[ $stage -le 0 && $stop_stage -ge 0 ]]; then
  echo "Stage 0: data (LibriMix in ${storage_dir:-?})"
  if [[ -z $storage_dir || ! -d $storage_dir ]]; then
    echo "error: --storage_dir '${storage_dir}' is missing. LibriMix is not downloaded by this recipe:" >&2
    echo "  git clone https://github.com/JorisCos/LibriMix && cd LibriMix" >&2
    echo "  ./generate_librimix.sh STORAGE_DIR   # downloads LibriSpeech and WHAM! noise (see its README)" >&2
    echo "then: ./run.sh --storage_dir STORAGE_DIR" >&2
    exit 1
  fi
  $python local/prepare_data.py "${args[@]}" --storage_dir "$storage_dir" --mode "$mode" --train_set "$train_set"
fi

if [[ $stage -le 1 && $stop_stage -ge 1 ]]; then
  echo "Stage 1: train ($exp_dir)"
  $python ../common/train.py "${args[@]}" --exp_dir "$exp_dir" --resume "$resume"
fi

if [[ $stage -le 2 && $stop_stage -ge 2 ]]; then
  echo "Stage 2: evaluate ($exp_dir/eval)"
  $python ../common/eval.py "${args[@]}" --exp_dir "$exp_dir"
fi

if [[ $stage -le 3 && $stop_stage -ge 3 ]]; then
  echo "Stage 3: report ($exp_dir/report)"
  $python ../common/report.py "${args[@]}" --exp_dir "$exp_dir"
fi
