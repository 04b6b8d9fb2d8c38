"""Data: dataset sources, labels, transforms, sampling and the Lightning datamodule."""
