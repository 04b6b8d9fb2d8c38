"""Dataset sources: one adapter per official layout, each yielding SampleRecords (see base.PairedSource)."""

from prove_lightning.data.sources.acdc import ACDCSource
from prove_lightning.data.sources.base import DatasetSource, PairedSource, SplitScan
from prove_lightning.data.sources.bdd10k import BDD10kSource
from prove_lightning.data.sources.cityscapes import CityscapesSource
from prove_lightning.data.sources.iddaw import IDDAWSource
from prove_lightning.data.sources.mapillary import MapillarySource
from prove_lightning.data.sources.outside15k import Outside15kSource
from prove_lightning.data.sources.stratified import StratifiedSource

__all__ = [
    "ACDCSource", "BDD10kSource", "CityscapesSource", "DatasetSource", "IDDAWSource", "MapillarySource",
    "Outside15kSource", "PairedSource", "SplitScan", "StratifiedSource",
]
