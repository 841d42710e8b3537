#!/usr/bin/env bash
# On the accelerator machine: install the carried wheels (Keras and the two of its requirements
# that the machine lacks), then train on JAX for MINUTES minutes into $OUT.
#   tools/training/device_run.sh MINUTES [device_run.py options, e.g. --batch-size 512]
#       one run into $OUT (its output also in $OUT/device_run.log)
#   tools/training/device_run.sh MINUTES --arms NAME="options" [NAME="options" ...]
#       arms side by side on the one GPU (each with an equal share of its memory), each into
#       $OUT/NAME; their output is printed line by line as "NAME: ..." (no log files: the
#       device tool brings back at most 8 files, and each arm writes 4)
# Expects .device/ from tools/training/device_prep.py --wheels (carried by the device tool); with
# its validation/ folder every run is scored as it goes and keeps its best checkpoint.
# PYTHON (default python3) and SKIP_WHEELS=1 (use the environment's own Keras) are for trying
# it on a machine that has Keras already; DEVICE_DIR (default .device) is the carried folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
minutes="${1:-7}"
shift || true
out="${OUT:-$repo/device-out}"
python="${PYTHON:-python3}"
device="${DEVICE_DIR:-$repo/.device}"
mkdir -p "$out"
if [ "${SKIP_WHEELS:-0}" != 1 ]; then
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$device"/wheels/*.whl
  export PYTHONPATH="/tmp/site:$repo"
else
  export PYTHONPATH="$repo"
fi
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true

validation=()
[ ! -d "$device/validation" ] || validation=(--validation "$device/validation")
train() {
  "$python" "$here/device_run.py" --data "$device/photos" ${validation[@]+"${validation[@]}"} \
    --minutes "$minutes" "$@"
}

if [ "${1:-}" != "--arms" ]; then
  train --out "$out" "$@" 2>&1 | tee "$out/device_run.log"
  exit
fi
shift
[ $# -gt 0 ] || { echo "device_run.sh: --arms needs at least one NAME=\"options\"" >&2; exit 2; }
XLA_PYTHON_CLIENT_MEM_FRACTION="$(awk "BEGIN { printf \"%.2f\", 0.9 / $# }")"
export XLA_PYTHON_CLIENT_MEM_FRACTION
pids=()
for arm in "$@"; do
  name="${arm%%=*}"
  options="${arm#*=}"
  [ "$name" != "$arm" ] || options=""
  mkdir -p "$out/$name"
  # shellcheck disable=SC2086  # the options are words on purpose
  (set -o pipefail; train --out "$out/$name" $options 2>&1 | sed -u "s/^/$name: /") &
  pids+=("$!")
done
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
exit "$status"
