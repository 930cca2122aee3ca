"""A durable vector store on LanceDB: vectors + id + source + kind + text + metadata, versioned.

Every :meth:`VectorStore.add` is one LanceDB commit (a new table version written atomically), so a
process killed at any point leaves the table at its last committed batch. Search is exact
(brute-force cosine) until an approximate index is built; then the index answers, with rescoring
of ``k * refine_factor`` candidates on the full-precision vectors.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from e5v.errors import E5VError
from e5v.index.info import INFO_KEY, IndexInfo, ModelMismatchError

logger = logging.getLogger(__name__)

TABLE = "items"
SearchMode = Literal["auto", "exact", "approx"]

#: Approximate index kinds: name -> (LanceDB config class, quantisation).
ANN_KINDS = {
    "ivf_pq": "IvfPq",  # product quantisation
    "ivf_hnsw_sq": "IvfHnswSq",  # HNSW graphs over int8 scalar-quantised vectors
    "ivf_rq": "IvfRq",  # RaBitQ 1-bit (binary) quantisation
}
#: Default rescoring per index kind: ``k * refine_factor`` candidates rescored on full vectors.
DEFAULT_REFINE = {"ivf_pq": 4, "ivf_hnsw_sq": 2, "ivf_rq": 10}
#: ``index_collection(..., ann="auto")`` builds an approximate index from this many rows on.
AUTO_ANN_MIN_ROWS = 100_000
DEFAULT_ANN = "ivf_hnsw_sq"


class IndexNotFoundError(E5VError, FileNotFoundError):
    """No e5v index at the given path."""


@dataclass(frozen=True)
class Hit:
    """One search result. ``score`` is the cosine similarity (higher is closer)."""

    id: str
    score: float
    source: str | None = None
    kind: str | None = None
    text: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "score": self.score,
            "source": self.source,
            "kind": self.kind,
            "text": self.text,
            "metadata": self.metadata,
        }


def _schema(info: IndexInfo) -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), info.dim)),
            pa.field("source", pa.string()),
            pa.field("kind", pa.string()),
            pa.field("text", pa.string()),
            pa.field("metadata", pa.string()),
        ],
        metadata={INFO_KEY: info.to_json().encode()},
    )


class VectorStore:
    """An e5v index: one LanceDB table in a folder, with its :class:`IndexInfo` in the schema."""

    def __init__(self, path: Path, table: Any, info: IndexInfo) -> None:
        self.path = path
        self._table = table
        self.info = info

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> VectorStore:
        """Open an existing index. Raises :class:`IndexNotFoundError` when there is none."""
        import lancedb

        path = Path(path)
        if not (path / f"{TABLE}.lance").exists():
            raise IndexNotFoundError(f"no e5v index at {path}")
        table = lancedb.connect(str(path)).open_table(TABLE)
        raw = (table.schema.metadata or {}).get(INFO_KEY)
        if raw is None:
            raise IndexNotFoundError(f"{path} holds a LanceDB table without e5v index information")
        return cls(path, table, IndexInfo.from_json(raw))

    @classmethod
    def open_or_create(cls, path: str | Path, info: IndexInfo) -> VectorStore:
        """Open the index at ``path`` (checking it matches ``info``) or create an empty one.

        Raises:
            ModelMismatchError: the existing index was built with another model, size or prompts.
        """
        import lancedb

        path = Path(path)
        try:
            store = cls.open(path)
        except IndexNotFoundError:
            path.mkdir(parents=True, exist_ok=True)
            table = lancedb.connect(str(path)).create_table(TABLE, schema=_schema(info), exist_ok=True)
            return cls(path, table, info)
        store.info.check_same_build(info)
        return store

    # -- writing ---------------------------------------------------------------------------------
    def add(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        sources: Sequence[str | None] | None = None,
        kinds: Sequence[str | None] | None = None,
        texts: Sequence[str | None] | None = None,
        metadata: Sequence[dict[str, Any] | None] | None = None,
    ) -> None:
        """Append rows in one atomic commit (callers keep ids unique; see :meth:`ids`)."""
        import pyarrow as pa

        n = len(ids)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (n, self.info.dim):
            raise ModelMismatchError(f"expected vectors of shape ({n}, {self.info.dim}), got {vectors.shape}")
        if n == 0:
            return
        none = [None] * n
        columns = {
            "id": pa.array([str(i) for i in ids], pa.string()),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), self.info.dim),
            "source": pa.array(list(sources or none), pa.string()),
            "kind": pa.array(list(kinds or none), pa.string()),
            "text": pa.array(list(texts or none), pa.string()),
            "metadata": pa.array(
                [json.dumps(m, ensure_ascii=False, default=str) if m else None for m in (metadata or none)],
                pa.string(),
            ),
        }
        self._table.add(pa.table(columns, schema=_schema(self.info)))

    def ids(self) -> list[str]:
        """Every stored id (in storage order; duplicates would show here)."""
        table = self._table.search().select(["id"]).limit(None).to_arrow()
        return table.column("id").to_pylist()

    def __len__(self) -> int:
        return self._table.count_rows()

    @property
    def version(self) -> int:
        """The LanceDB table version (one per commit)."""
        return self._table.version

    def vectors(self) -> tuple[list[str], np.ndarray]:
        """All ids and vectors, in storage order (for brute-force checks and exports)."""
        table = self._table.search().select(["id", "vector"]).limit(None).to_arrow()
        vecs = np.asarray(table.column("vector").combine_chunks().flatten(), dtype=np.float32)
        return table.column("id").to_pylist(), vecs.reshape(-1, self.info.dim)

    # -- approximate index ---------------------------------------------------------------------
    @property
    def ann_kind(self) -> str | None:
        """The approximate index on the vectors (a key of :data:`ANN_KINDS`), or ``None``."""
        for index in self._table.list_indices():
            if "vector" in index.columns:
                name = index.index_type.lower()
                return {"ivfpq": "ivf_pq", "ivfhnswsq": "ivf_hnsw_sq", "ivfrq": "ivf_rq"}.get(name, name)
        return None

    def build_ann(self, kind: str = DEFAULT_ANN, num_partitions: int | None = None, **options: Any) -> None:
        """(Re)build an approximate index over every row (training needs a few hundred rows).

        Args:
            kind: ``ivf_pq``, ``ivf_hnsw_sq`` (int8) or ``ivf_rq`` (binary, RaBitQ).
            num_partitions: IVF partitions; default about ``sqrt(rows)``.
            options: passed to the LanceDB index config (``num_sub_vectors``, ``m``...).
        """
        import lancedb.index as lance_index

        if kind not in ANN_KINDS:
            raise ValueError(f"unknown approximate index {kind!r}; choose one of {sorted(ANN_KINDS)}")
        rows = len(self)
        if num_partitions is None:
            num_partitions = max(1, min(4096, int(np.sqrt(rows))))
        config = getattr(lance_index, ANN_KINDS[kind])(
            distance_type=self.info.metric, num_partitions=num_partitions, **options
        )
        logger.info("building %s index over %d rows (%d partitions)", kind, rows, num_partitions)
        self._table.create_index("vector", config=config, replace=True)

    def optimize(self) -> None:
        """Compact small commits into larger files and add new rows to the approximate index."""
        self._table.optimize()

    # -- reading ---------------------------------------------------------------------------------
    def search(
        self,
        queries: np.ndarray,
        k: int = 10,
        *,
        model: str | None = None,
        mode: SearchMode = "auto",
        nprobes: int = 20,
        refine_factor: int | None = None,
        where: str | None = None,
    ) -> list[list[Hit]]:
        """Top-``k`` rows by cosine similarity for each query vector.

        Args:
            queries: ``[d]`` or ``[q, d]`` query vectors.
            k: results per query.
            model: name of the model that embedded the queries; refused if it is not the index's.
            mode: ``exact`` (brute force), ``approx`` (the approximate index, which must exist) or
                ``auto`` (the approximate index when there is one).
            nprobes: IVF partitions visited (approximate path).
            refine_factor: rescore ``k * refine_factor`` candidates with the full vectors
                (approximate path; ``None``: the kind's default in ``DEFAULT_REFINE``; ``0``: keep
                the quantised scores).
            where: optional SQL filter on the stored columns (trusted callers only).

        Raises:
            ModelMismatchError: another model, or vectors of another size.
        """
        queries = np.asarray(queries, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries[None, :]
        self.info.check_model(model, queries.shape[-1])
        if mode == "approx" and self.ann_kind is None:
            raise ValueError(
                "mode='approx' but the index has no approximate index; build one with build_ann()"
            )
        if not np.all(np.isfinite(queries)):
            raise ValueError("query vectors contain NaN or infinity")
        ann = self.ann_kind
        use_ann = ann is not None and mode != "exact"
        if use_ann and refine_factor is None:
            refine_factor = DEFAULT_REFINE.get(ann or "", 4)
        return [self._search_one(q, k, use_ann, nprobes, refine_factor, where) for q in queries]

    def _search_one(
        self, query: np.ndarray, k: int, use_ann: bool, nprobes: int, refine: int | None, where: str | None
    ) -> list[Hit]:
        builder = self._table.search(query, vector_column_name="vector").distance_type(self.info.metric)
        builder = builder.select(["id", "source", "kind", "text", "metadata", "_distance"]).limit(k)
        if not use_ann:
            builder = builder.bypass_vector_index()
        else:
            builder = builder.nprobes(nprobes)
            if refine:
                builder = builder.refine_factor(refine)
        if where:
            builder = builder.where(where, prefilter=True)
        rows = builder.to_arrow().to_pylist()
        return [
            Hit(
                id=row["id"],
                score=1.0 - float(row["_distance"]),
                source=row["source"],
                kind=row["kind"],
                text=row["text"],
                metadata=json.loads(row["metadata"]) if row["metadata"] else {},
            )
            for row in rows
        ]
