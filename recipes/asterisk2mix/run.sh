#!/usr/bin/env bash
# Asterisk2Mix: two-speaker separation with bssmask mask heads.
#
# Usage: ./run.sh [--stage N] [--stop_stage N] [--tag NAME] [--quick true]
#                 [--resume true] [--storage_dir DIR] [--source_dir DIR]
#                 [--<config key> VALUE ...]
#
# Stages (results in exp/<tag>/):
#   0  data:   build the corpus from the Asterisk voices (installed when
#              missing) or --source_dir (one subfolder per speaker) into
#              <storage_dir>/Asterisk2Mix: train, dev, test (seen voices),
#              test_unseen, dev_unseen (held-out voices), test_same (one voice)
#   1  train:  exp/<tag>/best_model.pth, checkpoints/, logs/
#   2  eval:   exp/<tag>/eval/{metrics.csv,summary.json,masks.png,examples/},
#              exp/<tag>/eval_unseen/, eval_dev_unseen/, eval_same/
#              (metrics.csv, summary.json; examples/ but in eval_dev_unseen/)
#   3  report: each head of conf.yml's report.heads, trained and evaluated,
#              next to its oracle: exp/<tag>/report/report.{md,csv,json,png}
#              and the listening page exp/<tag>/report/index.html
#
# Every key of conf.yml is a flag: --lr 3e-4, --epochs 5, --mask irm.
# Trainer: --accelerator cpu|gpu --devices N --num_nodes N --strategy ddp.
# --quick true: tiny corpus and model (local/quick.yml), tag "quick".
# --resume true: stage 1 continues from exp/<tag>/checkpoints/last.ckpt.
# Paths given as --storage_dir, --source_dir are taken from the folder run.sh
# is started in; the config's paths (data, exp) from the recipe's folder.
# Training, evaluation and report: the scripts of ../common, shared by the recipes.
# Python: $PYTHON, else the repository's .venv, else python3.
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")"

stage=0
stop_stage=3
tag=""
quick=false
resume=false
storage_dir=""
source_dir=""
run_options="stage stop_stage tag quick resume storage_dir source_dir"
. ../common/parse_options.sh
storage_dir=$(from_caller "$storage_dir")
source_dir=$(from_caller "$source_dir")

. ../common/path.sh

conf=(--conf conf.yml)
if [[ $quick == true ]]; then
  conf+=(--conf local/quick.yml)
  tag=${tag:-quick}
  storage_dir=${storage_dir:-data/quick}
fi
tag=${tag:-default}
storage_dir=${storage_dir:-data}
exp_dir=exp/$tag
args=("${conf[@]}" "${conf_args[@]}")

if [[ $stage -le 0 && $stop_stage -ge 0 ]]; then
  echo "Stage 0: data ($storage_dir)"
  if [[ -z $source_dir ]]; then
    packages=$($python local/prepare_data.py "${args[@]}" --storage_dir "$storage_dir" --missing_packages true)
    local/install_asterisk_sounds.sh $packages
  fi
  $python local/prepare_data.py "${args[@]}" --storage_dir "$storage_dir" --source_dir "$source_dir"
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
