"""The label space every part shares: Cityscapes' 19 train classes (trainIds 0..18), the ignore index, the palette.

Losses, models, metrics and data all import it from here; each dataset's table from its own ids to these
trainIds lives beside its adapter (data/sources/<name>_labels.py).
"""

from __future__ import annotations

import numpy as np

IGNORE_INDEX = 255

CITYSCAPES_CLASSES: tuple[str, ...] = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic_light", "traffic_sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle",
)
NUM_CLASSES = len(CITYSCAPES_CLASSES)
CLASS_ID: dict[str, int] = {name: i for i, name in enumerate(CITYSCAPES_CLASSES)}

CITYSCAPES_PALETTE: np.ndarray = np.array(
    [
        (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
        (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
        (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70),
        (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
    ],
    dtype=np.uint8,
)


def colorize(label: np.ndarray) -> np.ndarray:
    """trainId map (H, W) -> RGB image in the Cityscapes palette; ignore is black."""
    lut = np.zeros((256, 3), dtype=np.uint8)
    lut[:NUM_CLASSES] = CITYSCAPES_PALETTE
    return lut[label.astype(np.uint8)]
