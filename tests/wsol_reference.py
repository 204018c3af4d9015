#!/usr/bin/python3
"""wsolevaluation's evaluation formulas transcribed with numpy + OpenCV (Debian's python3-numpy
and python3-opencv): the test-time reference of fcam's metrics and the peer of its evaluation
benchmark. Written from the published protocol (Choe et al., CVPR 2020; docs/method.md §8).

As a program it evaluates a split like fcam-eval and prints the same JSON:
  /usr/bin/python3 tests/wsol_reference.py --scoremap_root M --metadata_root D --dataset_name CUB
      --split test [--mask_root R] [--cam_curve_interval 0.001] [--multi_contour_eval]
      [--multi_iou_eval] [--iou_threshold_list 30 50 70] [--resize_size 224]
"""
import argparse
import json
import os

import cv2
import numpy as np

RESIZE_LENGTH = 224


def compute_bboxes_from_scoremaps(scoremap, scoremap_threshold_list, multi_contour_eval):
    height, width = scoremap.shape
    scoremap_image = np.expand_dims((scoremap * 255).astype(np.uint8), 2)

    def scoremap2bbox(threshold):
        _, thr_gray_heatmap = cv2.threshold(src=scoremap_image, thresh=int(threshold * np.max(scoremap_image)),
                                            maxval=255, type=cv2.THRESH_BINARY)
        contours = cv2.findContours(image=thr_gray_heatmap, mode=cv2.RETR_TREE,
                                    method=cv2.CHAIN_APPROX_SIMPLE)[-2]
        if len(contours) == 0:
            return np.asarray([[0, 0, 0, 0]]), 1
        if not multi_contour_eval:
            contours = [max(contours, key=cv2.contourArea)]
        estimated_boxes = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            x0, y0, x1, y1 = x, y, x + w, y + h
            x1 = min(x1, width - 1)
            y1 = min(y1, height - 1)
            estimated_boxes.append([x0, y0, x1, y1])
        return np.asarray(estimated_boxes), len(contours)

    estimated_boxes_at_each_thr = []
    number_of_box_list = []
    for threshold in scoremap_threshold_list:
        boxes, number_of_box = scoremap2bbox(threshold)
        estimated_boxes_at_each_thr.append(boxes)
        number_of_box_list.append(number_of_box)
    return estimated_boxes_at_each_thr, number_of_box_list


def calculate_multiple_iou(box_a, box_b):
    min_x = np.maximum(box_a[:, None, 0], box_b[None, :, 0])
    min_y = np.maximum(box_a[:, None, 1], box_b[None, :, 1])
    max_x = np.minimum(box_a[:, None, 2], box_b[None, :, 2])
    max_y = np.minimum(box_a[:, None, 3], box_b[None, :, 3])
    area_intersect = np.maximum(0, max_x - min_x + 1) * np.maximum(0, max_y - min_y + 1)
    area_a = (box_a[:, 2] - box_a[:, 0] + 1) * (box_a[:, 3] - box_a[:, 1] + 1)
    area_b = (box_b[:, 2] - box_b[:, 0] + 1) * (box_b[:, 3] - box_b[:, 1] + 1)
    denominator = area_a[:, None] + area_b[None, :] - area_intersect
    degenerate = np.where(denominator <= 0)
    denominator[degenerate] = 1
    ious = area_intersect / denominator
    ious[degenerate] = 0
    return ious



def read_lines(path):
    with open(path) as f:
        return [line.rstrip("\r\n") for line in f.read().splitlines()]


def load_metadata(split_dir):
    """image ids, image sizes, boxes or (mask paths, ignore path) per image."""
    ids = read_lines(os.path.join(split_dir, "image_ids.txt"))
    sizes, boxes, masks, ignore = {}, {}, {}, {}
    sizes_file = os.path.join(split_dir, "image_sizes.txt")
    if os.path.exists(sizes_file):
        for line in read_lines(sizes_file):
            i, w, h = line.split(",")
            sizes[i] = (int(w), int(h))
    for line in read_lines(os.path.join(split_dir, "localization.txt")):
        fields = line.split(",")
        if len(fields) == 5:
            boxes.setdefault(fields[0], []).append([float(v) for v in fields[1:]])
        else:
            masks.setdefault(fields[0], []).append(fields[1])
            if len(fields) > 2 and fields[2]:
                ignore[fields[0]] = fields[2]
    return ids, sizes, boxes, masks, ignore


def resize_bbox(box, image_size, resize_size):
    w, h = image_size
    nw, nh = resize_size
    return [int(box[0] * nw / w), int(box[1] * nh / h), int(box[2] * nw / w), int(box[3] * nh / h)]


def get_mask(mask_root, mask_paths, ignore_path):
    """Foreground 1, ignore 255, background 0 at RESIZE_LENGTH² (the reference's get_mask)."""
    instances = []
    for path in mask_paths:
        mask = cv2.imread(os.path.join(mask_root, path), cv2.IMREAD_GRAYSCALE)
        instances.append(cv2.resize(mask, (RESIZE_LENGTH, RESIZE_LENGTH), interpolation=cv2.INTER_NEAREST) > 0.5)
    foreground = np.stack(instances, axis=0).any(axis=0)
    ignore = np.zeros_like(foreground)
    if ignore_path:
        box = cv2.imread(os.path.join(mask_root, ignore_path), cv2.IMREAD_GRAYSCALE)
        ignore = cv2.resize(box, (RESIZE_LENGTH, RESIZE_LENGTH), interpolation=cv2.INTER_NEAREST) > 0.5
    ignore = np.logical_and(ignore, np.logical_not(foreground))
    return foreground.astype(np.uint8) + 255 * ignore.astype(np.uint8)


class BoxEvaluator:
    def __init__(self, cam_threshold_list, iou_threshold_list, multi_contour_eval):
        self.cam_threshold_list = cam_threshold_list
        self.iou_threshold_list = iou_threshold_list
        self.multi_contour_eval = multi_contour_eval
        self.num_correct = {s: np.zeros(len(cam_threshold_list)) for s in iou_threshold_list}
        self.cnt = 0

    def accumulate(self, scoremap, gt_boxes):
        boxes, number_of_box_list = compute_bboxes_from_scoremaps(scoremap, self.cam_threshold_list,
                                                                  self.multi_contour_eval)
        multiple_iou = calculate_multiple_iou(np.concatenate(boxes, axis=0), np.array(gt_boxes))
        idx, sliced = 0, []
        for nr_box in number_of_box_list:
            sliced.append(max(multiple_iou.max(1)[idx:idx + nr_box]))
            idx += nr_box
        for s in self.iou_threshold_list:
            self.num_correct[s][np.where(np.asarray(sliced) >= (s / 100))[0]] += 1
        self.cnt += 1

    def compute(self):
        return [(self.num_correct[s] * 100. / float(self.cnt)).max() for s in self.iou_threshold_list]


class MaskEvaluator:
    def __init__(self, cam_threshold_list):
        self.edges = cam_threshold_list + [1.0, 2.0, 3.0]
        self.gt_true = np.zeros(len(cam_threshold_list) + 2, dtype=float)
        self.gt_false = np.zeros(len(cam_threshold_list) + 2, dtype=float)

    def accumulate(self, scoremap, gt_mask):
        self.gt_true += np.histogram(scoremap[gt_mask == 1], bins=self.edges)[0].astype(float)
        self.gt_false += np.histogram(scoremap[gt_mask == 0], bins=self.edges)[0].astype(float)

    def compute(self):
        tp = self.gt_true[::-1].cumsum()
        fn = self.gt_true.sum() - tp
        fp = self.gt_false[::-1].cumsum()
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = tp / (tp + fp)
        recall = tp / (tp + fn)
        return 100 * (precision[1:] * np.diff(recall))[~np.isnan(precision[1:])].sum()


def check_scoremap(scoremap, image_id):
    if scoremap.ndim != 2 or np.isnan(scoremap).any() or scoremap.min() < 0 or scoremap.max() > 1:
        raise ValueError(f"image {image_id}: invalid score map")


def evaluate_wsol(scoremap_root, metadata_root, mask_root, dataset_name, split, multi_contour_eval,
                  multi_iou_eval, iou_threshold_list, cam_curve_interval=0.001, resize_size=RESIZE_LENGTH):
    """Evaluates a split; returns fcam-eval's JSON fields. `resize_size` is the side of the
    score maps that boxes are scaled to (the reference's 224; fcam-eval's --resize_size)."""
    ids, sizes, boxes, masks, ignore = load_metadata(os.path.join(metadata_root, dataset_name, split))
    thresholds = list(np.arange(0, 1, cam_curve_interval))
    result = {"dataset": dataset_name, "split": split, "num_images": len(ids),
              "cam_curve_interval": cam_curve_interval, "multi_contour_eval": multi_contour_eval,
              "multi_iou_eval": multi_iou_eval}
    if dataset_name == "OpenImages":
        evaluator = MaskEvaluator(thresholds)
        for i in ids:
            scoremap = np.load(os.path.join(scoremap_root, i + ".npy"))
            check_scoremap(scoremap, i)
            evaluator.accumulate(scoremap, get_mask(os.path.join(mask_root, "OpenImages"), masks[i], ignore.get(i)))
        result["pxap"] = result["performance"] = evaluator.compute()
        return result
    evaluator = BoxEvaluator(thresholds, iou_threshold_list, multi_contour_eval)
    for i in ids:
        scoremap = np.load(os.path.join(scoremap_root, i + ".npy"))
        check_scoremap(scoremap, i)
        gt = [resize_bbox(b, sizes[i], (resize_size, resize_size)) for b in boxes[i]]
        evaluator.accumulate(scoremap, gt)
    acc = evaluator.compute()
    result["iou_threshold_list"] = iou_threshold_list
    result["max_box_acc"] = {str(s): a for s, a in zip(iou_threshold_list, acc)}
    result["performance"] = float(np.average(acc)) if multi_iou_eval else acc[iou_threshold_list.index(50)]
    if multi_iou_eval and multi_contour_eval:
        result["max_box_acc_v2"] = result["performance"]
    return result


def str2bool(v):
    if v.lower() in ("yes", "true", "t", "y", "1"):
        return True
    if v.lower() in ("no", "false", "f", "n", "0"):
        return False
    raise argparse.ArgumentTypeError("Boolean value expected.")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scoremap_root", default="train_log/scoremaps/")
    parser.add_argument("--metadata_root", default="metadata/")
    parser.add_argument("--mask_root", default="dataset/")
    parser.add_argument("--dataset_name", required=True)
    parser.add_argument("--split", required=True)
    parser.add_argument("--cam_curve_interval", type=float, default=0.001)
    parser.add_argument("--multi_contour_eval", type=str2bool, nargs="?", const=True, default=False)
    parser.add_argument("--multi_iou_eval", type=str2bool, nargs="?", const=True, default=False)
    parser.add_argument("--iou_threshold_list", nargs="+", type=int, default=[30, 50, 70])
    parser.add_argument("--resize_size", type=int, default=RESIZE_LENGTH)
    args = parser.parse_args()
    print(json.dumps(evaluate_wsol(**vars(args))))


if __name__ == "__main__":
    main()
