"""prove generate: write a built-in generator's images of a dataset's training images, and their manifest.

    prove generate albumentations_weather dataset=toycity
    prove generate physics_weather dataset=stratified dataset.source.dataset_dir=BDD10k [--force]

The method's strategy file (conf/strategy/gen_<method>.yaml) holds the generator recipe; images go to
the folder of the strategy's manifest (paths.generated_root/<folder>, or ToyCity's cache) in the
domain_dataset layout, and the manifest is built by the same code as `prove manifest build`. Done
generations are cached (generator.<dataset>.json); --force redoes them. ToyCity training runs of these
strategies call this automatically when the manifest is missing or stale.
"""

from __future__ import annotations

import argparse

HELP = "write a built-in generator's images (e.g. albumentations_weather) and their manifest"


def main(argv: list[str]) -> int:
    from prove_lightning.config import compose, instantiate
    from prove_lightning.data.generators.run import ensure_generated
    from prove_lightning.data.manifest import ManifestOptions
    from prove_lightning.data.manifest_build import print_summary, summary_path
    from prove_lightning.errors import ConfigError

    p = argparse.ArgumentParser(prog="prove generate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("method", help="method name: strategy gen_<method> must define a generator")
    p.add_argument("overrides", nargs="*", help="config overrides: dataset=..., paths.*=..., strategy.generator.*=...")
    p.add_argument("--force", action="store_true", help="regenerate even if the cached images match, and replace folders not written by prove generate")
    a = p.parse_intermixed_args(argv)
    method = a.method.removeprefix("gen_")
    try:
        cfg = compose("train", [f"strategy=gen_{method}", *a.overrides])
    except Exception as e:  # noqa: BLE001 - Hydra's missing-option error, made a one-liner
        if "Could not find 'strategy/gen_" in str(e):
            raise ConfigError(f"no strategy gen_{method} (conf/strategy/gen_{method}.yaml)") from None
        raise
    cfg.pop("hydra", None)
    if cfg.strategy.get("generator") is None:
        raise ConfigError(
            f"gen_{method} has no built-in generator: its images come from an external tool; put them under "
            f"{cfg.strategy.manifest.rsplit('/', 1)[0]} and run `prove manifest build strategy=gen_{method} dataset=...`"
        )
    import json
    from pathlib import Path

    generator = instantiate(cfg.strategy.generator)
    source = instantiate(cfg.dataset.source)
    manifest = Path(cfg.strategy.manifest)
    ensure_generated(generator, method=cfg.strategy.method, manifest=manifest, source=source, options=ManifestOptions.from_config(cfg.manifest), force=a.force, progress=True)
    print_summary(json.loads(summary_path(manifest, source.name).read_text()))
    return 0
