#!/usr/bin/env bash
# Start or resume the shipped model's training run in the background.
#   tools/training/run_default.sh [RUN_DIR] [DATA]
# The run resumes from RUN_DIR/backup; on a fresh machine it is seeded from the committed
# checkpoint tools/training/default/checkpoint.weights.h5 (weights + optimizer + epoch).
# 64x64 patches, 8 per step (the pixels per step of the earlier 32 x 32x32) until epoch 581, then one
# 192x192 patch per step (below); whole-image
# validation after every epoch (RUN_DIR/validation.csv, RUN_DIR/best.weights.h5).
# Learning rate: a step decay, which won the equal-CPU-time arms (results/training/arms-epoch158/arms.md),
# divided by 4 each time whole-image validation stops rising: 5e-4, 1.25e-4 from epoch 161,
# 3.125e-5 from epoch 224 (no new best in the 25 epochs since epoch 198), each halving every
# 20,000 optimizer steps as well; constant from epoch 984 (below).
# Loss (default/config.json): L1, except epochs 259-280 on 0.7 L1 + 0.3 (1 - SSIM), which won the
# equal-CPU-time arms from that checkpoint (results/training/arms-epoch259/) but then lowered
# the whole-image score for 20 epochs (validation.csv), and epochs 351-358: a short SSIM phase
# from the L1 plateau, whose second epoch (352) is the shipped model (docs/training.md, "A short SSIM
# phase before shipping"); the raw score fell again from its fifth epoch, so L1 from epoch 359.
# From the next L1 plateau (epoch 374) neither a step decay nor a warm restart of the learning
# rate beat the control, another SSIM phase did (results/training/arms-epoch374/): L1 + SSIM for
# epochs 374-379, whose best (38.560) stayed below epoch 352's, then L1 again from epoch 380.
# Epochs 397-408 (L1, 38.43-38.52) were left for an accelerator run from epoch 396: 1,366 steps of
# 256 patches at learning rate 1.2e-3 (3e-4 as applied; results/training/device-epoch396/), taken up
# with tools/training/device_adopt.py as epoch 409, then L1 + SSIM for epochs 409-412, whose first
# (38.793) is the shipped model, and L1 again from epoch 413 (38.62-38.67 to epoch 426). Another
# L1 + SSIM phase, epochs 427-430, scored 38.72-38.74 (the average 38.69-38.74): below epoch 409, so
# nothing was shipped and the run went back to L1 from epoch 431.
# Epochs 433-451 were left for a second accelerator run from epoch 433: 1,960 steps of 256 patches
# at learning rate 2.5e-3 (5.6e-4 as applied; results/training/device-epoch433/), taken up as epoch
# 452 with L1 + SSIM for epochs 452-468 (the CPU run's own epochs 433-440, L1, were dropped); the
# moving average at epoch 456 (39.047) is the shipped model; later epochs fell (raw 38.91-38.96,
# average 38.96-39.00 for 463-468), so L1 again from epoch 469. The config must be L1 whenever an
# accelerator run starts: device_run.py trains with it, and L1 + SSIM at the GPU's learning rate
# collapsed (results/training/device-epoch452/). Epochs 474-481 (L1, raw 38.87-38.91, the average
# 38.90-38.92: the plateau) ran around a session whose CPU went to the BinaryRNN instead, and so
# did epochs 482-: from epoch 484, 128x128 patches (2 per step) scored within the noise of the
# control at equal CPU time (results/training/arms-epoch484/), so the patches stay 64x64.
# Epochs 521-564 (L1) stayed on that plateau (raw 38.89-38.98, average 38.93-38.96, below the
# shipped 39.047) around two sessions whose CPU went mostly to the post-filter.
# Epochs 565-581 (L1) too (raw 38.93-38.97). From the epoch-565 checkpoint, 10 CPU minutes each,
# 0.7 L1 + 0.3 (1 - MS-SSIM) on one 192x192 patch per step scored 39.179 against the control's
# 38.963 and 38.928 for the same patches on L1 (results/training/arms-epoch565/), so from epoch
# 582 the run trains on that loss and those patches (about the pixels per step of 8 x 64x64).
# The single-scale SSIM phases looked as good in their first epochs and then drifted: watch the
# whole-image score (validation.csv), which picks the checkpoint that ships. Epochs 582-600:
# raw 39.120 rising to 39.312 at epoch 599, which shipped (gru-w25@fdb69490; refresh_model.sh
# CONTINUE=1); epochs 601-629 rose on (39.291 to 39.384 at epoch 627, which shipped). From
# the epoch-617 checkpoint, 10 CPU minutes each, the MS-SSIM weight 0.6 scored 39.375 and 0.84
# 39.385 against the control's 39.335 (0.3; results/training/arms-epoch617/), with PSNR within
# 0.02 dB, so from epoch 630 the weight is 0.84: epochs 630-648 scored 39.360-39.475 (epoch 647
# shipped, gru-w25@afe726f9), MS-SSIM up and PSNR down against 0.3. Epochs 649-675: 39.425-39.509;
# from the epoch-675 checkpoint a step decay of the learning rate tied the control over 20 CPU
# minutes each (39.498 against 39.500; results/training/arms-epoch675/), so the rate stays.
# Epochs 676-693: 39.471-39.524 (the moving average up to 39.519); epoch 679 (39.509) shipped as
# gru-w25@76367658.
# From the epoch-697 checkpoint, 20 CPU minutes each, MS-SSIM weight 0.95 (39.515) and 1.0 (39.491)
# against the control's 39.502 (results/training/arms-epoch697/): within the noise, so 0.84 stays.
# Epochs 698-731: 39.471-39.544 (best at 722; the moving average up to 39.533 at 729); epoch 722
# shipped as gru-w25@6480d59c. Epochs 732-754: 39.512-39.548 (the moving average 39.516-39.534):
# levelled off. From the epoch-754 checkpoint, 20 CPU minutes each, training the binarizer on the
# signs that inference emits (binarizer_training "sign") scored 39.698 against the control's 39.537
# (results/training/arms-epoch754/), so the run trains that way from epoch 755 (a first try from
# epoch 761 turned NaN in the MS-SSIM loss's clipped power, since fixed; the run was set back to
# the committed checkpoint of epoch 754). Epochs 755-782: raw 39.629-39.717, the moving average up
# to 39.721 (epoch 770), whose moving average shipped as gru-w25@98a4c4b7. Epochs 783-805:
# 39.686-39.725 (the moving average 39.695-39.717), level; so were epochs 806-860. The rate
# decays with the optimizer's step, so it is 1.7e-6 as applied at epoch 841 (arms table); from
# the checkpoint that resumes at epoch 841, 20 CPU minutes each, x4 (39.710) and x16 (39.700) tied the control (39.694) and x64 fell
# (39.540; results/training/arms-epoch840/), so the rate stays; 10 unrolled iterations instead of
# 16 tied too (39.690), so the run unrolls 16.
# By epoch 983 the halving every 20,000 steps had brought the rate to 1.0e-6 (3.125e-5 x
# 0.5^(98,526 / 20,000)), and it would halve again every 200 epochs, so the slow MS-SSIM gain of the
# moving average ("The score's plateau hides a slow MS-SSIM gain", docs/training.md) would slow down with
# it: from epoch 984 the rate is held constant (--decay-rate 1) at 4e-6, about the x4 that tied
# the control at epoch 841.
# Before an accelerator run, put the config back to L1 (device_run.py trains with it).
# --average-momentum 0.998: an exponential moving average of the weights over about 500 steps
# (RUN_DIR/backup/average.npz), scored beside the raw weights in RUN_DIR/validation-average.csv;
# the better of best.weights.h5 / best-average.weights.h5 is what refresh_model.sh ships.
# --validate-every 4 (from epoch 1431): the two whole-image validations (raw and moving average,
# about 9.5 s each on a 2-core CPU) took a sixth of every epoch of about 112 s; after every
# 4th epoch they leave that time to training. The curve keeps 25 points per 100 epochs (its trend
# is about 0.03 per 100 epochs, its epoch-to-epoch noise about 0.01), and a re-ship is decided by
# measure_average.sh on 41 whole images anyway. Stop the run, and ship, at a validated epoch
# (epoch E with E + 1 a multiple of 4: ... 1431, 1435, ...).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
run_dir="${1:-$repo/../runs/default}"
data="${2:-$repo/../shared/data/train}"
python="${PYTHON:-python}"
mkdir -p "$run_dir/backup"
if [ ! -f "$run_dir/backup/latest.weights.h5" ] && [ -f "$here/default/checkpoint.weights.h5" ]; then
  cp "$here/default/checkpoint.weights.h5" "$run_dir/backup/latest.weights.h5"
  cp "$here/default/training_metadata.json" "$run_dir/backup/training_metadata.json"
  [ -f "$run_dir/log.csv" ] || cp "$here/default/log.csv" "$run_dir/log.csv"
  [ -f "$run_dir/phases.log" ] || [ ! -f "$here/default/phases.log" ] || cp "$here/default/phases.log" "$run_dir/phases.log"
  [ -f "$run_dir/validation.csv" ] || [ ! -f "$here/default/validation.csv" ] || cp "$here/default/validation.csv" "$run_dir/validation.csv"
  [ -f "$run_dir/validation-average.csv" ] || [ ! -f "$here/default/validation-average.csv" ] || cp "$here/default/validation-average.csv" "$run_dir/validation-average.csv"
  [ -f "$run_dir/backup/average.npz" ] || [ ! -f "$here/default/average.npz" ] || cp "$here/default/average.npz" "$run_dir/backup/average.npz"
  if [ ! -f "$run_dir/times.csv" ] && [ -f "$here/default/times.csv" ]; then
    cp "$here/default/times.csv" "$run_dir/times.csv"
  fi
  echo "seeded $run_dir from the committed checkpoint"
fi
nohup "$python" -m tfrnncomp train --data "$data" --config "$here/default/config.json" \
  --out "$run_dir" --patch-size 192 --batch-size 1 --steps-per-epoch 100 --epochs 100000 \
  --learning-rate 4e-6 --decay-steps 20000 --decay-rate 1 --validation-steps 5 \
  --validation-images 8 --validation-crop 256 --validate-every 4 --average-momentum 0.998 >> "$run_dir/train.out" 2>&1 &
echo "training in the background: pid $!, log $run_dir/log.csv"
