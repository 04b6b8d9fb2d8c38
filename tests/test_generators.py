"""Built-in generators, their cache, `prove generate`, and ToyCity training runs of every built-in gen_* strategy
and gen_random_noise whose audit shows the configured ratio (counted from the loaded batches)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from prove_lightning.config import compose, instantiate
from prove_lightning.data.generators.run import ensure_generated
from prove_lightning.data.manifest import ManifestOptions
from prove_lightning.data.toycity import render_scene
from prove_lightning.errors import DataError
from prove_lightning.train import run_training

BUILT_IN = ["gen_albumentations_weather", "gen_physics_weather"]


def generator(strategy: str):
    return instantiate(compose("train", [f"strategy={strategy}"]).strategy.generator)


@pytest.mark.parametrize("strategy", BUILT_IN)
def test_generator_is_seeded_keeps_size_and_changes_the_image(strategy: str) -> None:
    gen = generator(strategy)
    img, _ = render_scene(0, "train", "clear_day", 0, 48, 96)
    assert len(gen.targets) == 4
    outs = {}
    for t in gen.targets:
        a, b = gen.translate(img, t, 123), gen.translate(img, t, 123)
        assert np.array_equal(a, b) and a.shape == img.shape and a.dtype == np.uint8
        assert np.abs(a.astype(int) - img).mean() > 5, f"{t} hardly changes the image"
        outs[t] = a
    assert not np.array_equal(gen.translate(img, gen.targets[0], 124), outs[gen.targets[0]]), "another seed, another image"
    means = [o.mean() for o in outs.values()]
    assert min(means) < img.mean() * 0.6, "one target (night) must be much darker than the source"


def _toycity_source(tmp_path: Path, cache_root: Path):
    from conftest import SMALL_TOYCITY

    cfg = compose("train", ["strategy=gen_physics_weather", f"paths.cache_root={cache_root}", *SMALL_TOYCITY])
    return cfg, instantiate(cfg.dataset.source), ManifestOptions.from_config(cfg.manifest)


def test_generation_is_cached_and_redone_when_the_recipe_changes(tmp_path: Path, cache_root: Path) -> None:
    cfg, src, opts = _toycity_source(tmp_path, cache_root)
    gen = instantiate(cfg.strategy.generator)
    manifest = tmp_path / "G" / "physics_weather" / "manifest.csv"
    ensure_generated(gen, method="physics_weather", manifest=manifest, source=src, options=opts)
    stamp = manifest.parent / "generator.toycity.json"
    first = json.loads(stamp.read_text())
    assert first["manifest_rows"] == 4 * first["n_originals"] == 4 * 16
    mtime = (manifest.parent / "night/ToyCity/toycity_train_clear_day_00000.png").stat().st_mtime_ns
    ensure_generated(gen, method="physics_weather", manifest=manifest, source=src, options=opts)  # cached
    assert (manifest.parent / "night/ToyCity/toycity_train_clear_day_00000.png").stat().st_mtime_ns == mtime
    gen2 = instantiate(cfg.strategy.generator, seed=1)
    ensure_generated(gen2, method="physics_weather", manifest=manifest, source=src, options=opts)
    assert json.loads(stamp.read_text())["generator"]["seed"] == 1
    assert (manifest.parent / "night/ToyCity/toycity_train_clear_day_00000.png").stat().st_mtime_ns != mtime
    assert not list(manifest.parent.glob(".tmp-*"))


def test_a_folder_not_written_by_the_generator_is_never_overwritten(tmp_path: Path, cache_root: Path) -> None:
    cfg, src, opts = _toycity_source(tmp_path, cache_root)
    gen = instantiate(cfg.strategy.generator)
    theirs = tmp_path / "G" / "physics_weather" / "fog" / "ToyCity" / "x.png"
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(b"someone's image")
    with pytest.raises(DataError, match="that `prove generate` did not write; pass --force"):
        ensure_generated(gen, method="physics_weather", manifest=theirs.parents[2] / "manifest.csv", source=src, options=opts)
    assert theirs.read_bytes() == b"someone's image"


def test_prove_generate_command(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from conftest import SMALL_TOYCITY

    from prove_lightning.cli import main as cli_main

    assert cli_main(["generate", "albumentations_weather", f"paths.cache_root={tmp_path}", *SMALL_TOYCITY]) == 0
    out = capsys.readouterr().out
    for raw, dom in (("fog", "foggy"), ("rain", "rainy"), ("snow", "snowy"), ("night", "night")):
        assert raw in out and dom in out
    assert len(list(tmp_path.glob("toycity_generated/*/albumentations_weather/*/ToyCity/*.png"))) == 64
    with pytest.raises(SystemExit) as e:
        cli_main(["generate", "CUT", f"paths.cache_root={tmp_path}"])
    assert e.value.code == 2 and "gen_CUT has no built-in generator" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------- training runs
class CrashAt:
    def __new__(cls, step: int):  # a pl.Callback built lazily so importing this file stays cheap
        import pytorch_lightning as pl

        class _Crash(pl.Callback):
            def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
                if trainer.global_step == step:
                    raise RuntimeError(f"simulated crash at step {step}")

        return _Crash()


RUN = ["trainer.max_steps=4", "trainer.val_check_interval=4", "stage.checkpoint_interval=2", "+trainer.limit_val_batches=1", "test_after_training=false"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, cache_root: Path) -> dict[str, dict]:
    from conftest import compose_train

    out = tmp_path_factory.mktemp("gen_runs")
    result = {}
    for strategy in [*BUILT_IN, "gen_random_noise"]:
        cfg = compose_train([f"strategy={strategy}", *RUN], out, cache_root)
        r = run_training(cfg)
        result[strategy] = {"cfg": cfg, "result": r, "audit": json.loads((Path(r["run_dir"]) / "audit.json").read_text())}
    return result


@pytest.mark.slow
@pytest.mark.parametrize("strategy", [*BUILT_IN, "gen_random_noise"])
def test_toycity_run_trains_and_its_audit_shows_the_configured_ratio(runs, strategy: str) -> None:
    run = runs[strategy]
    audit, cfg = run["audit"], run["cfg"]
    assert Path(run["result"]["run_dir"]).name == "segformer_b0_ratio0p50"
    assert (Path(run["result"]["run_dir"]) / "checkpoints/step_4.ckpt").is_file()
    real = audit["realised"]
    assert real["batches"] == 4 and real["samples"] == 16
    assert real["real_fraction"] == cfg.strategy.ratio == 0.5
    assert real["real"] == real["generated"] == 8 and real["batches_off_schedule"] == 0
    assert all(b["real"] == 2 == b["expected_real"] and b["generated"] == 2 for b in real["first_batches"])
    assert set(real["real_per_domain"]) == {"clear_day"}
    mix = audit["mixing"]
    assert mix["active"] and mix["ratio"] == 0.5 and mix["expected_real_fraction_over_run"] == 0.5
    if strategy == "gen_random_noise":
        assert real["noise_replaced"] == 8 and set(real["generated_per_domain"]) == {"clear_day"}
    else:
        assert real["noise_replaced"] == 0
        assert set(real["generated_per_domain"]) <= {"foggy", "night", "rainy", "snowy"} and len(real["generated_per_domain"]) >= 2
        rep = mix["manifest"]
        assert rep["used"] == mix["generated_pool_size"] > 0 and rep["dropped"] == {}
        assert sum(rep["filtered"].values()) + rep["used"] == rep["rows_total"]  # every row accounted for
        assert set(rep["used_per_domain"]) == {"foggy", "night", "rainy", "snowy"}
    assert "train_generated" in audit["pipelines"]
    # the audit is also in TensorBoard, as text
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(Path(run["result"]["run_dir"]) / "tb"))
    acc.Reload()
    assert any(t.startswith("audit/pipeline") for t in acc.Tags()["tensors"])


@pytest.mark.slow
def test_resumed_mixed_run_equals_the_uninterrupted_one(runs, tmp_path: Path, cache_root: Path) -> None:
    from conftest import compose_train

    full = runs["gen_physics_weather"]
    cfg = compose_train(["strategy=gen_physics_weather", *RUN], tmp_path, cache_root)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_training(cfg, extra_callbacks=[CrashAt(3)])
    resumed = run_training(compose_train(["strategy=gen_physics_weather", *RUN], tmp_path, cache_root))
    a = torch.load(full["result"]["final_ckpt"], map_location="cpu", weights_only=False)["state_dict"]
    b = torch.load(resumed["final_ckpt"], map_location="cpu", weights_only=False)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a), "the resumed run saw other batches"
    audit = json.loads((Path(resumed["run_dir"]) / "audit.json").read_text())
    assert audit["realised"] == full["audit"]["realised"]  # counters survive the restart via the checkpoint
    run_training(compose_train(["strategy=gen_physics_weather", *RUN], tmp_path, cache_root))  # re-run of a finished run
    assert json.loads((Path(resumed["run_dir"]) / "audit.json").read_text())["realised"] == full["audit"]["realised"]


@pytest.mark.slow
def test_testing_a_gen_run_reads_no_manifest(runs) -> None:
    from omegaconf import OmegaConf

    from prove_lightning.eval import run_eval

    run = runs["gen_albumentations_weather"]
    manifest = Path(run["audit"]["mixing"]["manifest_path"])
    hidden = manifest.with_suffix(".hidden")
    manifest.rename(hidden)
    try:
        rows = run_eval(OmegaConf.create({"run_dir": str(run["result"]["run_dir"]), "ckpt_path": None, "ckpt": "final", "accelerator": "cpu", "store_root": None}))
    finally:
        hidden.rename(manifest)
    assert {r["domain"] for r in rows} >= {"foggy", "night", "rainy", "snowy", "all"}
