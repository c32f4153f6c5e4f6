#!/usr/bin/env bash
# Rebuild the sample model of release 0.1.0 (shipped then; replaced by the default model of
# scripts/train_default_model.sh) from scratch: 200 toy desktops, 16 epochs on the CPU.
# Resumable: run it again after an interruption and it continues from the last checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
DV=${DV:-.venv/bin/deskvision}
[ -f data/toy_train/annotations.json ] || $DV toy --out data/toy_train --images 200 --seed 1
[ -f data/toy_val/annotations.json ] || $DV toy --out data/toy_val --images 20 --seed 2
resume=""
[ -f runs/sample/checkpoint.pt ] && resume="--resume"
$DV train data/toy_train/annotations.json --val data/toy_val/annotations.json --out runs/sample \
  --arch fasterrcnn_tiny_fpn --epochs 16 --batch-size 2 --lr 0.01 --seed 1 --checkpoint-minutes 3 $resume
$DV evaluate runs/sample/best.safetensors data/toy_val/annotations.json --json runs/sample/val_metrics.json
echo "sample model: runs/sample/best.safetensors"
