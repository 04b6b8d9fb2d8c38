"""Each loss on a hand-computed case, ignore handling, and how CompositeLoss combines main, extra, aux and model terms."""

from __future__ import annotations

import math

import pytest
import torch

from prove_lightning.config import compose, instantiate
from prove_lightning.losses import Boundary, CompositeLoss, CrossEntropy, Focal, Lovasz

IGN = 255


def logits_from_probs(probs: list[list[float]]) -> torch.Tensor:
    """(pixels x classes) probabilities -> (1, C, 1, P) logits whose softmax gives them back."""
    p = torch.tensor(probs, dtype=torch.float64)
    return p.log().T.reshape(1, p.shape[1], 1, p.shape[0]).float()


def test_cross_entropy_hand_case_ignores_255() -> None:
    logits = logits_from_probs([[0.25, 0.75], [0.6, 0.4], [0.5, 0.5]])
    label = torch.tensor([[[1, 0, IGN]]])
    expected = -(math.log(0.75) + math.log(0.6)) / 2
    assert CrossEntropy()(logits, label).item() == pytest.approx(expected, rel=1e-5)


def test_lovasz_hand_case() -> None:
    # class 0: errors sorted (0.4 bg, 0.2 fg) -> jaccard grads (0.5, 0.5) -> 0.3; class 1: (0.4 fg, 0.2 bg) -> (1, 0) -> 0.4
    logits = logits_from_probs([[0.8, 0.2], [0.4, 0.6], [0.1, 0.9]])
    label = torch.tensor([[[0, 1, IGN]]])
    assert Lovasz()(logits, label).item() == pytest.approx(0.35, rel=1e-5)


def test_focal_hand_case() -> None:
    # logits 0 -> sigmoid 0.5 for both classes: each class term = alpha_t * (1 - 0.5)^2 * ln 2 with alpha_t = 0.5
    logits = torch.zeros(1, 2, 1, 2)
    logits[0, :, 0, 1] = torch.tensor([5.0, -3.0])  # an ignored pixel: must not count
    label = torch.tensor([[[0, IGN]]])
    assert Focal(alpha=0.5, gamma=2.0, normalize="valid")(logits, label).item() == pytest.approx(0.125 * math.log(2), rel=1e-5)


def test_boundary_hand_case_with_ignore_neighbour() -> None:
    # 1 x 4 image, labels 0 0 1 ignore; p(class 0) = .9 .7 .2 (then 0.0 at the ignored pixel)
    a = [0.9, 0.7, 0.2, 0.0]
    logits = logits_from_probs([[x, 1 - x] if x > 0 else [1e-6, 1 - 1e-6] for x in a])
    label = torch.tensor([[[0, 0, 1, IGN]]])
    loss = Boundary(kernel_size=3)
    target, valid = loss.targets(label, 2)
    assert target[0, 0].tolist() == [False, True, True, False] and valid[0, 0].tolist() == [True, True, True, False]
    # predicted edge = max - min of p over labelled 3-neighbourhood: |.9-.7|, .9-.2, |.7-.2| (the ignored pixel is no neighbour)
    expected = -(math.log(1 - 0.2) + math.log(0.7) + math.log(0.5)) / 3
    assert loss(logits, label).item() == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("term", [CrossEntropy(), Lovasz(), Focal(), Boundary()], ids=["ce", "lovasz", "focal", "boundary"])
def test_all_ignored_batch_gives_zero_with_gradient(term: torch.nn.Module) -> None:
    logits = torch.randn(2, 19, 8, 8, requires_grad=True)
    value = term(logits, torch.full((2, 8, 8), IGN))
    assert value.item() == 0.0 and not torch.isnan(value)
    value.backward()
    assert logits.grad is not None and torch.all(logits.grad == 0)


@pytest.mark.parametrize("term", [CrossEntropy(), Lovasz(), Focal(), Boundary()], ids=["ce", "lovasz", "focal", "boundary"])
def test_losses_prefer_the_right_answer(term: torch.nn.Module) -> None:
    label = torch.zeros(1, 8, 8, dtype=torch.long)
    label[:, :, 4:] = 1
    good = torch.nn.functional.one_hot(label, 3).permute(0, 3, 1, 2).float() * 8
    no_edge = torch.nn.functional.one_hot(torch.zeros_like(label), 3).permute(0, 3, 1, 2).float() * 8  # one class everywhere
    assert term(good, label) < term(no_edge, label)


def test_composite_adds_weighted_extra_and_aux_terms() -> None:
    ce, lov = CrossEntropy(), Lovasz()
    comp = CompositeLoss(ce, {"lovasz": {"term": lov, "weight": 0.3}}, aux_weight=0.4)
    out, aux = torch.randn(2, 19, 8, 8), torch.randn(2, 19, 8, 8)
    label = torch.randint(0, 19, (2, 8, 8))
    terms = comp({"out": out, "aux": aux}, label)
    assert terms["main"] == pytest.approx(ce(out, label).item())
    assert terms["lovasz"] == pytest.approx(0.3 * lov(out, label).item())
    assert terms["aux_head"] == pytest.approx(0.4 * ce(aux, label).item())
    assert terms["loss"] == pytest.approx((terms["main"] + terms["lovasz"] + terms["aux_head"]).item())


@pytest.mark.parametrize("main_with_model_loss", [False, True])
def test_composite_with_a_model_criterion_keeps_the_extra_terms(main_with_model_loss: bool) -> None:
    """Mask2Former-style outputs: the net's own terms are added, extra terms still apply to 'out' (never dropped)."""
    out = torch.randn(1, 19, 8, 8)
    label = torch.randint(0, 19, (1, 8, 8))
    comp = CompositeLoss(Lovasz(), {"focal": {"term": Focal(), "weight": 0.3}}, main_with_model_loss=main_with_model_loss)
    terms = comp({"out": out, "model_losses": lambda lab: {"m2f_class": lab.float().mean() * 0 + 2.0}}, label)
    assert terms["m2f_class"] == 2.0
    assert terms["focal"] == pytest.approx(0.3 * Focal()(out, label).item())
    assert ("main" in terms) is main_with_model_loss


@pytest.mark.parametrize(
    "name,main,extra,main_with_model_loss",
    [
        ("ce", "CrossEntropy", {}, False),
        ("lovasz", "Lovasz", {}, True),
        ("focal", "Focal", {}, True),
        ("boundary", "Boundary", {}, True),
        ("aux_lovasz", "CrossEntropy", {"lovasz": ("Lovasz", 0.3)}, False),
        ("aux_focal", "CrossEntropy", {"focal": ("Focal", 0.3)}, False),
        ("aux_boundary", "CrossEntropy", {"boundary": ("Boundary", 0.3)}, False),
    ],
)
def test_loss_configs_build_what_their_names_say(name: str, main: str, extra: dict, main_with_model_loss: bool, tmp_path) -> None:
    cfg = compose("train", [f"loss={name}", f"paths.output_root={tmp_path}"])
    fn = instantiate(cfg.loss.fn)
    assert type(fn.main).__name__ == main and fn.main_with_model_loss is main_with_model_loss
    assert {k: (type(v).__name__, fn.weights[k]) for k, v in fn.extra.items()} == extra
    assert fn.main.ignore_index == 255 and all(t.ignore_index == 255 for t in fn.extra.values())
    suffix = "" if name == "ce" else f"_{name}"
    assert cfg.run_relpath.endswith(f"/{cfg.model.name}{suffix}")
