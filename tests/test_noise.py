"""Noise replacement in the loader that really feeds training: generated slots are uniform noise, real slots are images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from prove_lightning.config import instantiate
from prove_lightning.data.dataset import SegDataset
from prove_lightning.data.noise import UniformNoise


def neighbour_corr(img: torch.Tensor) -> float:
    """Correlation of horizontally adjacent pixels: ~0 for i.i.d. noise, high for any photo-like image."""
    x = img.float()
    a, b = x[:, :, :-1].flatten(), x[:, :, 1:].flatten()
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


@pytest.fixture(scope="module")
def noise_batches(tmp_path_factory: pytest.TempPathFactory, cache_root):
    from conftest import compose_train

    cfg = compose_train(["strategy=gen_random_noise", "data.batch_size=6"], tmp_path_factory.mktemp("out"), cache_root)
    dm = instantiate(cfg.data)
    dl = dm.train_dataloader()  # the loader Lightning uses (no trainer: starts at step 0)
    batches = [b for _, b in zip(range(4), dl)]
    return dm, dl, batches


def test_generated_slots_are_uniform_noise_and_real_slots_are_images(noise_batches) -> None:
    dm, dl, batches = noise_batches
    clean = SegDataset(dl.dataset.records, dm.label_mappings, dm.train_pipeline)  # the same samples without the hook
    sampler = dl.batch_sampler
    n_noise = 0
    for step, batch in enumerate(batches):
        gen, noise = batch["generated"].tolist(), batch["noise"].tolist()
        assert gen == [False] * 3 + [True] * 3 and noise == gen  # ratio 0.5 of 6: three real, three noise
        for slot, item in enumerate(sampler.batch_at(step)):
            img = batch["image"][slot]
            ref = clean[item]
            assert torch.equal(batch["label"][slot], ref["label"])  # labels are kept in every slot
            if gen[slot]:
                n_noise += 1
                assert abs(neighbour_corr(img)) < 0.05
                src = ref["image"].float().flatten()
                assert abs(float(torch.corrcoef(torch.stack([img.float().flatten(), src]))[0, 1])) < 0.05  # no trace of the source
                hist = np.bincount(img.flatten().numpy() // 16, minlength=16)
                assert stats.chisquare(hist).pvalue > 1e-4, hist  # flat over [0, 255]
                assert abs(img.float().mean().item() - 127.5) < 4 and abs(img.float().std().item() - 73.9) < 3
            else:
                assert torch.equal(img, ref["image"])  # real slots are untouched images
                assert neighbour_corr(img) > 0.5
    assert n_noise == 12


def test_noise_pool_is_the_real_training_records(noise_batches) -> None:
    dm, dl, _ = noise_batches
    desc = dm.describe()
    mix = desc["mixing"]
    assert mix["active"] and mix["noise"] and mix["pool"] == "real" and mix["manifest_path"] is None
    assert [r.image for r in dm.generated_records] == [r.image for r in dm.train_records]
    assert all(r.generated and r.method == "random_noise" for r in dm.generated_records)
    assert desc["pipelines"]["train_generated"][-1].startswith("ReplaceWithUniformNoise")
    assert not any("Noise" in s for s in desc["pipelines"]["train_real"])


def test_noise_is_composable_with_a_manifest_strategy(train_cfg) -> None:
    cfg = train_cfg("strategy=gen_physics_weather", "strategy.noise=true", "strategy.name=gen_physics_weather_noise", "data.batch_size=4")
    dm = instantiate(cfg.data)
    batch = next(iter(dm.train_dataloader()))
    assert batch["generated"].tolist() == batch["noise"].tolist() == [False, False, True, True]
    assert all(abs(neighbour_corr(batch["image"][i])) < 0.05 for i in (2, 3))


def test_noise_hook_leaves_real_samples_alone() -> None:
    hook = UniformNoise()
    rng = np.random.default_rng(0)
    img = np.full((4, 5, 3), 7, np.uint8)
    real = hook({"image": img.copy(), "generated": False}, rng)
    gen = hook({"image": img.copy(), "generated": True}, rng)
    assert real["noise"] is False and np.array_equal(real["image"], img)
    assert gen["noise"] is True and gen["image"].shape == img.shape and gen["image"].dtype == np.uint8 and not np.array_equal(gen["image"], img)


def test_pool_real_without_noise_is_refused(train_cfg) -> None:
    from prove_lightning.errors import ConfigError

    with pytest.raises(ConfigError, match="strategy.pool=real .* only makes sense with strategy.noise=true"):
        instantiate(train_cfg("strategy=gen_random_noise", "strategy.noise=false").data)
