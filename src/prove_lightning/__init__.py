"""prove-lightning: robustness studies of semantic segmentation under adverse weather and night."""

__version__ = "0.1.0"
