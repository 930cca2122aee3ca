"""Subprocess of the kill -9 test: index a collection with the tiny LLaVA model, small commits."""

from __future__ import annotations

import sys

import lancedb  # noqa: F401  (imported before START so that kills land in the indexing itself)
import tqdm.auto  # noqa: F401

from e5v import Embedder
from e5v.collection import read_collection
from e5v.index import index_collection
from e5v.testing import tiny_model

if __name__ == "__main__":
    collection, index_dir = sys.argv[1], sys.argv[2]
    embedder = Embedder(*tiny_model("llava"))
    records = read_collection(collection)
    print("START", flush=True)
    report = index_collection(records, index_dir, embedder, batch_size=4, commit_every=4, show_progress=False)
    print(f"DONE added={report.added} failed={len(report.failed)}", flush=True)
