#!/usr/bin/env bash
# The outcome network's GPU pretraining (train/configs/cina_outcome_gpu.yaml: 128 wide, 3 layers, both priors), as one
# command for a lent GPU machine, in a time budget (docs/design.md §4.8, §5.5):
#   1. a probe of 40 steps measures the seconds per step (data workers warm, GPU warm);
#   2. the run gets as many steps as fit in BUDGET_S seconds (default 300), its cosine schedule ending there, with
#      four validations and checkpoints; the finished network (or the newest checkpoint, if the run was stopped)
#      is copied out as a from_pretrained folder.
# Out come at most 8 files: machine.txt, run.log, log.jsonl, train_config.json, config.json, model.safetensors.
#
#   bash train/device_outcome.sh "$OUT"              # on the GPU machine, from the repository root (about 8 min)
#   bash train/device_outcome.sh /tmp/dry --cpu-dry  # here first: the same steps at tiny sizes on the CPU
#
# The GPU image has torch, transformers, accelerate, pandas, scikit-learn and scipy, which is all pretraining
# imports; hf_causal runs from the source tree (PYTHONPATH), not installed. The candidate is then tested on the
# CPU against the shipped checkpoint by the rule written before the run (benchmarks/results/outcome_finetune.md).
set -u -o pipefail
out=${1:?usage: device_outcome.sh OUT_DIR [--cpu-dry]}
mode=${2:-}
py=${PYTHON:-python3}
budget=${BUDGET_S:-300}
config=train/configs/cina_outcome_gpu.yaml
work=${WORK_DIR:-/tmp/device_outcome}
mkdir -p "$out"
rm -rf "$work" && mkdir -p "$work"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ "$mode" = "--cpu-dry" ]; then
  budget=${BUDGET_S:-20}
  sizes=(model.outcome_hidden_size=16 model.outcome_num_layers=1 model.outcome_intermediate_size=32
         data.max_units=150 data.n_validation=3 train.batch_size=4 data.workers=1)
  probe_steps=12
elif [ -z "$mode" ]; then
  sizes=()
  probe_steps=40
else
  echo "unknown option $mode (only --cpu-dry)" >&2
  exit 2
fi
log="$out/run.log"
{ date -u; uname -a; nproc; nvidia-smi 2>/dev/null || echo "no nvidia-smi"
  "$py" -c "import torch, transformers, accelerate; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'transformers', transformers.__version__, 'accelerate', accelerate.__version__)"
} > "$out/machine.txt" 2>&1

# 1. the probe: seconds per step once warm (steps 10.. of the probe)
"$py" train/pretrain_outcome.py --config "$config" --output-dir "$work/probe" --no-progress --set "${sizes[@]}" \
  train.max_steps=$probe_steps train.warmup_steps=5 train.eval_every=100000 train.save_every=100000 \
  data.n_validation=2 >> "$log" 2>&1 || { echo "probe failed" >> "$log"; exit 1; }
steps=$("$py" - "$work/probe/log.jsonl" "$budget" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
first = rows[min(9, len(rows) - 2)]
per_step = (rows[-1]["seconds"] - first["seconds"]) / (rows[-1]["step"] - first["step"])
print(max(50, min(20000, int(float(sys.argv[2]) / per_step))))
EOF
) || { echo "could not read the probe's log" >> "$log"; exit 1; }
echo "probe: $steps steps fit in $budget s" | tee -a "$log"

# 2. the run, stopped if it overruns; whatever it saved last is what comes out
quarter=$(( (steps + 3) / 4 ))
warmup=$(( steps / 10 < 300 ? steps / 10 : 300 ))
timeout $(( budget + 150 )) "$py" train/pretrain_outcome.py --config "$config" --output-dir "$work/run" --no-progress \
  --set "${sizes[@]}" train.max_steps=$steps train.warmup_steps=$warmup train.eval_every=$quarter \
  train.save_every=$quarter >> "$log" 2>&1 || echo "run stopped: $?" >> "$log"
model="$work/run/final"
[ -f "$model/model.safetensors" ] || model=$(ls -d "$work"/run/checkpoint-*/pretrained 2>/dev/null | sort -V | tail -n 1)
if [ -z "$model" ] || [ ! -f "$model/model.safetensors" ]; then
  echo "no model was saved" >> "$log"
  exit 1
fi
cp "$model/model.safetensors" "$model/config.json" "$out/"
cp "$work/run/log.jsonl" "$work/run/train_config.json" "$out/"
echo "copied $model" | tee -a "$log"
tail -n 2 "$out/log.jsonl"
