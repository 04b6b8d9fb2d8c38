"""Cityscapes (and ACDC) labelIds -> trainIds (cityscapesScripts labels.py; datasets.md §2).

Registered as ``cityscapes_labelids``: Cityscapes / ACDC ``*_labelIds.png`` (0..33, lane markings 34..45 -> 255).
The ``trainids`` identity table (labelTrainIds, BDD10k, IDD-AW csTrainIds) lives in data/labels.py.
"""

from __future__ import annotations

from prove_lightning.data.labels import LabelMapping, lut_from_pairs, register_label_mapping

# --- Cityscapes labelId -> trainId (cityscapesScripts labels.py); every other id in 0..33 is void.
CITYSCAPES_LABELID_TO_TRAINID: dict[int, int] = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}
#: labelIds a gtFine / ACDC file may hold: 0..33, plus the lane-marking ids 34..45 some labels.py copies list
CITYSCAPES_KNOWN_LABELIDS: tuple[int, ...] = tuple(range(46))


@register_label_mapping("cityscapes_labelids")
def cityscapes_labelids() -> LabelMapping:
    return lut_from_pairs(CITYSCAPES_LABELID_TO_TRAINID, 256, known=CITYSCAPES_KNOWN_LABELIDS, name="cityscapes_labelids")
