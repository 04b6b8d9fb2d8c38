"""prove domains: tag a dataset's images with the seven domains, fit the classifier tagger, build the stratified layout.

    prove domains tag dataset=mapillary --tagger=rules --out mapillary_domains.csv
    prove domains tag dataset=outside15k --tagger=clip --model /models/clip-vit-b32 --out outside_domains.csv
    prove domains fit dataset=toycity --out toycity_probe.pt          # any dataset with domain tags
    prove domains tag dataset=bdd10k --tagger=classifier --model toycity_probe.pt --out bdd_domains.csv
    prove domains stratify dataset=mapillary --domains mapillary_domains.csv --out /data/FINAL_SPLITS --name Mapillary

`tag` writes image,domain,confidence,tagger for every image (the CSV dataset.source.domain_csv reads) and prints
images, mean confidence and agreement with the dataset's own tags per domain. Taggers: rules (image statistics,
thresholds in conf/domains/rules.yaml), classifier (a linear probe fitted by `fit`), clip (zero-shot, a local
CLIP folder; conf/domains/clip.yaml). `stratify` links (never copies) the tagged train and test images into
{out}/{train,test}/{images,labels}/{name}/{domain}/ and prints the overrides that train on it, e.g.
`prove train stage=s1 dataset=stratified paths.stratified_root=... dataset.source.dataset_dir=...`.
Other arguments are Hydra overrides of the train config (paths.*, dataset.source.*) or of conf/domains/<tagger>.yaml
(domains.rules.0.when.luminance=[null,0.2]).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

HELP = "tag images with domains (rules / classifier / clip), fit the classifier, link the stratified layout"


def _compose(overrides: list[str], tagger: str | None = None) -> Any:
    from prove_lightning.config import compose

    if not any(o.startswith("dataset=") for o in overrides):
        raise SystemExit("prove domains: give the dataset, e.g. dataset=mapillary (options: conf/dataset/*.yaml)")
    cfg = compose("train", [*overrides, *([f"+domains={tagger}"] if tagger else [])])
    cfg.pop("hydra", None)
    return cfg


def _bar():  # noqa: ANN202
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=Console(file=sys.stderr), transient=True)


def tag(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="prove domains tag", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("overrides", nargs="*")
    p.add_argument("--tagger", required=True, choices=("rules", "classifier", "clip"))
    p.add_argument("--out", required=True, help="the CSV to write (image,domain,confidence,tagger)")
    p.add_argument("--model", default=None, help="classifier: the file `prove domains fit` wrote; clip: the local CLIP model folder")
    a = p.parse_intermixed_args(argv)

    from omegaconf import OmegaConf
    from rich.console import Console
    from rich.table import Table

    from prove_lightning.config import instantiate
    from prove_lightning.domains.tagging import build_tagger, dataset_images, summary, tag_items, write_domain_csv

    cfg = _compose(a.overrides, a.tagger)
    settings = OmegaConf.to_container(cfg.domains, resolve=True)
    tagger = build_tagger(a.tagger, settings, a.model)  # type: ignore[arg-type]
    source = instantiate(cfg.dataset.source)
    items = dataset_images(source)
    with _bar() as bar:
        task = bar.add_task(f"tagging {source.name} ({a.tagger})", total=len(items))
        tags = tag_items(tagger, items, progress=lambda n: bar.advance(task, n))
    out = write_domain_csv(a.out, tags, source.root, a.tagger)
    table = Table(title=f"{len(tags)} images of {source.name} tagged by {a.tagger} -> {out}")
    for col in ("domain", "images", "mean confidence", "agrees with the dataset's own tag"):
        table.add_column(col, justify="left" if col == "domain" else "right")
    for d, s in summary(tags).items():
        table.add_row(d, str(s["images"]), f"{s['mean_confidence']:.3f}", s["native_agree"])
    Console().print(table)
    print(f"use it: dataset={cfg.dataset.name.split('/')[-1]} dataset.source.domain_csv={out.resolve()}")
    return 0


def fit(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="prove domains fit", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("overrides", nargs="*")
    p.add_argument("--out", required=True, help="the classifier file to write (.pt)")
    p.add_argument("--split", default="train", help="the split whose tagged images train it (default train)")
    a = p.parse_intermixed_args(argv)

    import numpy as np
    from omegaconf import OmegaConf

    from prove_lightning.config import instantiate
    from prove_lightning.domains.classifier import ClassifierTagger
    from prove_lightning.domains.features import feature_vector, load_small

    cfg = _compose(a.overrides, "classifier")
    opts = OmegaConf.to_container(cfg.domains.fit, resolve=True)
    source = instantiate(cfg.dataset.source)
    records = source.records(a.split)  # needs domain tags: the dataset's own, or dataset.source.domain_csv
    with _bar() as bar:
        task = bar.add_task(f"features of {len(records)} {source.name} images", total=len(records))
        feats = []
        for r in records:
            feats.append(feature_vector(load_small(r.image)))
            bar.advance(task)
    clf = ClassifierTagger.fit(np.stack(feats), [r.domain for r in records], info={"trained_on": f"{source.name}/{a.split}"}, **opts)  # type: ignore[arg-type]
    clf.save(a.out)
    print(f"{a.out}: linear probe over {len(clf.domains)} domains {clf.domains}, {len(records)} images, train accuracy {clf.info['train_accuracy']:.3f}")
    return 0


def stratify_cmd(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="prove domains stratify", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("overrides", nargs="*")
    p.add_argument("--domains", required=True, help="the tag CSV (`prove domains tag --out`)")
    p.add_argument("--out", required=True, help="the stratified root to write (paths.stratified_root)")
    p.add_argument("--name", default=None, help="the dataset folder name in the layout (default: the source's name)")
    p.add_argument("--prefer", default="native", choices=("native", "csv"), help="native: the dataset's own tags first (default); csv: the CSV for every image")
    a = p.parse_intermixed_args(argv)

    from prove_lightning.config import instantiate
    from prove_lightning.domains.stratify import stratify

    cfg = _compose(a.overrides)
    source = instantiate(cfg.dataset.source)
    rep = stratify(source, a.domains, a.out, a.name or source.name, a.prefer)
    for split, c in rep.counts.items():
        print(f"{split}: {sum(c.values())} images linked: " + ", ".join(f"{d} {n}" for d, n in c.items()))
    print(f"domain from: {rep.domain_sources}")
    print("train on it: prove train stage=s1 " + " ".join(rep.dataset_overrides(source.label_mapping, source.name)))
    return 0


def main(argv: list[str]) -> int:
    subs = {"tag": tag, "fit": fit, "stratify": stratify_cmd}
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        print("subcommands: " + ", ".join(subs))
        return 0
    if argv[0] not in subs:
        print(f"prove domains: unknown subcommand '{argv[0]}'; use one of {', '.join(subs)}", file=sys.stderr)
        return 2
    return subs[argv[0]](argv[1:])
