"""Evaluation shards cover every image exactly once across ranks (no DistributedSampler padding)."""

from prove_lightning.data.shard import ShardSampler


def test_shards_partition_without_padding() -> None:
    for n in (0, 1, 5, 7, 8):
        for world in (1, 2, 3):
            parts = [list(ShardSampler(n, r, world)) for r in range(world)]
            flat = sorted(i for p in parts for i in p)
            assert flat == list(range(n))
            assert sum(len(ShardSampler(n, r, world)) for r in range(world)) == n
