"""Classic (std_*) augmentations: per-sample ops for the data loader, batch ops for SegModule.

Selected by conf/augment/<name>.yaml (``sample:`` and ``batch:`` lists of ``_target_`` nodes); the std_* strategy
presets select them, and ``strategy=gen_X augment=cutmix`` combines one with generative mixing.
"""

from prove_lightning.data.augment.base import AUGMENT_KEY, BatchAugment, SampleAugment
from prove_lightning.data.augment.mix import CutMix, MixUp
from prove_lightning.data.augment.photometric import Photometric
from prove_lightning.data.augment.policies import AutoAugment, RandAugment


def describe_hooks(hooks: object) -> list[dict]:
    """What a list of sample or batch hooks does, for the run's audit."""
    return [h.describe() if hasattr(h, "describe") else {"op": repr(h)} for h in (hooks or [])]  # type: ignore[union-attr]


__all__ = [
    "AUGMENT_KEY",
    "AutoAugment",
    "BatchAugment",
    "CutMix",
    "MixUp",
    "Photometric",
    "RandAugment",
    "SampleAugment",
    "describe_hooks",
]
