#!/usr/bin/env bash
# On the accelerator machine: install the carried wheels (Keras and the two of its requirements
# that the machine lacks), then train on JAX for MINUTES minutes into $OUT.
#   tools/training/device_run.sh [MINUTES] [device_run.py options, e.g. --batch-size 512]
# Expects .device/ from tools/training/device_prep.py --wheels (carried by the device tool).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
minutes="${1:-7}"
shift || true
out="${OUT:-$repo/device-out}"
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site "$repo"/.device/wheels/*.whl
export PYTHONPATH="/tmp/site:$repo" KERAS_BACKEND=jax PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 "$here/device_run.py" --data "$repo/.device/photos" --out "$out" --minutes "$minutes" "$@" \
  2>&1 | tee "$out/device_run.log"
