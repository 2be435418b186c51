#!/usr/bin/env bash
# The GPU check, for whoever has an NVIDIA GPU: the CUDA tests, then self-play and
# search throughput on the device for B in {256, 1024, 4096}, printed as one table,
# then the atari preset on Pong (its downsampling network, planning in bfloat16) for
# 10 minutes: env steps and learner steps a second from its metrics.
#
#     benches/gpu_check.sh                    # results under benches/results/gpu_check/
#     PYTHON=.venv/bin/python benches/gpu_check.sh
#
# Without a CUDA device it runs in its CPU fallback mode: the CUDA tests skip, and the
# benchmarks run on the CPU at B in {64, 256} (GPU_CHECK_BATCHES overrides the sizes),
# so the script itself is exercised on any machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${GPU_CHECK_OUT:-benches/results/gpu_check}
mkdir -p "$OUT"

if "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    DEVICE=cuda
    BATCHES=${GPU_CHECK_BATCHES:-256 1024 4096}
    ATARI_MINUTES=${GPU_CHECK_ATARI_MINUTES:-10}
    ATARI_OPTIONS="--network.inference-dtype bfloat16"
    "$PY" -c 'import torch; print("device:", torch.cuda.get_device_name(0))'
else
    DEVICE=cpu
    BATCHES=${GPU_CHECK_BATCHES:-64 256}
    ATARI_MINUTES=${GPU_CHECK_ATARI_MINUTES:-1}
    ATARI_OPTIONS="--train.learner-step eager --train.min-replay 200"
    echo "device: no CUDA device, CPU fallback mode"
fi

echo "== CUDA tests"
"$PY" -m pytest -q -rs -p no:cacheprovider -k cuda tests/

echo "== self-play on $DEVICE (cartpole network, 50 simulations)"
# shellcheck disable=SC2086
"$PY" benches/bench_selfplay.py --device "$DEVICE" --batches $BATCHES --pipelines 1 2 \
    --steps "${GPU_CHECK_STEPS:-5}" --repeats "${GPU_CHECK_REPEATS:-3}" --out "$OUT/selfplay.json"

echo "== search with a torch model on $DEVICE (50 simulations, 9 actions)"
# shellcheck disable=SC2086
"$PY" benches/bench_search.py --callbacks mlp --device "$DEVICE" --batches $BATCHES \
    --simulations 50 --actions 9 --out "$OUT/search.json"

echo "== one table"
"$PY" - "$OUT" <<'PYTHON'
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
selfplay = json.loads((out / "selfplay.json").read_text())
search = json.loads((out / "search.json").read_text())
print(f"device {selfplay['device']}, {selfplay['cpu_count']} CPU cores, torch {selfplay['torch']}")
print(f"{'benchmark':<22} {'B':>5} {'env steps/s':>12} {'sims/s':>11} {'speed-up':>8} "
      f"{'net busy':>8}")
for row in selfplay["results"]:
    name = f"self-play pipeline {row['pipeline']}"
    print(f"{name:<22} {row['B']:>5} {row['env_steps_per_s_median']:>12.0f} "
          f"{row['simulations_per_s_median']:>11.0f} "
          f"{row.get('speedup_over_pipeline_1', float('nan')):>8.2f} "
          f"{row['network_busy_median']:>8.2f}")
for row in search["results"]:
    name = f"search {row['algorithm']}"
    print(f"{name:<22} {row['batch']:>5} {'':>12} {row['median_sims_per_s']:>11.0f} "
          f"{'':>8} {row['median_callback_share']:>8.2f}")
PYTHON

echo "== the atari preset on Pong for $ATARI_MINUTES minutes on $DEVICE"
rm -rf "$OUT/atari-pong"
# shellcheck disable=SC2086
"$PY" -m mzero train atari --env.id ALE/Pong-v5 --max-minutes "$ATARI_MINUTES" \
    --run-dir "$OUT/atari-pong" --no-progress $ATARI_OPTIONS > /dev/null
"$PY" - "$OUT/atari-pong/metrics.jsonl" <<'PYTHON'
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1])]
last = rows[-1]
print(f"atari Pong: {last['env_steps']} env steps, {last['train_steps']} learner steps in "
      f"{last['wall_s']:.0f} s; learner share {last.get('learner_share', 0):.2f}")
PYTHON
