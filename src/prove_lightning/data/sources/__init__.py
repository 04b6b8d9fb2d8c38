"""Dataset sources: one adapter per official layout, each yielding SampleRecords."""

from prove_lightning.data.sources.base import DatasetSource
from prove_lightning.data.sources.stratified import StratifiedSource

__all__ = ["DatasetSource", "StratifiedSource"]
