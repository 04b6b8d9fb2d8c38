"""The team's four networks at full size: our training step (Lightning + SegModule) vs the bare PyTorch step on the
same network, input, loss and optimizer (bench_train_step's machinery), with MMSeg 1.2.2's figures from issue 15.

    python benchmarks/bench_models.py                      # batch 2 at 512x512, as issue 15 measured MMSeg
    python benchmarks/bench_models.py --size 256 256 --steps 3 --blocks 4 --models segformer_b3 segnext_b
    python benchmarks/bench_models.py --size 128 128 --steps 6 --budget-s 120   # what run_all runs (see below)

Target: ours <= 1.05x bare (upper end of the 90% interval of the paired per-step ratios, CPU time on CPU; the two
sides are interleaved step by step, see bench_train_step's docstring; the bare step clips gradients where the model
config does, as the Trainer does). The MMSeg
column is issue 15's measurement on this machine type (batch 2, 512x512, 2 threads), printed for reference only:
MMSeg is not a dependency and is never imported.

Two warm-up pairs per block, not one: the forward right after the second optimizer's first step (when both
optimizers have just allocated their AdamW state) is slow whichever side runs it (segformer_b3, 128x128: framework
first, its second forward took 721 ms against the bare side's 327 ms; bare first, the bare side's took 662 ms
against 355 ms); with one warm-up pair that forward was measured in every block and always on the framework side,
which put segformer_b3 at 1.05-1.06x. A run has one optimizer and thousands of steps: it never sees that step.

run_all measures at 128x128: the framework's overhead is a fixed cost per step (Lightning's hooks and ours, ~4 ms on segformer_b3), so
the shorter the step, the larger its share and the stricter the test; 128x128 also gives several times more
pairs per minute than 512x512 on 2 cores.
"""

from __future__ import annotations

import argparse

import torch

import bench_train_step as bts
from _common import Figure, emit, load_avg

MODELS = ["segformer_b3", "deeplabv3plus_r50", "pspnet_r50", "segnext_b"]
#: issue 15, MMSeg 1.2.2, batch 2, 512x512, 2 threads: seconds per training step (range of its runs)
MMSEG_STEP_S = {"segformer_b3": "4.4-5.7", "deeplabv3plus_r50": "~17.5", "pspnet_r50": "~11.7", "segnext_b": "~7.1"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--size", type=int, nargs=2, default=[512, 512], metavar=("H", "W"))
    ap.add_argument("--steps", type=int, default=1, help="measured (framework, bare) step pairs per block")
    ap.add_argument("--warmup", type=int, default=2, help="unmeasured step pairs at the start of each block (see the docstring)")
    ap.add_argument("--blocks", type=int, default=4, help="blocks of interleaved (framework, bare) step pairs, a fresh Trainer each")
    ap.add_argument("--budget-s", type=float, default=0.0, help="seconds of measuring per network: blocks are added until it is spent (0: exactly --blocks)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--smoke", action="store_true", help="one network at 64x64, to check the script runs")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if a.smoke:
        a.models, a.size, a.batch, a.blocks = ["pspnet_r50"], [64, 64], 2, 2  # batch 2: BN in the 1x1 pool branch
    torch.set_num_threads(a.threads)
    import logging

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    print(f"batch={a.batch} size={a.size[0]}x{a.size[1]} threads={a.threads} blocks of {a.steps} interleaved step pairs (+{a.warmup} warm-up), at least {a.blocks}"
          f"{f' and {a.budget_s:g} s per network' if a.budget_s else ''}; {load_avg()}")
    bts.header()
    rows = bts.compare(a.models, a.batch, tuple(a.size), a.steps, a.warmup, a.blocks, "cpu", False, a.budget_s or None)
    print(f"\n{'model':<22}{'params M':>10}{'ours s/step':>13}{'bare s/step':>13}   MMSeg s/step (issue 15, 512x512 batch 2, 2 threads)")
    figures = []
    for r in rows:
        cfg, net, _ = bts.build(r["model"], a.batch)
        params = sum(p.numel() for p in net.parameters()) / 1e6
        print(f"{r['model']:<22}{params:>10.3f}{r['wall']['framework'][0]:>13.2f}{r['wall']['bare'][0]:>13.2f}   {MMSEG_STEP_S.get(r['model'], '-')}")
        ratio = r["cpu"]["ratio"]
        figures.append(Figure(f"full model step ours / bare, {r['model']} (cpu)", ratio[0], "x", 1.05, "<=", judged=ratio[2],
                              detail=f"90% interval {ratio[1]:.3f}-{ratio[2]:.3f}; {r['wall']['framework'][0]:.2f} s/step wall"))
    emit(figures, a.json)


if __name__ == "__main__":
    main()
