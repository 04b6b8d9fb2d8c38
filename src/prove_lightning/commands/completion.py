"""prove completion: tab completion for `prove` in bash (Hydra's own --shell-completion cannot serve
`python -m prove_lightning.train` or `prove train`).

    eval "$(prove completion bash)"        # add to ~/.bashrc

Completes the command (`prove tr<TAB>`), then config choices for train / eval / plan (`model=seg<TAB>`,
`hydra/launcher=<TAB>`) and the stable overrides (`paths.output_root=`, `trainer.max_steps=`, ...), read
from the conf/ the entry points use.
"""

from __future__ import annotations

from pathlib import Path

HELP = "bash tab completion for prove: eval \"$(prove completion bash)\""

STABLE = ("paths.data_root=", "paths.output_root=", "paths.cache_root=", "paths.weights_root=", "paths.file_mode=", "paths.group=",
          "trainer.max_steps=", "trainer.val_check_interval=", "data.batch_size=", "data.num_workers=", "seed=", "ckpt_path=", "run_dir=",
          "hydra.launcher.partition=", "hydra.launcher.queue=", "hydra.launcher.timeout_min=", "hydra.launcher.gpus_per_node=")

SCRIPT = r"""
_prove_complete() {
    local line=${COMP_LINE:0:$COMP_POINT}
    local cur=${line##* } words
    if [[ $COMP_CWORD -le 1 && $cur != *=* ]]; then
        words=$(prove completion --commands 2>/dev/null)
    else
        words=$(prove completion --options 2>/dev/null)
    fi
    local IFS=$'\n'
    local matches=($(compgen -W "$words" -- "$cur"))
    if [[ $cur == *=* ]]; then matches=("${matches[@]##*=}"); fi   # bash splits words at '='
    COMPREPLY=("${matches[@]}")
}
complete -o nospace -o default -F _prove_complete prove
"""


def options(conf_dir: Path) -> list[str]:
    """group=option for every config group under conf/ (nested groups as a/b=option), plus the stable overrides."""
    out = set(STABLE)
    for f in conf_dir.rglob("*.yaml"):
        rel = f.relative_to(conf_dir)
        if len(rel.parts) > 1:
            out.add(f"{'/'.join(rel.parts[:-1])}={f.stem}")
    for launcher in ("local", "slurm", "lsf", "submitit_local", "submitit_slurm", "submitit_lsf"):
        out.add(f"hydra/launcher={launcher}")
    return sorted(out)


def main(argv: list[str]) -> int:
    from prove_lightning.config import CONF_DIR

    if argv[:1] == ["--options"]:
        print("\n".join(options(CONF_DIR)))
    elif argv[:1] == ["--commands"]:
        from prove_lightning.cli import available_commands

        print("\n".join(sorted(available_commands())))
    elif argv[:1] == ["bash"]:
        print(SCRIPT.strip())
    else:
        print(__doc__)
    return 0
