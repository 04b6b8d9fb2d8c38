"""The team's networks, by parameter count (19 classes) against MMSeg 1.2.2's as measured in issue 15 (within 0.5%),
and by the structure that makes them those networks (ResNetV1c deep stem, D8 dilation, the heads' widths).
MMSeg is never imported: its figures are constants here. Built on CPU, never trained."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prove_lightning.config import compose, instantiate

#: MMSeg 1.2.2, 19 classes: {part: M parameters}
MMSEG = {
    "segformer_b3": {"total": 44.604, "encoder": 44.072, "head": 0.532},
    "deeplabv3plus_r50": {"total": 43.590, "backbone": 23.527, "decode_head": 17.698, "aux_head": 2.365},
    "pspnet_r50": {"total": 48.975, "backbone": 23.527, "decode_head": 23.084, "aux_head": 2.365},
    "segnext_b": {"total": 27.569, "encoder": 26.278, "decode_head": 1.291},
}


def millions(m: nn.Module) -> float:
    return sum(p.numel() for p in m.parameters()) / 1e6


def build(model: str):  # noqa: ANN201
    cfg = compose("train", [f"model={model}", "model.pretrained=false", "paths.output_root=/nonexistent"])
    torch.manual_seed(0)
    return instantiate(cfg.model.net)


@pytest.fixture(scope="module")
def r50_nets() -> dict[str, nn.Module]:
    return {name: build(name) for name in ("deeplabv3plus_r50", "pspnet_r50")}


@pytest.mark.parametrize("name", ["deeplabv3plus_r50", "pspnet_r50"])
def test_resnet_recipes_have_mmsegs_parameter_counts(name: str, r50_nets: dict[str, nn.Module]) -> None:
    net = r50_nets[name]
    want = MMSEG[name]
    assert millions(net) == pytest.approx(want["total"], rel=5e-3)
    for part in ("backbone", "decode_head", "aux_head"):
        assert millions(getattr(net.model, part)) == pytest.approx(want[part], rel=5e-3), part


def test_segformer_b3_is_mmsegs_256_wide_and_the_paper_variant_is_768() -> None:
    net = build("segformer_b3")
    assert millions(net) == pytest.approx(MMSEG["segformer_b3"]["total"], rel=5e-3)
    assert millions(net.model.encoder) == pytest.approx(MMSEG["segformer_b3"]["encoder"], rel=5e-3)
    head = millions(net.model.decoder) + millions(net.model.segmentation_head)
    assert head == pytest.approx(MMSEG["segformer_b3"]["head"], rel=2e-2)  # 0.5% of the total is 0.22M
    wide = compose("train", ["model=segformer_b3_dec768", "paths.output_root=/nonexistent"]).model
    assert wide.net.decoder_segmentation_channels == 768 and wide.name == "segformer_b3_dec768"


def test_segnext_b_has_mmsegs_parameter_count() -> None:
    net = build("segnext_b")
    assert millions(net) == pytest.approx(MMSEG["segnext_b"]["total"], rel=5e-3)
    assert millions(net.model.encoder) == pytest.approx(MMSEG["segnext_b"]["encoder"], rel=5e-3)


def test_resnet_backbone_is_v1c_dilated_to_d8(r50_nets: dict[str, nn.Module]) -> None:
    bb = r50_nets["pspnet_r50"].model.backbone
    stem = [m for m in bb.conv1 if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride) for c in stem] == [
        (3, 32, (3, 3), (2, 2)), (32, 32, (3, 3), (1, 1)), (32, 64, (3, 3), (1, 1))
    ]
    assert isinstance(bb.layer2[0].downsample[0], nn.Conv2d) and bb.layer2[0].downsample[0].stride == (2, 2)  # no avg-down
    # MMSeg D8 with contract_dilation: first block of a dilated stage at the previous dilation
    assert [bb.layer3[0].conv2.dilation, bb.layer3[1].conv2.dilation, bb.layer4[0].conv2.dilation, bb.layer4[1].conv2.dilation] == [
        (1, 1), (2, 2), (2, 2), (4, 4)
    ]
    with torch.no_grad():
        feats = bb.eval()(torch.randn(1, 3, 64, 64))
    assert [tuple(f.shape[1:]) for f in feats] == [(256, 16, 16), (512, 8, 8), (1024, 8, 8), (2048, 8, 8)]
    head = r50_nets["deeplabv3plus_r50"].model.decode_head
    assert [m[0][0].dilation for m in head.aspp_modules[1:]] == [(12, 12), (24, 24), (36, 36)]
    assert head.aspp_modules[1][0][0].groups == 2048 and head.c1_bottleneck[0].out_channels == 48
    assert r50_nets["deeplabv3plus_r50"].model.aux_head[0][0].in_channels == 1024


def test_non_v1c_backbone_is_refused() -> None:
    from prove_lightning.models.resnet_v1c import build_resnet_v1c, check_v1c

    with pytest.raises(ValueError, match="avg-down"):
        check_v1c(build_resnet_v1c("resnet18d"))
    with pytest.raises(ValueError, match="deep stem"):
        check_v1c(build_resnet_v1c("resnet18"))
