#!/usr/bin/env bash
# Re-measure everything that depends on the shipped BinaryRNN, after
# tools/training/export_binaryrnn.py has written a new one into the zoo: the Kodak files of entropy
# mode binaryrnn (the same codes, re-rated; also those decoded without the post-filter, with
# the sizes just measured, and what the post-filter gains), the entropy benchmark, the RD summaries and plots,
# the comparison with the published curves,
# the visual comparison (its files are cut at target rates), the golden codec file and the
# Android codec core's test vectors.  Each step
# is a README command; tools/training/refresh_model.sh ends with this script.
#   tools/training/remeasure_entropy.sh WORK_DIR
# WORK_DIR receives rd_summary.md and rd_per_image.md (the tables README quotes).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
work="${1:?usage: remeasure_entropy.sh WORK_DIR}"
python="${PYTHON:-python}"
mkdir -p "$work"
step() { echo "== $(date +%H:%M:%S) $*" >&2; }

step "Kodak RD, entropy mode binaryrnn (same files, re-rated)"
"$python" tools/bench/evaluate_model.py --model gru-w25 --entropy binaryrnn --out results/kodak \
  --metrics-from results/kodak/tfrnncomp-gru-w25.json
plain=results/postfilter/kodak/tfrnncomp-gru-w25-no-postfilter  # the same files, no post-filter
"$python" tools/bench/evaluate_model.py --model gru-w25 --no-post-filter \
  --name tfrnncomp-gru-w25-no-postfilter-binaryrnn --out results/postfilter/kodak \
  --metrics-from "$plain.json" --sizes-from results/kodak/tfrnncomp-gru-w25-binaryrnn.json

step "entropy benchmark, summaries, plots, visual comparison, golden file"
"$python" tools/bench/bench_entropy.py --out results/entropy
"$python" tools/bench/rd_summary.py results/kodak/*.json > "$work/rd_summary.md"
"$python" tools/bench/rd_summary.py results/kodak/*.json --per-image tfrnncomp-gru-w25-binaryrnn \
  > "$work/rd_per_image.md"
"$python" tools/bench/rd_summary.py results/kodak/tfrnncomp-gru-w25-binaryrnn.json \
  "$plain-binaryrnn.json" results/kodak/jpeg420.json results/kodak/webp.json \
  --anchor "$plain-binaryrnn.json" --out results/postfilter/kodak/bd-rate.md
"$python" tools/bench/plot_rd.py results/kodak/*.json --out results/kodak/plots
"$python" tools/research/published_curves.py --out results/published
"$python" tools/research/visual_compare.py kodim05.png kodim14.png kodim23.png --bpp 0.25 0.5
TFRNNCOMP_REGENERATE_GOLDEN=1 "$python" -m pytest -q -p no:cacheprovider tests/test_golden_codec.py

step "the Android codec core's vectors (their shipped-model files)"
PYTHONPATH="$repo" "$python" android_demo/codec-core/tools/make_vectors.py
PYTHONPATH="$repo" "$python" android_demo/codec-core/tools/make_binaryrnn_vectors.py
