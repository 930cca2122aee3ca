"""Reading folders, manifests and text files into records."""

from __future__ import annotations

from pathlib import Path

import pytest
from index_helpers import make_folder, make_manifest

from e5v.collection import CollectionError, Record, read_collection
from e5v.inputs import Interleaved, Kind


def test_folder_lists_images_and_texts_with_relative_ids(tmp_path):
    records = read_collection(make_folder(tmp_path, n_images=3, n_texts=2))
    by_id = {r.id: r for r in records}
    assert sorted(by_id) == sorted(
        ["sub/img000.png", "img001.png", "img002.png", "text0.txt", "text1.txt", "broken.png", "empty.jpg"]
    )
    assert by_id["img001.png"].item == tmp_path / "img001.png" and by_id["img001.png"].kind is Kind.IMAGE
    assert by_id["text1.txt"].item == "a short text number 1" and by_id["text1.txt"].kind is Kind.TEXT
    assert by_id["sub/img000.png"].image_path == str(tmp_path / "sub" / "img000.png")


def test_jsonl_manifest_kinds_paths_and_metadata(tmp_path):
    records = {r.id: r for r in read_collection(make_manifest(tmp_path))}
    q1 = records["q1"]
    assert q1.item == Interleaved(image=tmp_path / "a.png", text="make it blue")
    assert q1.kind is Kind.INTERLEAVED and q1.metadata == {"split": "val"} and q1.text == "make it blue"
    assert records["t1"].item == "a photo of a dog" and records["t1"].kind is Kind.TEXT
    assert records["i1"].item == (tmp_path / "b.png").resolve() and records["i1"].metadata == {"label": 3}


def test_csv_manifest_and_text_file(tmp_path):
    (tmp_path / "m.csv").write_text('id,image,text,metadata\nx,a.png,,"{""k"": 1}"\ny,,hello,\n')
    records = read_collection(tmp_path / "m.csv")
    assert records == [
        Record(id="x", item=tmp_path / "a.png", source=str(tmp_path / "a.png"), metadata={"k": 1}),
        Record(id="y", item="hello", source=f"{tmp_path / 'm.csv'}:3", metadata={}),
    ]
    (tmp_path / "t.txt").write_text("first\n\nthird\n")
    assert [(r.id, r.item) for r in read_collection(tmp_path / "t.txt")] == [("0", "first"), ("2", "third")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', "duplicate"),
        ('{"id": "a"}\n', "needs an 'image' or a 'text'"),
        ("{not json\n", "invalid JSON"),
        ('{"text": 3}\n', "must be a string"),
    ],
)
def test_malformed_manifests_raise_with_location(tmp_path, content, message):
    (tmp_path / "m.jsonl").write_text(content)
    with pytest.raises(CollectionError, match=message):
        read_collection(tmp_path / "m.jsonl")


def test_unknown_layout_and_missing_path(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"")
    with pytest.raises(CollectionError, match="unknown collection layout"):
        read_collection(tmp_path / "x.bin")
    with pytest.raises(CollectionError, match="not found"):
        read_collection(Path(tmp_path / "missing"))
