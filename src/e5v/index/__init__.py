"""Durable vector index of a collection (LanceDB) and search over it.

>>> from e5v.collection import read_collection
>>> from e5v.index import VectorStore, index_collection, search
>>> report = index_collection(read_collection("photos/"), "photos.e5v", embedder)
>>> hits = search(VectorStore.open("photos.e5v"), embedder, text="a red car", k=5)
"""

from __future__ import annotations

from e5v.index.indexer import IndexReport, index_collection, missing_ids
from e5v.index.info import IndexInfo, ModelMismatchError
from e5v.index.protocol import EncoderLike
from e5v.index.query import embed_query, make_query, search
from e5v.index.store import ANN_KINDS, Hit, IndexNotFoundError, VectorStore

__all__ = [
    "ANN_KINDS",
    "EncoderLike",
    "Hit",
    "IndexInfo",
    "IndexNotFoundError",
    "IndexReport",
    "ModelMismatchError",
    "VectorStore",
    "embed_query",
    "index_collection",
    "make_query",
    "missing_ids",
    "search",
]
