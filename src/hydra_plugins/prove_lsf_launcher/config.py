"""Schema of hydra/launcher=submitit_lsf (the bare plugin defaults; conf/hydra/launcher/lsf.yaml sets ours)."""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf


@dataclass
class LsfQueueConf(BaseQueueConf):
    _target_: str = "hydra_plugins.prove_lsf_launcher.lsf_launcher.LsfLauncher"
    # bsub -q / -P
    queue: Optional[str] = None
    project: Optional[str] = None
    # bsub -gpu "num=<gpus_per_node>:mode=<gpu_mode>"
    gpu_mode: str = "exclusive_process"
    # bsub -x
    exclusive: bool = False
    # SIGUSR2 this many seconds before the run limit (bsub -wa USR2 -wt)
    signal_delay_s: int = 120
    # requeues after a time-out (the job must resume from its checkpoint: ours do)
    max_num_timeout: int = 0
    # {flag: value} -> "#BSUB -flag value"
    additional_parameters: Dict[str, Any] = field(default_factory=dict)
    # at most this many elements of the job array run at once: -J "name[1-N]%P"
    array_parallelism: int = 256
    # shell lines run before the job's command
    setup: Optional[List[str]] = None
    # with nodes x tasks_per_node > 1: what starts one task per rank and sets the rank environment Lightning's
    # LSFEnvironment reads (jsrun: JSM_NAMESPACE_RANK/LOCAL_RANK/SIZE, LSB_DJOB_RANKFILE): jsrun or mpirun
    task_launcher: str = "jsrun"


ConfigStore.instance().store(group="hydra/launcher", name="submitit_lsf", node=LsfQueueConf(), provider="prove_lsf_launcher")
