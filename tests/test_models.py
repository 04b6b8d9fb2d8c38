"""Every model: forward + backward of the tiny variants on CPU at an odd size, the full recipes' facts, Mask2Former's
semantic path, pretrained weights from a local file or the Hugging Face cache vs from scratch, parameter groups and
the LR rule. Full-size networks are checked by config and (where cheap) parameter counts, never trained here."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from prove_lightning.config import compose, instantiate
from prove_lightning.errors import ConfigError

@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny networks: one intra-op thread is as fast on an idle 2-core machine and much faster on a shared one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TINY = ["segformer_b0", "deeplabv3plus_tiny", "pspnet_tiny", "hrnet_tiny", "segnext_tiny", "mask2former_tiny"]
WITH_AUX_HEAD = {"deeplabv3plus_tiny", "pspnet_tiny"}


def model_cfg(model: str, *overrides: str):  # noqa: ANN201
    return compose("train", [f"model={model}", "paths.output_root=/nonexistent", *overrides])


def build(model: str, *overrides: str, seed: int = 0):  # noqa: ANN201
    cfg = model_cfg(model, *overrides)
    torch.manual_seed(seed)
    return cfg, instantiate(cfg.model.net)


def backbone_state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The backbone's own state dict (keys relative to the backbone module), as a pretrained file would hold it."""
    prefix = net.backbone_prefixes[0]
    return {k[len(prefix) :]: v.clone() for k, v in net.state_dict().items() if k.startswith(prefix)}


# ---------------------------------------------------------------------------------------------- tiny variants
@pytest.mark.parametrize("model", TINY)
def test_tiny_model_forward_backward_at_odd_size(model: str) -> None:
    cfg, net = build(model)
    x = torch.randn(2, 3, 65, 97)
    label = torch.randint(0, 19, (2, 65, 97))
    label[:, :4] = 255
    net.train()
    out = net(x)
    assert out["out"].shape == (2, 19, 65, 97)
    assert ("aux" in out) == (model in WITH_AUX_HEAD)
    if "aux" in out:
        assert out["aux"].shape == (2, 19, 65, 97)
    terms = instantiate(cfg.loss.fn)(out, label)
    assert torch.isfinite(terms["loss"])
    terms["loss"].backward()
    backbone = {n for n, _ in net.backbone_parameters()}
    with_grad = {n for n, p in net.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert backbone & with_grad, "no gradient reached the backbone"
    assert (with_grad - backbone), "no gradient reached the head"
    net.eval()
    with torch.no_grad():
        ev = net(x)
    assert set(ev) == {"out"} and ev["out"].shape == (2, 19, 65, 97)


@pytest.mark.parametrize("model", ["pspnet_tiny", "deeplabv3plus_tiny"])
def test_psp_and_deeplab_are_dilated_to_output_stride_8(model: str) -> None:
    _, net = build(model)
    feats = net.model.backbone(torch.randn(1, 3, 64, 64))
    assert len(feats) == 4, "all 4 ResNet stages are used"
    assert [f.shape[-1] for f in feats] == [16, 8, 8, 8]
    assert net.model.aux_head[0][0].in_channels == feats[2].shape[1]  # aux head on layer3


def test_segnext_evaluation_is_repeatable_despite_random_nmf_bases() -> None:
    _, net = build("segnext_tiny")
    net.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(net(x)["out"], net(x)["out"])


# ---------------------------------------------------------------------------------------------- full recipes
def test_full_recipe_configs_state_the_mmseg_settings() -> None:
    seg = model_cfg("segformer_b3").model
    assert seg.net.encoder_name == "mit_b3" and seg.net.decoder_segmentation_channels == 256  # MMSeg's width
    assert (seg.inference.mode, list(seg.inference.crop), list(seg.inference.stride)) == ("slide", [1024, 1024], [768, 768])
    assert (seg.optim.name, seg.lr, seg.optim.weight_decay, seg.optim.head_lr_mult) == ("adamw", 6e-5, 0.01, 10.0)
    assert seg.optim.no_decay_norm and "pos_block" in seg.optim.no_decay_keys and seg.reference_batch_size == 8
    for name in ("deeplabv3plus_r50", "pspnet_r50"):
        m = model_cfg(name).model
        assert m.net.backbone.name == "resnet50c" and m.net.backbone.output_stride == 8 and m.net.aux_head.stage == 2
        assert m.inference.mode == "whole"
        assert (m.optim.name, m.lr, m.optim.momentum, m.optim.weight_decay, m.scheduler.power) == ("sgd", 0.01, 0.9, 5e-4, 0.9)
    dl = model_cfg("deeplabv3plus_r50").model.net
    assert (dl.head.type, list(dl.head.dilations), dl.head.channels, dl.head.c1_channels) == ("aspp_separable", [1, 12, 24, 36], 512, 48)
    psp = model_cfg("pspnet_r50").model.net
    assert (psp.head.type, list(psp.head.pool_scales), psp.head.channels) == ("psp", [1, 2, 3, 6], 512)
    nxt = model_cfg("segnext_b").model
    assert list(nxt.net.embed_dims) == [64, 128, 320, 512] and list(nxt.net.depths) == [3, 3, 12, 3]
    assert nxt.net.head.ham_channels == 512 and nxt.net.head.md_r == 16 and nxt.optim.head_lr_mult == 10.0
    m2f = model_cfg("mask2former_swin_b").model
    assert (m2f.lr, m2f.optim.backbone_lr_mult, m2f.optim.weight_decay, m2f.gradient_clip_val, m2f.batch_size) == (1e-4, 0.1, 0.05, 0.01, 8)
    hr = model_cfg("hrnet_w48").model
    assert hr.net.variant == "hrnet_w48" and hr.optim.name == "sgd"
    for name in ("segformer_b3", "deeplabv3plus_r50", "pspnet_r50", "segnext_b", "mask2former_swin_b", "hrnet_w48"):
        m = model_cfg(name).model
        assert m.pretrained is True and m.scheduler.warmup_steps > 0 and m.reference_batch_size > 0


def test_mask2former_swin_b_config() -> None:
    from prove_lightning.models.mask2former import mask2former_config

    net = model_cfg("mask2former_swin_b").model.net
    c = mask2former_config(19, net.backbone, net.decoder)
    b = c.backbone_config
    assert (b.embed_dim, list(b.depths), list(b.num_heads), b.window_size) == (128, [2, 2, 18, 2], [4, 8, 16, 32], 12)
    assert (c.num_labels, c.num_queries, c.decoder_layers, c.encoder_layers) == (19, 100, 10, 6)
    assert (c.class_weight, c.mask_weight, c.dice_weight, c.no_object_weight) == (2.0, 5.0, 5.0, 0.1)


def test_full_networks_build_with_the_published_sizes() -> None:
    """HRNet-W48's branches (the team's four networks' parameter counts: tests/test_model_sizes.py)."""
    _, hr = build("hrnet_w48", "model.pretrained=false")
    assert hr.model.encoder.feature_info.channels() == [48, 96, 192, 384]


# ---------------------------------------------------------------------------------------------- Mask2Former
def test_mask2former_semantic_output_is_class_times_mask_at_input_size() -> None:
    from prove_lightning.models.mask2former import SCORE_EPS, semantic_scores

    _, net = build("mask2former_tiny")
    net.eval()
    x = torch.randn(1, 3, 64, 96)  # not square: no 384x384 detour
    with torch.no_grad():
        out = net(x)["out"]
        raw = net.model.hf(pixel_values=x)
    masks = F.interpolate(raw.masks_queries_logits, size=(64, 96), mode="bilinear", align_corners=False).sigmoid()
    expected = torch.einsum("bqc,bqhw->bchw", raw.class_queries_logits.softmax(-1)[..., :-1], masks)
    assert torch.allclose(semantic_scores(raw.class_queries_logits, raw.masks_queries_logits, (64, 96)), expected)
    assert torch.allclose(out, expected.clamp_min(SCORE_EPS).log(), atol=1e-5)


def test_semantic_labels_become_one_mask_per_present_class() -> None:
    from prove_lightning.models.mask2former import semantic_to_targets

    label = torch.tensor([[[0, 0, 255], [5, 5, 0]]])
    masks, classes = semantic_to_targets(label, 19)
    assert classes[0].tolist() == [0, 5]
    assert masks[0].tolist() == [[[1, 1, 0], [0, 0, 1]], [[0, 0, 0], [1, 1, 0]]]  # ignore pixel in no mask


@pytest.mark.parametrize("loss,expected", [("ce", {"m2f_class", "m2f_mask", "m2f_dice"}), ("aux_lovasz", {"m2f_class", "m2f_mask", "m2f_dice", "lovasz"}), ("focal", {"m2f_class", "m2f_mask", "m2f_dice", "main"})])
def test_mask2former_trains_with_its_set_loss_and_keeps_extra_terms(loss: str, expected: set[str]) -> None:
    cfg, net = build("mask2former_tiny", f"loss={loss}")
    net.train()
    label = torch.randint(0, 19, (2, 50, 70))
    label[:, -5:] = 255
    terms = instantiate(cfg.loss.fn)(net(torch.randn(2, 3, 50, 70)), label)
    assert set(terms) - {"loss"} == expected
    assert all(torch.isfinite(v) and v > 0 for v in terms.values())


# ---------------------------------------------------------------------------------------------- pretrained
@pytest.mark.parametrize("model", [m for m in TINY if m != "pspnet_tiny"])  # pspnet: same loader as deeplabv3plus
def test_pretrained_loads_the_local_file_and_differs_from_scratch(model: str, tmp_path: Path) -> None:
    _, donor = build(model, seed=1)
    state = backbone_state(donor)
    path = tmp_path / "backbone.pth"
    torch.save(state, path)
    _, loaded = build(model, "model.pretrained=true", f"model.weights_path={path}", seed=2)
    _, scratch = build(model, "model.pretrained=false", seed=2)
    got = backbone_state(loaded)
    assert got.keys() == state.keys()
    assert all(torch.equal(got[k], state[k]) for k in state), "backbone weights differ from the file"
    fresh = backbone_state(scratch)
    random_init = [k for k in state if state[k].is_floating_point() and state[k].numel() > 1 and bool(state[k].max() > state[k].min())]
    assert random_init and not [k for k in random_init if torch.equal(fresh[k], state[k])], "from scratch equals the file"
    # only the backbone was loaded: the head is the same random init as from scratch
    head = [n for n, _ in scratch.named_parameters() if not n.startswith(scratch.backbone_prefixes)]
    sd_loaded, sd_scratch = loaded.state_dict(), scratch.state_dict()
    assert head and all(torch.equal(sd_loaded[n], sd_scratch[n]) for n in head)


def test_pretrained_without_weights_says_which_file_is_expected_where(tmp_path: Path) -> None:
    missing = tmp_path / "resnet50_v1c.pth"
    with pytest.raises(ConfigError) as err:
        build("pspnet_r50", "model.pretrained=true", f"model.weights_path={missing}")
    msg = str(err.value)
    assert str(missing) in msg and "timm/resnet50c.gluon_in1k" in msg and "model.pretrained=false" in msg


def test_pretrained_wrong_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"something.else": torch.zeros(3)}, path)
    with pytest.raises(ConfigError, match="only 0 of the"):
        build("segnext_tiny", "model.pretrained=true", f"model.weights_path={path}")


def test_pretrained_falls_back_to_the_hugging_face_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """timm's cache entry for the backbone, in the hub cache's real layout, is found without network."""
    from huggingface_hub import constants
    from safetensors.torch import save_file

    _, donor = build("hrnet_tiny", seed=1)
    state = {k: v.contiguous() for k, v in backbone_state(donor).items()}
    snapshot = tmp_path / "hub" / "models--timm--hrnet_w18_small.gluon_in1k" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    save_file(state, str(snapshot / "model.safetensors"))
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("a" * 40)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    _, loaded = build("hrnet_tiny", "model.pretrained=true", f"model.weights_path={tmp_path / 'absent.pth'}", seed=2)
    got = backbone_state(loaded)
    assert all(torch.equal(got[k], state[k]) for k in state)


# ---------------------------------------------------------------------------------------------- optimizer and LR
def _groups_by_param(module_cfg_model: str, *overrides: str):  # noqa: ANN202
    from prove_lightning.optim import build_optimizer

    cfg, net = build(module_cfg_model, *overrides)
    opt = build_optimizer(net, dict(cfg.model.optim), 1.0)
    by_id = {id(p): (g["lr"], g["weight_decay"]) for g in opt.param_groups for p in g["params"]}
    return cfg, opt, {n: by_id[id(p)] for n, p in net.named_parameters()}


def test_segformer_param_groups_head_x10_no_decay_on_norms_only() -> None:
    cfg, opt, groups = _groups_by_param("segformer_b0")
    assert groups["model.encoder.patch_embed1.proj.weight"] == (1.0, 0.01)
    assert groups["model.encoder.patch_embed1.norm.weight"][1] == 0.0 and groups["model.encoder.norm1.bias"][1] == 0.0
    assert groups["model.segmentation_head.0.weight"] == (10.0, 0.01)
    assert groups["model.segmentation_head.0.bias"] == (10.0, 0.01)  # MMSeg decays biases: only norms are exempt
    assert type(opt).__name__ == "AdamW"


def test_mask2former_param_groups_backbone_x01_no_decay_on_embeddings() -> None:
    _, _, groups = _groups_by_param("mask2former_tiny")
    bb = "model.hf.model.pixel_level_module.encoder.swin.embeddings.patch_embeddings.projection.weight"
    assert groups[bb] == (0.1, 0.05)
    assert groups["model.hf.model.transformer_module.queries_embedder.weight"] == (1.0, 0.0)
    assert groups["model.hf.model.transformer_module.level_embed.weight"] == (1.0, 0.0)
    assert groups["model.hf.class_predictor.weight"] == (1.0, 0.05)


def test_sgd_recipes_decay_everything() -> None:
    _, opt, groups = _groups_by_param("pspnet_tiny")
    assert type(opt).__name__ == "SGD" and opt.defaults["momentum"] == 0.9
    assert {wd for _, wd in groups.values()} == {5e-4}


@pytest.mark.parametrize(
    "overrides,expected",
    [
        ([], 1.0e-3),  # segformer_b0: batch 8 = reference 8
        (["data.batch_size=4"], 0.5e-3),  # linear rule
        (["data.batch_size=16", "model.lr_scaling=sqrt"], 1.0e-3 * 2**0.5),
        (["data.batch_size=2", "model.lr_scaling=none"], 1.0e-3),
        (["data.batch_size=4", "trainer.devices=2"], 1.0e-3),  # global batch 8: scaled once, not again per GPU
    ],
)
def test_lr_follows_the_global_batch_by_the_configured_rule(overrides: list[str], expected: float) -> None:
    from prove_lightning.tasks.parts import build_module

    cfg = model_cfg("segformer_b0", *overrides)
    cfg.pop("hydra")
    assert build_module(cfg).lr == pytest.approx(expected)


def test_schedule_is_linear_warmup_then_poly_by_step() -> None:
    from prove_lightning.optim import warmup_poly_factor

    f = [warmup_poly_factor(s, 100, 10, 0.1, 0.9, 0.01, convention="prove") for s in (0, 5, 10, 55, 100, 200)]
    assert f[0] == pytest.approx(0.1) and f[1] == pytest.approx(0.55) and f[2] == pytest.approx(1.0)
    assert f[3] == pytest.approx(0.01 + 0.99 * 0.5**0.9) and f[4] == pytest.approx(0.01) and f[5] == pytest.approx(0.01)
