#!/usr/bin/python3
"""Reference values for F-CAM's stage-2 losses (docs/method.md §5) and its SGD (§6.2), independent of fcam: Otsu
thresholds from skimage.filters.threshold_otsu, 11×11 erosions from scipy.ndimage (outside =
foreground), the lowest-CAM background sets from a stable numpy argsort, the partial
cross-entropy from torch (ignore_index, mean over labelled pixels) and the log-barrier size loss
written in torch, with gradients from autograd; torch.optim.SGD parameter trajectories.

Usage: /usr/bin/python3 tests/losses_reference.py OUT_DIR  (writes OUT_DIR/losses.safetensors)
"""
import json
import math
import os
import sys

import numpy as np
import scipy.ndimage
import skimage.filters
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from pt2safetensors import write_safetensors  # noqa: E402


def cam_like(rng, h, w, kind):
    yy, xx = np.mgrid[0:h, 0:w]
    if kind == "blob":
        cy, cx = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
        m = np.exp(-((yy - cy) ** 2 / (0.05 * h * h) + (xx - cx) ** 2 / (0.08 * w * w))) + 0.15 * rng.random((h, w))
    elif kind == "two_blobs":
        m = (np.exp(-((yy - 0.3 * h) ** 2 + (xx - 0.3 * w) ** 2) / (0.02 * h * w))
             + 0.7 * np.exp(-((yy - 0.7 * h) ** 2 + (xx - 0.6 * w) ** 2) / (0.03 * h * w)))
    elif kind == "noise":
        m = rng.random((h, w))
    elif kind == "thin":  # a foreground that an 11×11 erosion empties
        m = np.zeros((h, w))
        m[h // 2, :] = 1.0
        m[:, w // 3] = 0.8
    elif kind == "edge":  # foreground touching the border (outside counts as foreground)
        m = np.clip(1.0 - xx / (0.4 * w), 0, 1) + 0.05 * rng.random((h, w))
    else:  # narrow range of values
        m = 0.40 + 0.02 * rng.random((h, w))
    m = m - m.min()
    return (m / m.max() if m.max() > 0 else m).astype(np.float32)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    tensors, meta = {}, {}
    cases = []
    for k, (kind, h, w) in enumerate([("blob", 224, 224), ("two_blobs", 64, 80), ("noise", 40, 40), ("thin", 48, 64),
                                      ("edge", 56, 56), ("narrow", 30, 20), ("blob", 17, 23)]):
        cam = cam_like(rng, h, w, kind)
        u8 = (cam * 255).astype(np.uint8)  # truncation, as the reference
        t = int(skimage.filters.threshold_otsu(u8))
        fg = u8 > min(max(t, 1), 254)
        eroded = scipy.ndimage.binary_erosion(fg, structure=np.ones((11, 11), bool), border_value=1)
        n_minus = 0.1
        bottom = np.argsort(cam.ravel(), kind="stable")[: int(math.floor(n_minus * h * w))]
        bg = np.zeros(h * w, np.float32)
        bg[bottom] = 1
        name = f"case{k}"
        tensors[f"{name}.cam"] = torch.from_numpy(cam)
        tensors[f"{name}.candidates_fg"] = torch.from_numpy(fg.astype(np.float32))
        tensors[f"{name}.eroded_fg"] = torch.from_numpy(eroded.astype(np.float32))
        tensors[f"{name}.candidates_bg"] = torch.from_numpy(bg.reshape(h, w))
        cases.append(dict(name=name, kind=kind, otsu=t))
    # Otsu on histograms with ties and gaps (integer images straight from numpy).
    for k, values in enumerate([rng.integers(0, 256, 500), np.r_[np.full(50, 3), np.full(50, 200)],
                                np.r_[np.full(10, 7), np.full(1, 8)], rng.integers(100, 104, 64),
                                np.r_[rng.integers(0, 30, 300), rng.integers(180, 256, 100)]]):
        u8 = values.astype(np.uint8)
        tensors[f"otsu{k}.values"] = torch.from_numpy(u8.astype(np.float32))
        meta[f"otsu{k}"] = str(int(skimage.filters.threshold_otsu(u8)))

    # Partial cross-entropy: 2 images of 2×9×7 logits, labels 0 / 1 / 255.
    logits = torch.randn(2, 2, 9, 7, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2
    labels = torch.from_numpy(rng.choice([0, 1, 255, 255, 255], size=(2, 9, 7))).long()
    alpha = 0.7
    z = logits.clone().requires_grad_(True)
    pce = alpha * F.cross_entropy(z, labels, ignore_index=255, reduction="mean")
    pce.backward()
    tensors["pce.logits"], tensors["pce.labels"] = logits, labels.double()
    tensors["pce.grad"] = z.grad
    meta["pce.value"], meta["pce.alpha"] = repr(float(pce)), repr(alpha)

    # Size loss with the extended log-barrier, written independently in torch.
    def psi(zz, t):
        return torch.where(zz <= -1 / t ** 2, -torch.log(-zz.clamp(max=-1e-30)) / t,
                           t * zz - math.log(1 / t ** 2) / t + 1 / t)
    probs = torch.softmax(torch.randn(3, 2, 5, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 3
                          + torch.tensor([4.0, -4.0], dtype=torch.float64)[None, :, None, None], dim=1)
    tensors["size.probs"] = probs
    for k, t in enumerate([1.0, 1.01 ** 37, 10.0, 0.5]):
        p = probs.clone().requires_grad_(True)
        sizes = p.sum(dim=(2, 3))  # N×2
        loss = 0.1 * 0.5 * (psi(-sizes[:, 0], t).mean() + psi(-sizes[:, 1], t).mean())
        loss.backward()
        meta[f"size{k}.t"], meta[f"size{k}.value"] = repr(t), repr(float(loss))
        tensors[f"size{k}.grad"] = p.grad
    # SGD (torch.optim.SGD, Nesterov, weight decay, two groups with lr factors 1 and 10), then
    # the step schedule on a changing base lr: 5 steps from recorded gradients.
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(4, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, generator=gen, dtype=torch.float64, requires_grad=True)
    tensors["sgd.a0"], tensors["sgd.b0"] = a.detach().clone(), b.detach().clone()
    opt = torch.optim.SGD([{"params": [a], "lr": 0.05}, {"params": [b], "lr": 0.5}], lr=0.05, momentum=0.9,
                          nesterov=True, weight_decay=1e-2)
    for k in range(5):
        ga, gb = torch.randn(4, 3, generator=gen, dtype=torch.float64), torch.randn(5, generator=gen, dtype=torch.float64)
        a.grad, b.grad = ga.clone(), gb.clone()
        if k == 3:  # a schedule step: base lr ×0.1 for both groups
            for g in opt.param_groups:
                g["lr"] *= 0.1
        opt.step()
        tensors[f"sgd.ga{k}"], tensors[f"sgd.gb{k}"] = ga, gb
        tensors[f"sgd.a{k + 1}"], tensors[f"sgd.b{k + 1}"] = a.detach().clone(), b.detach().clone()
    meta["cases"] = json.dumps(cases)
    # Doubles stay F64 so the loss values compare to ~1e-12.
    write_safetensors(os.path.join(out, "losses.safetensors"),
                      {k: v if v.dtype == torch.float64 else v.float() for k, v in tensors.items()}, meta)
    print(f"{len(cases)} sampling cases, Otsu thresholds {[c['otsu'] for c in cases]}, "
          f"skimage {skimage.__version__}, scipy {scipy.__version__}")


if __name__ == "__main__":
    main()
