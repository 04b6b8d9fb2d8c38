"""The ``clip`` tagger: zero-shot domain tags with a CLIP model read from a local folder (never downloaded).

Each domain has one or more prompts (conf/domains/clip.yaml); an image's score for a domain is the sum of its
prompts' softmax probabilities over all prompts (a distribution over the domains; the confidence is its max). The old pipeline (SWIFT) used CLIP ViT-B/32 this way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from prove_lightning.data.domains import DOMAINS
from prove_lightning.errors import ConfigError


def _features(out: object) -> torch.Tensor:
    """The projected embeddings (transformers 5 wraps them in an output object; 4.x returns the tensor)."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output  # type: ignore[attr-defined]


class ClipTagger:
    name = "clip"

    def __init__(self, model_path: str | Path | None, prompts: Mapping[str, Sequence[str]], batch_size: int = 32, device: str = "cpu") -> None:
        bad = [d for d in prompts if d not in DOMAINS]
        if bad or not prompts:
            raise ConfigError(f"domains clip prompts: keys {bad or '(none)'} must be domain names {list(DOMAINS)}")
        if not model_path:
            raise ConfigError(
                "--tagger=clip needs a local CLIP model folder: --model DIR (or domains.model_path=DIR, env PROVE_CLIP_MODEL); "
                "fill it on a machine with network: huggingface-cli download openai/clip-vit-base-patch32 --local-dir DIR"
            )
        path = Path(model_path)
        if not (path / "config.json").is_file():
            raise ConfigError(
                f"no CLIP model at {path} (expected config.json and the weights from CLIPModel.save_pretrained / huggingface-cli "
                f"download openai/clip-vit-base-patch32 --local-dir {path}); nothing is downloaded here"
            )
        from transformers import CLIPModel, CLIPProcessor

        try:
            self.model = CLIPModel.from_pretrained(str(path), local_files_only=True).eval().to(device)
            self.processor = CLIPProcessor.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot load the CLIP model at {path}: {e}") from None
        self.device, self.batch_size, self.path = device, int(batch_size), path
        self.prompt_domains = [d for d, ps in prompts.items() for _ in ps]
        texts = [p for ps in prompts.values() for p in ps]
        with torch.inference_mode():
            tok = self.processor(text=texts, return_tensors="pt", padding=True).to(device)
            emb = _features(self.model.get_text_features(**tok))
        self.text = emb / emb.norm(dim=-1, keepdim=True)
        self.domains = list(prompts)

    @staticmethod
    def read_image(path: str | Path) -> np.ndarray:
        """The image at CLIP's resolution (the processor resizes and crops to 224)."""
        from PIL import Image

        with Image.open(path) as im:
            im.draft("RGB", (448, 448))
            im = im.convert("RGB")
            im.thumbnail((448, 448))
            return np.asarray(im)

    def predict_batch(self, images: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """Images as (H, W, 3) uint8 RGB (or float in [0, 1])."""
        pixels = [im if im.dtype == np.uint8 else (np.clip(im, 0, 1) * 255).astype(np.uint8) for im in images]
        with torch.inference_mode():
            inp = self.processor(images=pixels, return_tensors="pt").to(self.device)
            emb = _features(self.model.get_image_features(**inp))
            emb = emb / emb.norm(dim=-1, keepdim=True)
            prob = (self.model.logit_scale.exp() * emb @ self.text.T).softmax(dim=-1)
        idx = torch.tensor([self.domains.index(d) for d in self.prompt_domains])
        per_domain = torch.zeros(prob.shape[0], len(self.domains)).index_add_(1, idx, prob.float())
        conf, best = per_domain.max(1)
        return [(self.domains[int(b)], round(float(c), 4)) for b, c in zip(best, conf)]

    def predict(self, image: np.ndarray) -> tuple[str, float]:
        return self.predict_batch([image])[0]

    def describe(self) -> dict[str, Any]:
        return {"tagger": self.name, "model_path": str(self.path), "domains": self.domains}
