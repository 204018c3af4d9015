#!/usr/bin/env bash
# One epoch of each training stage at CUB-200-2011's scale on the GPU, to replace the README's
# estimate with a measurement: 5,994 training images (CUB's train split), ResNet50-WSOL at 224
# crops from 256, batch 32, fcam-train's defaults otherwise (stage 2 with PCE, CRF and size).
# The images are the shipped pets photos' 240 training images, each linked 25 times under other
# names (CUB's photos are not shipped; decoding cost per image is what matters), with their boxes;
# val and test are the pets' own splits. Called by benchmarks/gpu/run.sh (FCAM_GPU_BENCHES
# including "epoch"); needs fcam-train in $BUILD/bin.
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
declare -A label size box
while IFS=, read -r id v; do label[$id]=$v; done < "$pets/metadata/CUB/train/class_labels.txt"
while IFS=, read -r id w h; do size[$id]=$w,$h; done < "$pets/metadata/CUB/train/image_sizes.txt"
while IFS=, read -r id x0 y0 x1 y1; do box[$id]=$x0,$y0,$x1,$y1; done < "$pets/metadata/CUB/train/localization.txt"
meta=$root/metadata/CUB/train
for ((k = 0; k < images; ++k)); do
  id=${ids[k % ${#ids[@]}]}
  new="train/copy$((k / ${#ids[@]}))_${id#train/}"
  ln -s "$PWD/$pets/images/$id" "$root/images/$new"
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
  start=$(date +%s%N)
  timeout "${FCAM_EPOCH_TIMEOUT:-300}" "$BUILD/bin/fcam-train" "$stage" "${common[@]}" "${extra[@]}" \
    --out "$OUT/cub-epoch-$stage" > "$OUT/cub-epoch-$stage.log" 2>&1
  r=$?
  echo "fcam-train $stage, one epoch of $images images: exit $r, $(( ($(date +%s%N) - start) / 1000000 )) ms" \
       "(the epoch, validation on 60 images and the test evaluation on 298)"
  grep -v "images/s" "$OUT/cub-epoch-$stage.log" | tail -6  # "epoch 1: ..., S s" is the epoch with validation
  [ $r -ne 0 ] && rc=1
done
exit $rc
