#!/usr/bin/python3
"""ResNet-WSOL F-CAM models built in PyTorch (torchvision's ResNets with docs/method.md §2's changes and
a U-Net decoder written here from docs/method.md §3), for tests/test_models.cpp.

Usage: /usr/bin/python3 tests/models_reference.py OUT_DIR
For each case writes OUT_DIR/<case>_weights.safetensors (the state dict under fcam's names:
encoder.*, classification_head.fc.*, decoder.blocks.I.conv{1,2}.{0,1}.*, segmentation_head.0.*)
and OUT_DIR/<case>_io.safetensors (input, the six encoder stages, logits, F-CAM logits, and the
CAM methods' normalised full-size maps for cam_classes, with gradients from autograd). Random
weights and randomised BatchNorm statistics, eval mode, float32.
"""
import os
import subprocess
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from pt2safetensors import write_safetensors as write  # noqa: E402


def conv_bn_relu(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class Block(nn.Module):
    def __init__(self, cin, skip, cout):
        super().__init__()
        self.conv1 = conv_bn_relu(cin + skip, cout)
        self.conv2 = conv_bn_relu(cout, cout)

    def forward(self, x, skip):
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        if skip is not None:
            if x.shape[-2:] != skip.shape[-2:]:
                x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=True)
            x = torch.cat([x, skip], dim=1)
        return self.conv2(self.conv1(x))


class Decoder(nn.Module):
    def __init__(self, stage_channels, widths, center=False):
        super().__init__()
        skips = list(reversed(stage_channels[1:-1])) + [0] * len(widths)
        ins = [stage_channels[-1]] + widths[:-1]
        if center:
            c = stage_channels[-1]
            self.center = nn.Sequential(conv_bn_relu(c, c), conv_bn_relu(c, c))
        self.blocks = nn.ModuleList([Block(i, s, w) for i, s, w in zip(ins, skips, widths)])

    def forward(self, stages):
        skips = list(reversed(stages[1:-1])) + [None] * len(self.blocks)
        h = self.center(stages[-1]) if hasattr(self, "center") else stages[-1]
        for block, skip in zip(self.blocks, skips):
            h = block(h, skip)
        return h


class Head(nn.Module):
    def __init__(self, channels, classes):
        super().__init__()
        self.fc = nn.Linear(channels, classes)

    def forward(self, a):
        return self.fc(a.mean(dim=(2, 3)))


class NarrowResNet(torchvision.models.resnet.ResNet):
    """torchvision's ResNet18/34 with another base width: a stem of `width` channels and layer i
    of width·2^i planes (fcam's --base_width; torchvision fixes 64)."""

    def __init__(self, arch, width):
        nn.Module.__init__(self)
        block, layers = torchvision.models.resnet.BasicBlock, {"resnet18": [2, 2, 2, 2], "resnet34": [3, 4, 6, 3]}[arch]
        self._norm_layer, self.inplanes, self.dilation, self.groups, self.base_width = nn.BatchNorm2d, width, 1, 1, 64
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1, self.relu, self.maxpool = nn.BatchNorm2d(width), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, 2 * width, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 4 * width, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 8 * width, layers[3], stride=2)
        self.fc = nn.Identity()


class FcamResNet(nn.Module):
    def __init__(self, arch, classes, base_width=64):
        super().__init__()
        self.encoder = getattr(torchvision.models, arch)() if base_width == 64 else NarrowResNet(arch, base_width)
        for layer in (self.encoder.layer3, self.encoder.layer4):  # WSOL: stride 1, no dilation
            block = layer[0]
            (block.conv2 if arch == "resnet50" else block.conv1).stride = (1, 1)
            block.downsample[0].stride = (1, 1)
        del self.encoder.fc
        expansion = 4 if arch == "resnet50" else 1
        stage_channels = [3, base_width] + [base_width * 2 ** i * expansion for i in range(4)]
        self.classification_head = Head(stage_channels[-1], classes)
        self.decoder = Decoder(stage_channels, [max(1, w * base_width // 64) for w in [256, 128, 64, 32, 16]])
        self.segmentation_head = nn.Sequential(nn.Conv2d(max(1, 16 * base_width // 64), 2, 3, padding=1))

    def stages(self, x):
        e = self.encoder
        out = [x, e.relu(e.bn1(e.conv1(x)))]
        h = e.maxpool(out[-1])
        for layer in (e.layer1, e.layer2, e.layer3, e.layer4):
            h = layer(h)
            out.append(h)
        return out

    def forward(self, x):
        stages = self.stages(x)
        seg = self.segmentation_head(self.decoder(stages))
        if seg.shape[-2:] != x.shape[-2:]:
            seg = F.interpolate(seg, size=x.shape[-2:], mode="bilinear", align_corners=True)
        return stages, self.classification_head(stages[-1]), seg


class FcamMobileNetV2(FcamResNet):
    """torchvision's MobileNetV2 features as fcam's MobileNetV2-WSOL runs them: BatchNorm folded
    away (a bias on every convolution, as in the TensorFlow-trained weights), stages after
    features.1, .3, .6, .13 and .18, the ResNets' five decoder blocks. For timing: torchvision pads
    its stride-2 convolutions symmetrically, fcam "SAME" (asymmetric); the work is the same."""

    def __init__(self, classes):
        nn.Module.__init__(self)
        self.encoder = torchvision.models.mobilenet_v2().features
        for module in self.encoder.modules():
            for name, child in module.named_children():
                if isinstance(child, nn.BatchNorm2d):
                    setattr(module, name, nn.Identity())
                elif isinstance(child, nn.Conv2d) and child.bias is None:
                    child.bias = nn.Parameter(torch.zeros(child.out_channels))
        stage_channels = [3, 16, 24, 32, 96, 1280]
        self.classification_head = Head(1280, classes)
        self.decoder = Decoder(stage_channels, [256, 128, 64, 32, 16])
        self.segmentation_head = nn.Sequential(nn.Conv2d(16, 2, 3, padding=1))

    def stages(self, x):
        out, h = [x], x
        for i, layer in enumerate(self.encoder):
            h = layer(h)
            if i in (1, 3, 6, 13, 18):
                out.append(h)
        return out


class VggEncoder(nn.Module):
    """torchvision's VGG16 features with pool4 and pool5 replaced by identities (indices kept),
    then conv6 3×3 512→1024 + ReLU."""

    def __init__(self):
        super().__init__()
        self.features = torchvision.models.vgg16().features
        self.features[23] = nn.Identity()
        self.features[30] = nn.Identity()
        self.conv6 = nn.Conv2d(512, 1024, 3, padding=1)


class FcamVgg(FcamResNet):
    def __init__(self, classes):
        nn.Module.__init__(self)
        self.encoder = VggEncoder()
        self.classification_head = Head(1024, classes)
        self.decoder = Decoder([64, 128, 256, 1024], [256, 128, 64], center=True)
        self.segmentation_head = nn.Sequential(nn.Conv2d(64, 2, 3, padding=1))

    def stages(self, x):
        out, h = [], x
        for i, layer in enumerate(self.encoder.features):
            h = layer(h)
            if i in (3, 8, 15):  # ReLUs after conv1_2, conv2_2, conv3_3
                out.append(h)
        out.append(F.relu(self.encoder.conv6(h)))
        return out


class InceptionEncoder(nn.Module):
    """torchvision's InceptionV3 up to Mixed_6e with docs/method.md §2.5's WSOL changes, then the two
    added blocks (same attribute names as fcam's)."""

    def __init__(self):
        super().__init__()
        tv = torchvision.models.inception_v3(aux_logits=False, init_weights=False)
        names = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3", "Mixed_5b",
                 "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"]
        for name in names:
            setattr(self, name, getattr(tv, name))
        for conv in (self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_4a_3x3):
            conv.conv.padding = (1, 1)
        for conv in (self.Mixed_6a.branch3x3, self.Mixed_6a.branch3x3dbl_3):
            conv.conv.stride, conv.conv.padding = (1, 1), (1, 1)
        m6a = self.Mixed_6a

        def mixed_6a(x):  # its pool branch: 3×3 stride 1 padding 1
            b3 = m6a.branch3x3(x)
            bd = m6a.branch3x3dbl_3(m6a.branch3x3dbl_2(m6a.branch3x3dbl_1(x)))
            return torch.cat([b3, bd, F.max_pool2d(x, 3, 1, 1, ceil_mode=True)], 1)
        m6a.forward = mixed_6a
        self.SPG_A3_1b = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(768, 1024, 3, padding=1), nn.ReLU())
        self.SPG_A3_2b = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(1024, 1024, 3, padding=1), nn.ReLU())


class FcamInception(FcamResNet):
    def __init__(self, classes):
        nn.Module.__init__(self)
        self.encoder = InceptionEncoder()
        self.classification_head = Head(1024, classes)
        self.decoder = Decoder([3, 64, 80, 288, 768, 1024], [256, 128, 64, 32, 16])
        self.segmentation_head = nn.Sequential(nn.Conv2d(16, 2, 3, padding=1))

    def stages(self, x):
        e = self.encoder

        def pool(h):
            return F.max_pool2d(h, 3, 2, 1, ceil_mode=True)
        out = [x]
        h = e.Conv2d_2b_3x3(e.Conv2d_2a_3x3(e.Conv2d_1a_3x3(x)))
        out.append(h)
        h = e.Conv2d_3b_1x1(pool(h))
        out.append(h)
        h = e.Mixed_5c(e.Mixed_5b(pool(e.Conv2d_4a_3x3(h))))
        out.append(h)
        h = e.Mixed_6e(e.Mixed_6d(e.Mixed_6c(e.Mixed_6b(e.Mixed_6a(e.Mixed_5d(h))))))
        out.append(h)
        out.append(e.SPG_A3_2b(e.SPG_A3_1b(h)))
        return out


def randomise(model, gen):
    """Weights U(±sqrt(3/fan_in)) (unit-variance products), BatchNorm affine and statistics
    random around identity, so every stage carries O(1) values."""
    def u(shape, lo, hi):
        return torch.rand(shape, generator=gen) * (hi - lo) + lo

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(u(m.weight.shape, 0.75, 1.25))
                m.bias.copy_(u(m.bias.shape, -0.1, 0.1))
                m.running_mean.copy_(u(m.running_mean.shape, -0.1, 0.1))
                m.running_var.copy_(u(m.running_var.shape, 0.75, 1.25))
            elif isinstance(m, (nn.Conv2d, nn.Linear)):
                bound = (3.0 / m.weight[0].numel()) ** 0.5
                m.weight.copy_(u(m.weight.shape, -bound, bound))
                if m.bias is not None:
                    m.bias.copy_(u(m.bias.shape, -0.1, 0.1))


def cam_maps(model, stages, classes, size):
    """docs/method.md §4's maps with g = ∂logit_c/∂A from autograd, min-max normalised, bilinear
    (align_corners false) to `size`."""
    a = stages[-1].detach().requires_grad_(True)
    logits = model.classification_head(a)
    grads = torch.stack([torch.autograd.grad(logits[b, c], a, retain_graph=True)[0][b] for b, c in enumerate(classes)])
    a = a.detach()
    w_fc = model.classification_head.fc.weight.detach()[classes]  # N×C
    sum_a = a.sum(dim=(2, 3), keepdim=True)
    g2, g3 = grads ** 2, grads ** 3
    den = 2 * g2 + sum_a * g3
    alpha_paper = torch.where(den != 0, g2 / torch.where(den != 0, den, torch.ones_like(den)), torch.zeros_like(den))
    maps = {
        "cam": (w_fc[:, :, None, None] * a).sum(1),
        "gradcam": F.relu((grads.mean(dim=(2, 3), keepdim=True) * a).sum(1)),
        "gradcampp": F.relu(((alpha_paper * F.relu(grads)).sum(dim=(2, 3), keepdim=True) * a).sum(1)),
        "gradcampp_reference": F.relu(((g2 * F.relu(grads)).sum(dim=(2, 3), keepdim=True) * a).sum(1)),
        "xgradcam": F.relu((torch.where(sum_a != 0, (grads * a).sum(dim=(2, 3), keepdim=True) / sum_a,
                                        torch.zeros_like(sum_a)) * a).sum(1)),
        "layercam": F.relu((F.relu(grads) * a).sum(1)),
    }
    out = {}
    for name, m in maps.items():
        m = m - m.amin(dim=(1, 2), keepdim=True)
        m = torch.nan_to_num(m / m.amax(dim=(1, 2), keepdim=True))
        out["cam_" + name] = F.interpolate(m[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
    return out


def write_safetensors(path, tensors):
    """float32 safetensors via tools/pt2safetensors.py's writer (integer buffers stay I64)."""
    write(path, {k: v if not v.is_floating_point() else v.to(torch.float32) for k, v in tensors.items()})


def torchvision_checkpoint(model, gen, out):
    """The encoder as a torchvision ImageNet checkpoint (its own 1000-class fc, names without
    'encoder.'), saved the way training scripts do (a checkpoint dict, DataParallel 'module.'
    names) and converted by tools/pt2safetensors.py; plus two broken variants for the errors."""
    state = {k: v for k, v in model.encoder.state_dict().items()}
    state["fc.weight"] = torch.rand(1000, 512, generator=gen)
    state["fc.bias"] = torch.rand(1000, generator=gen)
    pth = os.path.join(out, "resnet18_torchvision.pth")
    torch.save({"epoch": 90, "state_dict": {"module." + k: v for k, v in state.items()}}, pth)
    tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "pt2safetensors.py")
    subprocess.run([sys.executable, tool, pth, os.path.join(out, "resnet18_torchvision.safetensors")], check=True)
    os.remove(pth)  # converted: the tests read the safetensors file only
    missing = {k: v for k, v in state.items() if k != "layer1.0.conv1.weight"}
    write_safetensors(os.path.join(out, "resnet18_torchvision_missing.safetensors"), missing)
    write_safetensors(os.path.join(out, "resnet18_torchvision_extra.safetensors"),
                      dict(state, **{"layer5.0.conv1.weight": torch.zeros(1)}))


def reference_checkpoint(model, arch, out):
    """The model saved the way the reference F-CAM code names it: its VGG and Inception encoders
    hold the same modules in two containers ('features' and 'full_features' / the named blocks),
    so PyTorch's state_dict() writes those tensors under every alias. Converted with
    tools/pt2safetensors.py. tests/test_models.cpp derives the broken variants (aliases that
    disagree, a missing name, an extra name) from it one at a time: full-size copies here would
    take a gigabyte of disk."""
    enc = model.encoder
    ref = nn.Module()
    if arch == "vgg16":  # the reference builds features without pool4 / pool5: block 5 at 23, 25, 27
        layers = [m for i, m in enumerate(enc.features) if i not in (23, 30)]
        ref.features = nn.Sequential(*layers)
        ref.conv6 = enc.conv6
        ref.relu = nn.ReLU()
        ref.full_features = nn.Sequential(*layers, enc.conv6, ref.relu)
    else:
        blocks = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "pool", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
                  "pool", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                  "Mixed_6e", "SPG_A3_1b", "SPG_A3_2b"]
        for name in blocks:
            if name != "pool":
                setattr(ref, name, getattr(enc, name))
        ref.features = nn.Sequential(*[nn.MaxPool2d(3, 2, 1, ceil_mode=True) if name == "pool" else getattr(enc, name)
                                       for name in blocks])
    state = {"encoder." + k: v for k, v in ref.state_dict().items()}
    state.update({k: v for k, v in model.state_dict().items() if not k.startswith("encoder.")})
    pth = os.path.join(out, f"{arch}_reference.pth")
    torch.save({"state_dict": state}, pth)
    tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "pt2safetensors.py")
    subprocess.run([sys.executable, tool, pth, os.path.join(out, f"{arch}_reference.safetensors")], check=True,
                   stdout=subprocess.DEVNULL)
    os.remove(pth)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    for case, arch, classes, shape in [("resnet50", "resnet50", 200, (2, 3, 64, 64)),
                                       ("resnet18", "resnet18", 10, (1, 3, 70, 58)),
                                       ("vgg16", "vgg16", 20, (1, 3, 64, 48)),
                                       ("inceptionv3", "inceptionv3", 30, (1, 3, 64, 72))]:
        model = {"vgg16": FcamVgg, "inceptionv3": FcamInception}.get(arch, lambda c: FcamResNet(arch, c))(classes)
        randomise(model, gen)
        model.eval()
        x = torch.randn(shape, generator=gen)
        with torch.no_grad():
            stages, logits, seg = model(x)
        write_safetensors(os.path.join(out, f"{case}_weights.safetensors"), dict(model.state_dict()))
        io = {"input": x, "logits": logits, "segmentation": seg}
        io.update({f"stage{i}": s for i, s in enumerate(stages)})
        classes_used = [int(logits[b].argmax()) if b % 2 == 0 else (b * 7) % classes for b in range(shape[0])]
        io["cam_classes"] = torch.tensor(classes_used, dtype=torch.float32)
        io.update(cam_maps(model, stages, classes_used, shape[2:]))
        # Smooth-GradCAM++: 4 noisy passes (noise saved for fcam), α averaged, the last pass's
        # A and ReLU(g) (gradients from autograd).
        noise = [torch.randn(shape, generator=gen) * 0.3 for _ in range(4)]
        alphas, last = [], None
        for k, eps in enumerate(noise):
            io[f"sgcampp_noise{k}"] = eps
            a = model.stages(x + eps)[-1].detach().requires_grad_(True)
            logits_p = model.classification_head(a)
            g = torch.stack([torch.autograd.grad(logits_p[b, c], a, retain_graph=True)[0][b]
                             for b, c in enumerate(classes_used)])
            den = 2 * g ** 2 + a.detach().sum(dim=(2, 3), keepdim=True) * g ** 3
            alphas.append(torch.where(den != 0, g ** 2 / torch.where(den != 0, den, torch.ones_like(den)),
                                      torch.zeros_like(den)))
            last = (a.detach(), g)
        a, g = last
        m = F.relu(((torch.stack(alphas).mean(0) * F.relu(g)).sum(dim=(2, 3), keepdim=True) * a).sum(1))
        m = m - m.amin(dim=(1, 2), keepdim=True)
        m = torch.nan_to_num(m / m.amax(dim=(1, 2), keepdim=True))
        io["cam_sgcampp"] = F.interpolate(m[:, None], size=shape[2:], mode="bilinear", align_corners=False)[:, 0]
        write_safetensors(os.path.join(out, f"{case}_io.safetensors"), io)
        if case == "resnet18":
            torchvision_checkpoint(model, gen, out)
        if case in ("vgg16", "inceptionv3"):
            reference_checkpoint(model, arch, out)
        if case == "vgg16":  # torchvision's VGG16 names: features.N and its classifier, no conv6
            state = {k: v for k, v in model.encoder.state_dict().items() if k.startswith("features.")}
            state["classifier.6.bias"] = torch.rand(1000, generator=gen)  # ignored on import
            torch.save(state, os.path.join(out, "vgg16_torchvision.pth"))
            tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "pt2safetensors.py")
            subprocess.run([sys.executable, tool, os.path.join(out, "vgg16_torchvision.pth"),
                            os.path.join(out, "vgg16_torchvision.safetensors")], check=True)
            os.remove(os.path.join(out, "vgg16_torchvision.pth"))
        print(f"{case}: logits {tuple(logits.shape)}, segmentation {tuple(seg.shape)}, "
              f"stages {[tuple(s.shape[1:]) for s in stages]}")
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")


if __name__ == "__main__":
    main()
