#!/usr/bin/env bash
# The GPU measurements, prepared as one command for a lent GPU machine (sized for about 5 minutes on an H200;
# not yet run on one):
#   1. benchmarks/engine_benchmark.py --device cuda: the engine's GPU speed columns on every benchmark SCM
#      (one seed: the columns are rows per second, not errors; DoWhy is CPU-only and stays in engine.md);
#   2. benchmarks/scale_peers.py --device cuda: zero-shot CInA's time and GPU memory at 10^5 and 10^6 rows.
# Reports, records and logs go to OUT_DIR (8 files at most, as the device tool returns them).
#
#   bash benchmarks/device_check.sh "$OUT"              # on the GPU machine, from the repository root
#   bash benchmarks/device_check.sh /tmp/dry --cpu-dry  # here first: the same steps at tiny sizes on the CPU
#
# The GPU image has python3 with torch, transformers, peft, pandas, scikit-learn and scipy, which is all these
# two scripts import; hf_causal runs from the source tree (PYTHONPATH), not installed. Each step has its own time
# limit and a failed step does not stop the next; the exit status is the number of failed steps.
set -u -o pipefail
out=${1:?usage: device_check.sh OUT_DIR [--cpu-dry]}
mode=${2:-}
py=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ "$mode" = "--cpu-dry" ]; then
  engine_args=(--quick --seeds 3 --no-dowhy --device cpu --max-steps 20 --mc 2000 --speed-rows 2000)
  scale_args=(--ns 1000 5000 --device cpu --repeats 1 --timeout 120)
elif [ -z "$mode" ]; then
  engine_args=(--seeds 3 --no-dowhy --device cuda --threads 4)
  scale_args=(--ns 100000 1000000 --device cuda --repeats 1 --timeout 200)
else
  echo "unknown option $mode (only --cpu-dry)" >&2
  exit 2
fi
failed=0
{ date -u; uname -a; nvidia-smi 2>/dev/null || echo "no nvidia-smi"; "$py" -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'transformers', transformers.__version__)"; } > "$out/machine.txt" 2>&1
timeout 330 "$py" benchmarks/engine_benchmark.py "${engine_args[@]}" --out "$out/engine_gpu.md" \
  --records "$out/engine_gpu.jsonl" > "$out/engine.log" 2>&1 || { echo "engine benchmark failed: $?" >> "$out/engine.log"; failed=$((failed + 1)); }
timeout 240 "$py" benchmarks/scale_peers.py "${scale_args[@]}" --methods cina_zs --budget-minutes 4 \
  --out "$out/scale_gpu.md" > "$out/scale.log" 2>&1 || { echo "scale benchmark failed: $?" >> "$out/scale.log"; failed=$((failed + 1)); }
tail -n 3 "$out/engine.log" "$out/scale.log"
exit "$failed"
