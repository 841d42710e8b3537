#!/usr/bin/env bash
# Copy the run's latest BackupAndRestore checkpoint (one file, overwritten) and its log into
# the repository, so the next session can resume on a fresh machine.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
run_dir="${1:-$here/../../../runs/default}"
cp "$run_dir/backup/latest.weights.h5" "$here/default/checkpoint.weights.h5"
cp "$run_dir/backup/training_metadata.json" "$here/default/training_metadata.json"
cp "$run_dir/log.csv" "$here/default/log.csv"
[ -f "$run_dir/validation.csv" ] && cp "$run_dir/validation.csv" "$here/default/validation.csv"
# the moving average of the weights (one file, overwritten) and its validation log
[ -f "$run_dir/backup/average.npz" ] && cp "$run_dir/backup/average.npz" "$here/default/average.npz"
[ -f "$run_dir/validation-average.csv" ] && cp "$run_dir/validation-average.csv" "$here/default/validation-average.csv"
[ -f "$run_dir/phases.log" ] && cp "$run_dir/phases.log" "$here/default/phases.log"
# the wall-time record (appended across sessions; the seeded copy carries the older ones)
[ -f "$run_dir/times.csv" ] && cp "$run_dir/times.csv" "$here/default/times.csv"
echo "saved $(cat "$here/default/training_metadata.json")"
