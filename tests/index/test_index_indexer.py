"""index_collection + search with the tiny LLaVA model: bad items, incremental runs, query kinds."""

from __future__ import annotations

import numpy as np
import pytest
from index_helpers import make_folder, make_manifest, write_image

from e5v import Embedder
from e5v.collection import read_collection
from e5v.index import ModelMismatchError, VectorStore, index_collection, search
from e5v.inputs import Interleaved


def test_index_folder_reports_bad_items_and_stores_right_vectors(tmp_path, embedder):
    records = read_collection(make_folder(tmp_path / "c"))
    report = index_collection(
        records, tmp_path / "idx", embedder, batch_size=3, commit_every=4, show_progress=False
    )
    assert sorted(i for i, _ in report.failed) == ["broken.png", "empty.jpg"]
    assert all(reason for _, reason in report.failed)
    good = [r for r in records if r.id not in ("broken.png", "empty.jpg")]
    assert report.added == len(good) == 9 and report.total == 11

    store = VectorStore.open(tmp_path / "idx")
    assert store.info.model == embedder.name and store.info.dim == embedder.dim
    assert store.info.prompts == embedder.prompts.to_dict()
    ids, vectors = store.vectors()
    expected = embedder.encode([r.item for r in good], show_progress=False)  # the oracle: direct encode
    order = {r.id: i for i, r in enumerate(good)}
    np.testing.assert_allclose(vectors, expected[[order[i] for i in ids]], atol=1e-5)


def test_rerun_is_incremental_and_never_duplicates(tmp_path, embedder):
    root = make_folder(tmp_path / "c", n_images=3, n_texts=2)
    index_collection(read_collection(root), tmp_path / "idx", embedder, show_progress=False)
    again = index_collection(read_collection(root), tmp_path / "idx", embedder, show_progress=False)
    assert again.added == 0 and again.already_indexed == 5 and len(again.failed) == 2  # bad ones retried
    write_image(root / "new.png", seed=99)
    (root / "new.txt").write_text("one more text")
    third = index_collection(read_collection(root), tmp_path / "idx", embedder, show_progress=False)
    assert third.added == 2
    ids = VectorStore.open(tmp_path / "idx").ids()
    assert len(ids) == len(set(ids)) == 7


def test_text_image_and_composed_queries_find_their_item(tmp_path, embedder):
    records = read_collection(make_manifest(tmp_path))
    index_collection(records, tmp_path / "idx", embedder, show_progress=False)
    store = VectorStore.open(tmp_path / "idx")
    hits = search(store, embedder, text="a photo of a dog", k=3)
    assert hits[0].id == "t1" and hits[0].score == pytest.approx(1.0, abs=1e-4) and len(hits) == 3
    assert search(store, embedder, image=str(tmp_path / "b.png"), k=1)[0].id == "i1"
    composed = search(store, embedder, text="make it blue", image=tmp_path / "a.png", k=3)
    assert composed[0].id == "q1" and composed[0].metadata == {"split": "val"}
    # scores are the cosine of the query embedding with the stored ones, in decreasing order
    query = embedder.encode(
        [Interleaved(image=tmp_path / "a.png", text="make it blue")], show_progress=False
    )[0]
    ids, vectors = store.vectors()
    cos = dict(zip(ids, vectors @ query, strict=True))
    assert [h.id for h in composed] == sorted(cos, key=cos.get, reverse=True)
    np.testing.assert_allclose([h.score for h in composed], sorted(cos.values(), reverse=True), atol=1e-5)


def test_other_model_is_refused(tmp_path, embedder, tiny):
    index_collection(
        read_collection(make_manifest(tmp_path)), tmp_path / "idx", embedder, show_progress=False
    )
    other = Embedder(*tiny("llava"), name="another-model")
    store = VectorStore.open(tmp_path / "idx")
    with pytest.raises(ModelMismatchError, match="another-model"):
        search(store, other, text="a dog")
    with pytest.raises(ModelMismatchError):
        index_collection(
            read_collection(tmp_path / "items.jsonl"), tmp_path / "idx", other, show_progress=False
        )
    with pytest.raises(ModelMismatchError, match="prompts"):
        index_collection(
            read_collection(tmp_path / "items.jsonl"),
            tmp_path / "idx",
            embedder,
            prompt="last",
            show_progress=False,
        )
