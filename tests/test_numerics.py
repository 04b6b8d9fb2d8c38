"""Issue 11's numerical details, each against a case computed by hand (values in the comments)."""

from __future__ import annotations

import math

import pytest
import torch

from prove_lightning.data.labels import IGNORE_INDEX as IGN
from prove_lightning.losses import Focal, Lovasz
from prove_lightning.optim import build_scheduler, warmup_poly_factor


def test_lovasz_per_image_skips_an_all_ignore_image() -> None:
    # image 0: labels (0, 1), logits 0 -> p = 0.5 everywhere: per class errors (0.5, 0.5) -> loss 0.5 (either sort order)
    # image 1: all ignore -> no term; image 2: labels (0, 0), logits +-20 -> p0 = 1: loss 0
    # per-image mean over the images with labels: (0.5 + 0) / 2 = 0.25 (smp's own per_image loop raised here)
    logits = torch.zeros(3, 2, 1, 2)
    logits[2, 0], logits[2, 1] = 20.0, -20.0
    label = torch.tensor([[[0, 1]], [[IGN, IGN]], [[0, 0]]])
    assert Lovasz(per_image=True)(logits, label).item() == pytest.approx(0.25, abs=1e-6)
    assert Lovasz(per_image=True)(logits[:1], label[:1]).item() == pytest.approx(0.5, abs=1e-6)
    all_ignore = Lovasz(per_image=True)(logits[1:2].requires_grad_(), label[1:2])
    assert all_ignore.item() == 0.0 and all_ignore.requires_grad


def test_focal_offers_mmseg_and_valid_pixel_normalisation() -> None:
    # logits 0 -> sigmoid 0.5: every (labelled pixel, class) term = 0.5 * 0.25 * ln 2 = 0.125 ln 2
    # 1 labelled + 3 ignored pixels, 2 classes: valid = 0.125 ln 2; all (MMSeg: sum / (N_all x C)) = 2 x 0.125 ln 2 / 8
    logits = torch.zeros(1, 2, 2, 2)
    logits[0, :, 1, :] = 7.0  # ignored pixels: no effect on either
    label = torch.tensor([[[0, IGN], [IGN, IGN]]])
    t = 0.125 * math.log(2)
    assert Focal(normalize="valid")(logits, label).item() == pytest.approx(t, rel=1e-6)
    assert Focal(normalize="all")(logits, label).item() == pytest.approx(t / 4, rel=1e-6)
    assert Focal()(logits, label).item() == pytest.approx(t / 4, rel=1e-6)  # MMSeg's is the default
    with pytest.raises(ValueError, match="normalize"):
        Focal(normalize="pixels")


# W = 10 warmup steps from r = 0.1, M = 100 steps, power 0.9, min_lr ratio m = 0.01
W, M, R, P, MIN = 10, 100, 0.1, 0.9, 0.01


@pytest.mark.parametrize(
    ("step", "mmengine", "prove"),
    [
        (0, 0.1, 0.1),
        (5, 0.1 + 0.9 * 5 / 9, 0.1 + 0.9 * 5 / 10),
        (9, 1.0, 0.1 + 0.9 * 9 / 10),  # MMEngine's LinearLR(end=10) is at 1 on its last step, 9
        (10, 1.0, 1.0),
        (55, MIN + (1 - MIN) * (1 - 45 / 89) ** P, MIN + (1 - MIN) * (1 - 45 / 90) ** P),
        (99, MIN, MIN + (1 - MIN) * (1 / 90) ** P),  # PolyLR(end=100) reaches eta_min on the last trained step, 99
        (100, MIN, MIN),
    ],
)
def test_warmup_poly_boundary_steps(step: int, mmengine: float, prove: float) -> None:
    assert warmup_poly_factor(step, M, W, R, P, MIN) == pytest.approx(mmengine, rel=1e-12)
    assert warmup_poly_factor(step, M, W, R, P, MIN, convention="prove") == pytest.approx(prove, rel=1e-12)


def test_scheduler_lr_at_the_boundary_steps_as_lightning_steps_it() -> None:
    # Lightning (interval=step) calls scheduler.step() after each optimizer step: the LR used at step t is after t calls
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [p], "lr": 2.0, "initial_lr": 2.0}], lr=2.0)
    sched = build_scheduler(opt, {"warmup_steps": W, "warmup_ratio": R, "power": P, "min_lr": 2.0 * MIN}, M, 2.0)
    used = {}
    for t in range(M):
        used[t] = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
    assert used[0] == pytest.approx(0.2) and used[W - 1] == pytest.approx(2.0) and used[W] == pytest.approx(2.0)
    assert used[M - 1] == pytest.approx(2.0 * MIN) and used[M - 2] == pytest.approx(2.0 * (MIN + (1 - MIN) * (1 / 89) ** P))
