#!/usr/bin/env bash
# The training run's moving average of the weights, as it stands, against the shipped codec
# weights on the whole images of the validation split of the training data (never Kodak),
# through the codec: entropy mode context and no post-filter (the BinaryRNN and the post-filter
# belong to the shipped weights), iterations 1-10 (the 0.125-1 bpp range of the quality
# targets).  It says whether a re-ship (refresh_model.sh) would pay.  Each step is a
# command of docs/training.md; the run may keep training (the average is read between two epoch ends).
#   tools/training/measure_average.sh NAME OUT_DIR [WORK_DIR]
# OUT_DIR receives NAME-validation.json, shipped-validation.json (made once; reused when it is
# there, so measure the shipped weights again after a ship into a new OUT_DIR) and bd-rate.md
# (rd_summary.py's tables of NAME against the shipped weights, then its per-image BD-rates).
# WORK_DIR (default ../runs/measure-NAME): the exported weights.  RUN_DIR (../runs/default): the
# run; DATA (../shared/data/train): its images; COUNT (41): validation images.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
name="${1:?usage: measure_average.sh NAME OUT_DIR [WORK_DIR]}"
out="${2:?usage: measure_average.sh NAME OUT_DIR [WORK_DIR]}"
work="${3:-$repo/../runs/measure-$name}"
run_dir="${RUN_DIR:-$repo/../runs/default}"
data="${DATA:-$repo/../shared/data/train}"
count="${COUNT:-41}"
python="${PYTHON:-python}"
mkdir -p "$work/export" "$out"
step() { echo "== $(date +%H:%M:%S) $*" >&2; }
measure() {  # MODEL RESULT_NAME
  "$python" tools/bench/evaluate_model.py --model "$1" --validation "$data" --count "$count" \
    --entropy context --no-post-filter --one-pass --iterations 1-10 --name "$2" --out "$out"
}

step "export the moving average of $run_dir"
cp "$run_dir/config.json" "$work/export/config.json"
"$python" tools/training/export_average.py "$run_dir" --out "$work/export/latest.weights.h5"
"$python" -m tfrnncomp export-weights "$work/export" "$work/model"

step "code the validation images with it and, once, with the shipped weights"
measure "$work/model" "$name-validation"
[ -f "$out/shipped-validation.json" ] || measure gru-w25 shipped-validation

step "BD-rates against the shipped weights"
{
  "$python" tools/bench/rd_summary.py "$out/$name-validation.json" \
    --anchor "$out/shipped-validation.json"
  "$python" tools/bench/rd_summary.py "$out/$name-validation.json" \
    --anchor "$out/shipped-validation.json" --per-image "$name-validation"
} > "$out/bd-rate.md"
cat "$out/bd-rate.md"
