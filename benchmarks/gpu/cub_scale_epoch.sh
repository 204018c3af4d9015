#!/usr/bin/env bash
# One epoch of each training stage at CUB-200-2011's scale on the GPU, to replace the README's
# estimate with a measurement: 5,994 training images (CUB's train split), ResNet50-WSOL at 224
# crops from 256, batch 32, fcam-train's defaults otherwise (stage 2 with PCE, CRF and size).
# The images are the shipped pets photos' 240 training images, seen 25 times under other names
# (train/copyK/..., each copyK a link to the pets' training folder: CUB's photos are not shipped;
# decoding cost per image is what matters), with their boxes; val and test are the pets' own
# splits. Called by benchmarks/gpu/run.sh (FCAM_GPU_BENCHES including "epoch"); needs fcam-train
# in $BUILD/bin. Each stage may take FCAM_EPOCH_TIMEOUT seconds (300); with FCAM_EPOCH_DEADLINE
# (seconds since the epoch, as date +%s) the classifier stage gets at most half the time left and
# the F-CAM stage the rest (it starts from the classifier's best checkpoint, which the validation
# before the first epoch already writes).
#
#   BUILD=build-gpu OUT=gpu-out bash benchmarks/gpu/cub_scale_epoch.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build-gpu}
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
pets=data/oxford-pets-3
root=${TMPDIR:-/tmp}/fcam_cub_scale
images=${FCAM_EPOCH_IMAGES:-5994}  # fewer (and FCAM_EPOCH_DEVICE=cpu) to try the script on a CPU

# The dataset: links and metadata in the layout of data/oxford-pets-3 (docs/datasets.md).
rm -rf "$root" && mkdir -p "$root/images/train" "$root/metadata/CUB/train"
ln -s "$PWD/$pets/images/val" "$root/images/val"
ln -s "$PWD/$pets/images/test" "$root/images/test"
cp -r "$pets/metadata/CUB/val" "$pets/metadata/CUB/test" "$root/metadata/CUB/"
mapfile -t ids < "$pets/metadata/CUB/train/image_ids.txt"
(( ${#ids[@]} > 0 )) || { echo "no training images listed in $pets/metadata/CUB/train/image_ids.txt"; exit 1; }
for ((copy = 0; copy * ${#ids[@]} < images; ++copy)); do
  ln -s "$PWD/$pets/images/train" "$root/images/train/copy$copy"
done
declare -A label size box
while IFS=, read -r id v; do label[$id]=$v; done < "$pets/metadata/CUB/train/class_labels.txt"
while IFS=, read -r id w h; do size[$id]=$w,$h; done < "$pets/metadata/CUB/train/image_sizes.txt"
while IFS=, read -r id x0 y0 x1 y1; do box[$id]=$x0,$y0,$x1,$y1; done < "$pets/metadata/CUB/train/localization.txt"
meta=$root/metadata/CUB/train
for ((k = 0; k < images; ++k)); do
  id=${ids[k % ${#ids[@]}]}
  new="train/copy$((k / ${#ids[@]}))/${id#train/}"
  echo "$new" >> "$meta/image_ids.txt"
  echo "$new,${label[$id]}" >> "$meta/class_labels.txt"
  echo "$new,${size[$id]}" >> "$meta/image_sizes.txt"
  echo "$new,${box[$id]}" >> "$meta/localization.txt"
done
echo "CUB-scale training split: $(wc -l < "$meta/image_ids.txt") images"

common=(--device "${FCAM_EPOCH_DEVICE:-cuda}" --arch "${FCAM_EPOCH_ARCH:-resnet50}" --num_classes 3 --epochs 1
        --batch_size 32 --workers "${FCAM_EPOCH_WORKERS:-12}"
        --data_root "$root/images" --metadata_root "$root/metadata" --dataset_name CUB)
rc=0
for stage in classifier fcam; do
  extra=()
  [ "$stage" = fcam ] && extra=(--classifier "$OUT/cub-epoch-classifier/best.safetensors")
  cap=${FCAM_EPOCH_TIMEOUT:-300}
  if [ -n "${FCAM_EPOCH_DEADLINE:-}" ]; then
    left=$(( FCAM_EPOCH_DEADLINE - $(date +%s) ))
    [ "$stage" = classifier ] && left=$(( left / 2 ))
    (( left < cap )) && cap=$left
    if (( cap < 20 )); then
      echo "fcam-train $stage: skipped (${cap} s left before the deadline)"; rc=1; continue
    fi
  fi
  start=$(date +%s%N)
  timeout -k 10 "$cap" "$BUILD/bin/fcam-train" "$stage" "${common[@]}" "${extra[@]}" \
    --out "$OUT/cub-epoch-$stage" > "$OUT/cub-epoch-$stage.log" 2>&1
  r=$?
  echo "fcam-train $stage, one epoch of $images images: exit $r, $(( ($(date +%s%N) - start) / 1000000 )) ms" \
       "(the epoch, validation on 60 images and the test evaluation on 298)"
  grep -v "images/s" "$OUT/cub-epoch-$stage.log" | tail -6  # "epoch 1: ..., S s" is the epoch with validation
  # The epoch's last progress line: the training speed, also when cut short (the validation's and
  # the tests' lines come after it).
  grep "^$stage epoch 1/1: .*images/s" "$OUT/cub-epoch-$stage.log" | tail -1
  [ $r -ne 0 ] && rc=1
done
exit $rc
