#!/usr/bin/env bash
# Ship a newer checkpoint of the default training run and re-measure everything that depends
# on the weights: the post-filter and the BinaryRNN (the decoded images and the codes change),
# the Kodak RD results and plots, the entropy benchmark, the visual comparison and the golden codec
# file (those after the BinaryRNN's export by tools/training/remeasure_entropy.sh).  Each step is a
# command of README or docs/ (training.md, binaryrnn.md).  POSTFILTER_MINUTES (60): the post-filter's CPU minutes of training;
# POSTFILTER_MORE_MINUTES (50): its continuation on other patches, at 5e-4;
# POSTFILTER_MS_SSIM_MINUTES (10): then on 192x192 patches with 0.16 L1 + 0.84 (1 - MS-SSIM),
# which ships.
#   tools/training/refresh_model.sh WEIGHTS.h5 EPOCH [WORK_DIR]
# WEIGHTS.h5: the run's best.weights.h5 (the epoch with the best whole-image validation score)
# or best-average.weights.h5 (the same for the moving average of the weights, --average-momentum),
# a BackupAndRestore checkpoint (runs/default/backup/latest.weights.h5) or a run's
# latest.weights.h5; EPOCH: the run's epoch it holds (the training record stops there;
# RUN_DIR, default ../runs/default, is the run it came from). AVERAGE=1: WEIGHTS are the moving
# average (best-average.weights.h5 or a copy), recorded with validation-average.csv's scores.
# LATEST=1: WEIGHTS are those after EPOCH, not the run's best (such as the moving average that
# tools/training/export_average.py writes): the record gives EPOCH's validation line.
# The export, the context evaluation, the code dumps and the BinaryRNN training and export are
# skipped when their output exists (WORK_DIR, the zoo), so a rerun resumes; the rest is redone.
# ENTROPY_MINUTES (40): the BinaryRNN's training budget; ENTROPY_MORE_MINUTES (0): minutes of a
# continuation of it, at 6e-4 (train_entropy.py --init), exported instead when set;
# ENTROPY_GROUPS (8) and ENTROPY_GROUPS_MINUTES (45): then a continuation with the bits of a
# position coded in that many depth groups (train_entropy.py --init --depth-groups), exported
# instead (ENTROPY_GROUPS=1 skips it).
# CONTINUE=1: for a checkpoint fine-tuned from the shipped weights, the shipped post-filter and
# BinaryRNN are continued on the new model's images and codes instead of trained afresh (about
# an hour on two cores instead of five CPU hours): the filter for POSTFILTER_MS_SSIM_MINUTES
# with its last stage's loss, the BinaryRNN (dequantized, tools/training/dequantize_binaryrnn.py)
# for ENTROPY_MINUTES at 6e-4 on the codes-train files (one crop per image; ENTROPY_CROPS=4 adds
# the codes-more files, three more); the filter trains beside the code dumps and the BinaryRNN,
# one process per core.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
weights="$1"
epoch="$2"
run_dir="${RUN_DIR:-$repo/../runs/default}"
work="${3:-$repo/../runs/refresh}"
python="${PYTHON:-python}"
zoo=tfrnncomp/model/zoo/gru-w25
mkdir -p "$work/export"
step() { echo "== $(date +%H:%M:%S) $*" >&2; }

if [ ! -f "$work/exported" ]; then
  step "export the weights"
  cp tools/training/default/config.json "$work/export/config.json"
  cp "$weights" "$work/export/latest.weights.h5"
  "$python" -m tfrnncomp export-weights "$work/export" "$work/model"
  cp "$work/model/model.weights.h5" "$zoo/model.weights.h5"
  # the training settings the weights were last trained with (loss, ...); the next step sets
  # useful_iterations in it
  cp "$work/model/config.json" "$zoo/config.json"
  # the old BinaryRNN and post-filter belong to the old weights: the codec must not pick them up
  mkdir -p "$work/shipped"
  for name in binaryrnn.bin binaryrnn.json postfilter.json postfilter.weights.h5; do
    [ ! -f "$zoo/$name" ] || cp "$zoo/$name" "$work/shipped/$name"
  done
  rm -f "$zoo/binaryrnn.bin" "$zoo/postfilter.json" "$zoo/postfilter.weights.h5"
  touch "$work/exported"
fi

postfilter_fresh() {
  [ -f "$work/postfilter-first/postfilter.json" ] || "$python" tools/training/train_postfilter.py \
    --model gru-w25 --out "$work/postfilter-first" --work "$work/postfilter" \
    --minutes "${POSTFILTER_MINUTES:-60}" --learning-rate 1e-3 --results "$work/postfilter-results"
  [ -f "$work/postfilter-more/postfilter.json" ] || "$python" tools/training/train_postfilter.py \
    --model gru-w25 --init "$work/postfilter-first" --out "$work/postfilter-more" \
    --work "$work/postfilter" --minutes "${POSTFILTER_MORE_MINUTES:-50}" --learning-rate 5e-4 \
    --patch-seed 1 --results "$work/postfilter-results"
  "$python" tools/training/train_postfilter.py --model gru-w25 --init "$work/postfilter-more" \
    --out "$zoo" --work "$work/postfilter" --minutes "${POSTFILTER_MS_SSIM_MINUTES:-10}" \
    --learning-rate 5e-4 --patch-seed 2 --loss ms_ssim --ssim-weight 0.84 --patch 192 --batch 4
}

postfilter_continued() {
  "$python" tools/training/train_postfilter.py --model gru-w25 --init "$work/shipped" \
    --out "$zoo" --work "$work/postfilter" --minutes "${POSTFILTER_MS_SSIM_MINUTES:-10}" \
    --learning-rate 5e-4 --patch-seed 2 --loss ms_ssim --ssim-weight 0.84 --patch 192 --batch 4 \
    --results "$work/postfilter-results"
}

step "train the post-filter on the new model's decoded images (in the background)"
filter_job=
if [ ! -f "$zoo/postfilter.json" ]; then
  if [ "${CONTINUE:-0}" = 1 ]; then postfilter_continued & else postfilter_fresh & fi
  filter_job=$!
fi

step "dump codes"
[ -f "$work/codes-val.tfrecord" ] || "$python" tools/training/dump_codes.py --split validation --crop 256 \
  --crops 2 --seed 1 --out "$work/codes-val.tfrecord"
for shard in 0 1 2 3; do
  [ -f "$work/codes-train$shard.tfrecord" ] || "$python" tools/training/dump_codes.py --split train \
    --crop 256 --shard "$shard/4" --seed $((10 + shard)) --out "$work/codes-train$shard.tfrecord"
  [ "${CONTINUE:-0}${ENTROPY_CROPS:-1}" = 11 ] || [ -f "$work/codes-more$shard.tfrecord" ] || "$python" tools/training/dump_codes.py --split train \
    --crop 256 --crops 3 --shard "$shard/4" --seed $((20 + shard)) --out "$work/codes-more$shard.tfrecord"
done

entropy_fresh() {
  [ -f "$work/binaryrnn/float.weights.h5" ] || "$python" tools/training/train_entropy.py \
    --train "$work"/codes-train[0-3].tfrecord "$work"/codes-more[0-3].tfrecord \
    --config tools/training/binaryrnn.json \
    --validation "$work/codes-val.tfrecord" --out "$work/binaryrnn" \
    --epochs "${ENTROPY_EPOCHS:-30}" --minutes "${ENTROPY_MINUTES:-40}"
  entropy_run="$work/binaryrnn"
  if [ "${ENTROPY_MORE_MINUTES:-0}" != 0 ]; then
    # continue it (train_entropy.py --init): the shipped binaryrnn@643de498 had 40 + 65 minutes
    step "continue the BinaryRNN"
    if [ ! -f "$work/binaryrnn-more/done" ]; then
      "$python" tools/training/train_entropy.py --init "$work/binaryrnn" \
        --train "$work"/codes-train[0-3].tfrecord "$work"/codes-more[0-3].tfrecord \
        --validation "$work/codes-val.tfrecord" --out "$work/binaryrnn-more" --learning-rate 6e-4 \
        --epochs "${ENTROPY_EPOCHS:-30}" --minutes "$ENTROPY_MORE_MINUTES"
      touch "$work/binaryrnn-more/done"
    fi
    entropy_run="$work/binaryrnn-more"
  fi

  if [ "${ENTROPY_GROUPS:-8}" != 1 ]; then
    # the shipped binaryrnn@e8516c26: the continuation above, then 8 depth groups for 45 minutes
    step "add depth groups to the BinaryRNN"
    if [ ! -f "$work/binaryrnn-groups/done" ]; then
      "$python" tools/training/train_entropy.py --init "$entropy_run" \
        --depth-groups "${ENTROPY_GROUPS:-8}" \
        --train "$work"/codes-train[0-3].tfrecord "$work"/codes-more[0-3].tfrecord \
        --validation "$work/codes-val.tfrecord" --out "$work/binaryrnn-groups" --learning-rate 6e-4 \
        --epochs "${ENTROPY_EPOCHS:-30}" --minutes "${ENTROPY_GROUPS_MINUTES:-45}"
      touch "$work/binaryrnn-groups/done"
    fi
    entropy_run="$work/binaryrnn-groups"
  fi
}

entropy_continued() {
  [ -f "$work/binaryrnn-shipped/float.weights.h5" ] || "$python" \
    tools/training/dequantize_binaryrnn.py --bin "$work/shipped/binaryrnn.bin" \
    --out "$work/binaryrnn-shipped"
  if [ ! -f "$work/binaryrnn-continued/done" ]; then
    codes=("$work"/codes-train[0-3].tfrecord)
    [ "${ENTROPY_CROPS:-1}" = 1 ] || codes+=("$work"/codes-more[0-3].tfrecord)
    "$python" tools/training/train_entropy.py --init "$work/binaryrnn-shipped" \
      --train "${codes[@]}" --validation "$work/codes-val.tfrecord" \
      --out "$work/binaryrnn-continued" --learning-rate 6e-4 \
      --epochs "${ENTROPY_EPOCHS:-30}" --minutes "${ENTROPY_MINUTES:-40}"
    touch "$work/binaryrnn-continued/done"
  fi
  entropy_run="$work/binaryrnn-continued"
}

step "train the BinaryRNN"
if [ "${CONTINUE:-0}" = 1 ]; then entropy_continued; else entropy_fresh; fi

step "wait for the post-filter"
[ -z "$filter_job" ] || wait "$filter_job"

step "per-iteration curves: validation crops (sets the useful iterations), then Kodak"
"$python" tools/research/iteration_table.py --model gru-w25 --validation ../shared/data/train \
  --name validation-gru-w25 --set-useful "$zoo"
"$python" tools/research/iteration_table.py --model gru-w25 --name kodak-gru-w25

step "Kodak RD, entropy mode context"
# (an if, not "|| { a && b; }": set -e does not stop on a failure inside an && list)
if [ ! -f "$work/eval-context" ]; then
  "$python" tools/bench/evaluate_model.py --model gru-w25 --iterations 1-16 --one-pass \
    --entropy context --out results/kodak
  touch "$work/eval-context"
fi
if [ ! -f "$work/eval-context-no-postfilter" ]; then  # what the post-filter gains (README)
  "$python" tools/bench/evaluate_model.py --model gru-w25 --iterations 1-16 --one-pass \
    --entropy context --no-post-filter --name tfrnncomp-gru-w25-no-postfilter \
    --out results/postfilter/kodak
  touch "$work/eval-context-no-postfilter"
fi

step "export the BinaryRNN"
[ -f "$zoo/binaryrnn.bin" ] || "$python" tools/training/export_binaryrnn.py --run "$entropy_run" \
  --calibration "$work"/codes-train[0-3].tfrecord \
  --validation "$work/codes-val.tfrecord"

PYTHON="$python" tools/training/remeasure_entropy.sh "$work"
average=()
[ "${AVERAGE:-0}" != 1 ] || average=(--average)
[ "${LATEST:-0}" != 1 ] || average+=(--latest)
"$python" tools/training/record.py "$run_dir" --out "$zoo" --last-epoch "$epoch" ${average[@]+"${average[@]}"}
step "done"
