"""The ``classifier`` tagger: a linear probe (multinomial logistic regression) on image features, fitted on any
tagged dataset by ``prove domains fit`` and saved as one file.

The file (torch.save of plain tensors and strings) holds the weights, the feature standardisation, the domain
order, the feature version and what it was trained on, so a probe fitted on ToyCity is refused with a clear
message where features changed since.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from prove_lightning.data.domains import DOMAINS
from prove_lightning.domains.features import load_small, HIST_BINS, NAMES, feature_vector
from prove_lightning.errors import ConfigError
from prove_lightning.io import atomic_path

FEATURES_VERSION = f"stats{len(NAMES)}+hist{HIST_BINS}x6"


class ClassifierTagger:
    name = "classifier"

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, domains: Sequence[str], info: dict[str, Any] | None = None) -> None:
        self.weight, self.bias, self.mean, self.std = weight.float(), bias.float(), mean.float(), std.float()
        self.domains = list(domains)
        self.info = dict(info or {})

    # ------------------------------------------------------------------ fit / save / load
    @classmethod
    def fit(cls, features: np.ndarray, labels: Sequence[str], epochs: int = 300, lr: float = 0.05, weight_decay: float = 1e-4, seed: int = 0, info: dict[str, Any] | None = None) -> "ClassifierTagger":
        """Full-batch Adam on the cross-entropy of a linear layer over standardised features."""
        domains = [d for d in DOMAINS if d in set(labels)]
        if len(domains) < 2:
            raise ConfigError(f"prove domains fit: the tagged images cover {domains}; a classifier needs at least two domains")
        x = torch.as_tensor(np.asarray(features), dtype=torch.float32)
        y = torch.tensor([domains.index(d) for d in labels])
        mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
        xs = (x - mean) / std
        g = torch.Generator().manual_seed(int(seed))
        layer = torch.nn.Linear(x.shape[1], len(domains))
        with torch.no_grad():
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=g) * 0.01)
            layer.bias.zero_()
        opt = torch.optim.Adam(layer.parameters(), lr=lr, weight_decay=weight_decay)
        for _ in range(int(epochs)):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(layer(xs), y)
            loss.backward()
            opt.step()
        with torch.no_grad():
            acc = float((layer(xs).argmax(1) == y).float().mean())
        meta = {"features": FEATURES_VERSION, "n_train": len(labels), "train_accuracy": round(acc, 4), "final_loss": round(float(loss.detach()), 4), **(info or {})}
        return cls(layer.weight.detach(), layer.bias.detach(), mean, std, domains, meta)

    def save(self, path: str | Path) -> Path:
        blob = {"weight": self.weight, "bias": self.bias, "mean": self.mean, "std": self.std, "domains": self.domains, "info": self.info, "kind": "prove-domain-classifier"}
        with atomic_path(path) as tmp:
            torch.save(blob, tmp)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path | None) -> "ClassifierTagger":
        if not path:
            raise ConfigError("--tagger=classifier needs the fitted file: --model FILE (written by `prove domains fit --out FILE`)")
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"domain classifier file not found: {p}; fit one with `prove domains fit dataset=<tagged dataset> --out {p}`")
        try:
            blob = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unreadable file gets the same advice
            raise ConfigError(f"{p}: not a domain classifier file ({type(e).__name__}: {e}); fit one with `prove domains fit`") from None
        if not isinstance(blob, dict) or blob.get("kind") != "prove-domain-classifier":
            raise ConfigError(f"{p}: not a domain classifier file (written by `prove domains fit`)")
        if blob["info"].get("features") != FEATURES_VERSION:
            raise ConfigError(f"{p}: fitted on features {blob['info'].get('features')!r}, this version computes {FEATURES_VERSION!r}; fit it again")
        return cls(blob["weight"], blob["bias"], blob["mean"], blob["std"], blob["domains"], blob["info"])

    # ------------------------------------------------------------------ tagging
    def predict_features(self, features: np.ndarray) -> list[tuple[str, float]]:
        x = (torch.as_tensor(np.atleast_2d(features), dtype=torch.float32) - self.mean) / self.std
        prob = torch.softmax(x @ self.weight.T + self.bias, dim=1)
        conf, idx = prob.max(1)
        return [(self.domains[int(i)], round(float(c), 4)) for i, c in zip(idx, conf)]

    def predict(self, rgb: np.ndarray) -> tuple[str, float]:
        return self.predict_features(feature_vector(rgb))[0]

    @staticmethod
    def read_image(path: str | Path) -> np.ndarray:
        return load_small(path)

    def predict_batch(self, images: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        return [self.predict(im) for im in images]

    def describe(self) -> dict[str, Any]:
        return {"tagger": self.name, "domains": self.domains, **self.info}
