"""Model builders; each returns a SegNet whose logits have the input's size. Configs pick them by ``_target_``."""

from prove_lightning.models.net import SegNet

__all__ = ["SegNet"]
