#!/usr/bin/env bash
# Fine-tune a pretrained separator with another mask head (same options as run.sh).
#
# Usage: ./finetune.sh --pretrained FILE_OR_HUB_ID [--tag NAME] [--quick true]
#                      [--freeze encoder|masker|none] [--freeze_epochs N|all]
#                      [--resume true] [--<config key> VALUE ...]
#
# The new head is the config's model.mask / mask_options (--mask cirm
# --mask_options "{bound: tanh}"), its loss the config's loss. The test set is
# scored before (pretrained head, new head untrained) and after fine-tuning:
# exp/<tag>/finetune/summary.json, exp/<tag>/finetuned_model.pth.
# Trainer: --accelerator cpu|gpu --devices N --num_nodes N --strategy ddp.
# A relative --pretrained file is taken from the folder finetune.sh is
# started in; the config's paths (data, exp) from the recipe's folder.
# Python: $PYTHON, else the repository's .venv, else python3.
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")"

pretrained=""
tag=""
quick=false
freeze=masker
freeze_epochs=1
resume=false
run_options="pretrained tag quick freeze freeze_epochs resume"
. ../common/parse_options.sh

if [[ -z $pretrained ]]; then
  echo "finetune.sh: error: --pretrained is required (a serialize() file, a bundled model name or a hub id)" >&2
  exit 2
fi
# A file in the caller's folder; otherwise a bundled model's name or a hub id, as given.
[[ -e $(from_caller "$pretrained") ]] && pretrained=$(from_caller "$pretrained")
. ../common/path.sh

conf=(--conf conf.yml)
if [[ $quick == true ]]; then
  conf+=(--conf local/quick.yml)
fi
tag=${tag:-finetune}
$python ../common/finetune.py "${conf[@]}" "${conf_args[@]}" --exp_dir "exp/$tag" --pretrained "$pretrained" \
  --freeze "$freeze" --freeze_epochs "$freeze_epochs" --resume "$resume"
