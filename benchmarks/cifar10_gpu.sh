#!/usr/bin/env bash
# The paper pair on CIFAR-10 (JPEG copy), on one lent GPU, as one script:
#   bash benchmarks/cifar10_gpu.sh [SCALE]          # SCALE: full (default) or tiny (a CPU check)
#   CIFAR=DIR WORK=DIR RESULTS=DIR [AA_N=0] bash benchmarks/cifar10_gpu.sh tiny   # where data, work and results go
# Needs data/cifar10/{train,val}/<class>/*.jpg, or data/cifar10-jpeg/{train,val}.npz with unpack.py
# (the 17 MB packed copy travels with the checkout: carry data/cifar10-jpeg).
#
# What it runs (configs/cifar10_gpu.yaml): a PreAct ResNet-18 teacher by fast AT (15 epochs), then
# DFARD into ResNet-18 and into MobileNetV2, each 80 epochs x 50 student steps = 4,000 student and
# 400 generator steps at batch 256; every model measured by benchmarks/cifar10.py (clean and PGD-20
# on all 5,000 val images, AutoAttack standard on 1,000). Budget against the published ones: FERD
# (ICLR 2026) trains 80,000 student and 44,000 generator steps at batch 256, 20x our student steps;
# configs/cifar10_wrn34-10_*.yaml, the paper-scale configs, run 10,000. A lent GPU gives this project
# 15 minutes in all: at the measured 22.8 student steps/s (ResNet-18, bf16, H200) 4,000 steps take
# about 3 minutes per student, the teacher about as long; the rest is evaluation.
set -euo pipefail
for var in CIFAR WORK RESULTS; do  # paths given relative to where the caller stands
  if [ -n "${!var:-}" ] && [ "${!var#/}" = "${!var}" ]; then printf -v "$var" '%s' "$PWD/${!var}"; fi
done
cd "$(dirname "$0")/.."
SCALE=${1:-full}
ASKED_AA_N=${AA_N:-}  # AutoAttack images (default: 1000, 20 at the tiny scale)
CIFAR=${CIFAR:-data/cifar10}  # the image-folder tree (train/, val/); unpacked from data/cifar10-jpeg when absent
if [ ! -d "$CIFAR/train" ]; then
  if [ -f data/cifar10-jpeg/train.npz ]; then
    python3 data/cifar10-jpeg/unpack.py folder "$CIFAR"
  else
    echo "error: no $CIFAR/train and no data/cifar10-jpeg/train.npz to unpack" >&2
    exit 2
  fi
fi
PRESET=configs/cifar10_gpu.yaml
DATA=folder:$CIFAR
AA_N=${ASKED_AA_N:-1000}
if [ "$SCALE" = tiny ]; then  # the same commands on a slice, minutes on a CPU: the script's check
  WORK=${WORK:-runs/cifar10_gpu_tiny_work}
  RESULTS=${RESULTS:-benchmarks/results/cifar10_gpu_tiny}
  mkdir -p "$WORK"
  CIFAR="$CIFAR" WORK="$WORK" python3 - <<'PY'
import os, pathlib, shutil, yaml
work, source = pathlib.Path(os.environ["WORK"]), pathlib.Path(os.environ["CIFAR"])
preset = yaml.safe_load(pathlib.Path("configs/cifar10_gpu.yaml").read_text())
preset["teacher"].update(epochs=1, batch_size=32, eval_n=20)
preset["distill"].update(epochs=1, student_steps=2, generator_steps=1, batch_size=16, memory_bank_batches=2,
                         probe_size=16, attack_steps=2)
(work / "tiny.yaml").write_text(yaml.safe_dump(preset))
for split, per_class in (("train", 20), ("val", 5)):
    for folder in sorted((source / split).iterdir()):
        target = work / "data" / split / folder.name
        target.mkdir(parents=True, exist_ok=True)
        for image in sorted(folder.iterdir())[:per_class]:
            shutil.copy(image, target / image.name)
PY
  PRESET=$WORK/tiny.yaml
  DATA=folder:$WORK/data
  AA_N=${ASKED_AA_N:-20}  # AutoAttack on a ResNet-18 takes minutes per image on a CPU: AA_N=0 skips it
fi
WORK=${WORK:-runs/cifar10_gpu}
RESULTS=${RESULTS:-benchmarks/results/cifar10_gpu}
python3 -c "import torch; print('device:', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')"
python3 benchmarks/cifar10.py --preset "$PRESET" --data "$DATA" --work "$WORK" --aa-n "$AA_N" --aa-chunk 500 \
  --results "$RESULTS" --runs teacher dfard-s0 dfard@mobilenet_v2-s0
