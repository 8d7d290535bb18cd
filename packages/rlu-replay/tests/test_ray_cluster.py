"""rlu_replay.ray on a real multi-node Ray cluster (3 nodes on this machine): placement, and a
node's death: a one-line ShardError naming shard and node, no hang, no corrupted sample, and a
restore from the last checkpoint onto the surviving nodes that loses only what came after it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import ray
from ray.cluster_utils import Cluster
from rlu_replay.ray import ShardedPrioritizedReplay, ShardError

TIMEOUT = 10.0  # the service's timeout for a shard's answer


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Cluster, list[Any]]]:
    """A head node and two worker nodes, one CPU each; this module's own Ray connection."""
    if ray.is_initialized():  # the session's local Ray; conftest starts it again for later tests
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        yield cluster, workers
    finally:
        ray.shutdown()
        cluster.shutdown()


def alive_nodes() -> set[str]:
    return {n["NodeID"] for n in ray.nodes() if n["Alive"]}


def test_shards_spread_over_the_nodes_and_a_node_death_is_survivable(cluster, tmp_path):
    cluster_, workers = cluster
    assert len(alive_nodes()) == 3
    replay = ShardedPrioritizedReplay(capacity=3000, num_shards=3, timeout=TIMEOUT, random_seed=0)
    try:
        # placement: the shards take the nodes in turn, one each
        assert set(replay.nodes) == alive_nodes()
        writer = replay.writer(flush_every=50, first_shard=0)
        for start in range(0, 600, 50):
            writer.add({"id": np.arange(start, start + 50), "obs": np.zeros((50, 4), np.float32)})
        writer.flush()
        folder = replay.checkpoint(tmp_path / "ckpt")  # every shard writes its own file
        for start in range(600, 900, 50):  # written after the checkpoint: at risk
            writer.add({"id": np.arange(start, start + 50), "obs": np.zeros((50, 4), np.float32)})
        writer.flush()
        assert len(replay) == 900
        stream = replay.stream(64, prefetch=2)
        next(stream)

        # a worker node the driver is not attached to (Ray may attach it to any local node)
        driver = ray.get_runtime_context().get_node_id()
        victim = next(w for w in workers if w.node_id != driver)
        shard = replay.nodes.index(victim.node_id)
        cluster_.remove_node(victim)
        started = time.monotonic()
        with pytest.raises(ShardError) as info:
            for _ in range(1000):  # a draw already in flight may have been answered before
                batch, _, _ = next(stream)
                assert batch["id"].max() < 900  # never a corrupted sample
        elapsed = time.monotonic() - started
        assert elapsed < TIMEOUT + 30
        err = info.value
        assert err.shard == shard and err.node == victim.node_id
        assert f"replay shard {shard} (node {victim.node_id[:12]})" in str(err)
        assert "\n" not in str(err)
        with pytest.raises(ShardError, match=f"replay shard {shard} "):
            replay.sample(8)

        # restore the last checkpoint onto the nodes alive
        replay.restore(folder)
        assert set(replay.nodes) <= alive_nodes() and len(alive_nodes()) == 2
        assert len(replay) == 600  # lost: exactly the 300 written since the checkpoint
        for _ in range(5):
            batch, _, _ = next(stream)  # the stream carries on, on the new shards
            assert batch["id"].max() < 600
        # the writer made before the node died re-binds to the new shards
        writer.add({"id": np.arange(900, 950), "obs": np.ones((50, 4), np.float32)})
        writer.flush()
        assert writer.rebinds == 1 and len(replay) == 650
    finally:
        replay.close()
