"""Scale out: batch embedding on Ray Data (local or cluster), written as resumable parquet shards.

>>> from e5v.collection import read_collection
>>> from e5v.scale import ray_embed, read_shards
>>> ray_embed(read_collection("photos/"), "vectors.parquet", model="smollm2-135m-instruct")
>>> ids, vectors, failed = read_shards("vectors.parquet")

See ``docs/scale.md`` for going from one machine to a cluster.
"""

from __future__ import annotations

from e5v.scale.ray_embed import RayEmbedReport, ShardWorker, ray_embed
from e5v.scale.shards import plan_shards, read_shards

__all__ = ["RayEmbedReport", "ShardWorker", "plan_shards", "ray_embed", "read_shards"]
