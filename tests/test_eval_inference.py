"""Native-resolution inference: sliding window equals whole image where it must; logits land at the label's size."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from prove_lightning.errors import ConfigError
from prove_lightning.evaluation.inference import check_inference, predict_logits, window_starts


def pointwise_net(num_classes: int = 5) -> nn.Module:
    """A 1x1-conv model: each output pixel depends on its own input pixel only, so windows cannot change it."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 1), nn.ReLU(), nn.Conv2d(8, num_classes, 1))


@pytest.mark.parametrize(("crop", "stride"), [((16, 24), (8, 16)), ((32, 32), (32, 32)), ((64, 128), (10, 10)), ((9, 13), (6, 8))])
def test_slide_equals_whole_on_a_pointwise_model(crop: tuple[int, int], stride: tuple[int, int]) -> None:
    net = pointwise_net()
    x = torch.randn(2, 3, 37, 53)  # odd, non-square: windows overlap unevenly, edge windows shift inside
    whole = predict_logits(net, x, (37, 53), mode="whole")
    slide = predict_logits(net, x, (37, 53), mode="slide", crop=crop, stride=stride, num_classes=5)
    torch.testing.assert_close(slide, whole, rtol=1e-5, atol=1e-5)
    assert torch.equal(slide.argmax(1), whole.argmax(1))


def test_slide_differs_from_whole_on_a_model_with_context() -> None:
    """The comparison above can fail: a model that sees neighbours gives different logits at window borders."""
    torch.manual_seed(0)
    net = nn.Conv2d(3, 5, 9, padding=4)
    x = torch.randn(1, 3, 37, 53)
    whole = predict_logits(net, x, (37, 53), mode="whole")
    slide = predict_logits(net, x, (37, 53), mode="slide", crop=(16, 24), stride=(8, 16), num_classes=5)
    assert not torch.allclose(slide, whole, atol=1e-4)


def test_windows_cover_every_pixel_and_end_at_the_border() -> None:
    for size, crop, stride in [(37, 16, 8), (53, 24, 16), (10, 32, 8), (1024, 1024, 768), (2048, 1024, 768)]:
        starts = window_starts(size, crop, stride)
        covered = torch.zeros(size, dtype=torch.bool)
        for s in starts:
            covered[s : s + crop] = True
        assert covered.all() and starts[0] == 0
        assert min(starts[-1] + crop, size) == size
    assert window_starts(2048, 1024, 768) == [0, 768, 1024]  # MMSeg: 3 windows, the last shifted to end at 2048


def test_logits_resized_to_label_size_not_squashed() -> None:
    net = pointwise_net()
    x = torch.randn(1, 3, 24, 48)  # a test pipeline may shrink the image; the label stays native (48 x 96)
    out = predict_logits(net, x, (48, 96), mode="whole")
    assert out.shape == (1, 5, 48, 96)
    torch.testing.assert_close(out, F.interpolate(net(x), size=(48, 96), mode="bilinear", align_corners=False))


def test_inference_config_is_checked_up_front() -> None:
    assert check_inference(None) == {"mode": "whole"}
    assert check_inference({"mode": "slide", "crop": [1024, 1024], "stride": [768, 768]})["crop"] == [1024, 1024]
    with pytest.raises(ConfigError, match="mode"):
        check_inference({"mode": "tiles"})
    with pytest.raises(ConfigError, match="exceeds crop"):
        check_inference({"mode": "slide", "crop": [512, 512], "stride": [768, 512]})
    with pytest.raises(ConfigError, match="crop"):
        check_inference({"mode": "slide", "stride": [8, 8]})
