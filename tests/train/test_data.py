"""Readers: good files parse; bad rows raise naming file and row, or are skipped and counted."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from e5v.train.data import (
    DataError,
    read_image_captions,
    read_instruction_pairs,
    read_sentences,
    read_triplets,
)


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_simcse_csv_triplets(tmp_path):
    f = write(
        tmp_path / "nli.csv", 'sent0,sent1,hard_neg\n"A man, sleeping.",A person rests.,A man runs.\nx,y,z\n'
    )
    data = read_triplets(f)
    assert len(data) == 2 and data[0].anchor == "A man, sleeping." and data[0].negative == "A man runs."


def test_pairs_without_hard_neg_column_and_jsonl(tmp_path):
    assert read_triplets(write(tmp_path / "p.csv", "sent0,sent1\na,b\n"))[0].negative is None
    f = write(tmp_path / "t.jsonl", json.dumps({"sent0": "a", "sent1": "b", "hard_neg": "c"}) + "\n\n")
    assert read_triplets(f)[0].negative == "c"


@pytest.mark.parametrize(
    ("content", "row", "reason"),
    [
        ("sent0,hard_neg\na,c\n", 1, "missing column 'sent1'"),
        ("sent0,sent1,hard_neg\na,b,c\na,,c\n", 2, "empty 'sent1'"),
        ("sent0,sent1,hard_neg\na,b,c\nd,e,f\n   ,b,c\n", 3, "empty 'sent0'"),
        ("sent0,sent1\na,b,c\n", 1, "cells"),
    ],
)
def test_bad_csv_rows_name_file_and_row(tmp_path, content, row, reason):
    f = write(tmp_path / "bad.csv", content)
    with pytest.raises(DataError) as info:
        read_triplets(f)
    assert info.value.row == row and reason in info.value.reason and str(f) in str(info.value)


def test_bad_jsonl_row(tmp_path):
    f = write(tmp_path / "bad.jsonl", '{"sent0": "a", "sent1": "b"}\n{"sent0": "a", \n')
    with pytest.raises(DataError, match=r"bad.jsonl, row 2: invalid JSON"):
        read_triplets(f)


def test_skip_and_count(tmp_path):
    f = write(tmp_path / "mixed.csv", "sent0,sent1,hard_neg\na,b,c\n,b,c\nd,e,f\ng,,h\n")
    data = read_triplets(f, on_error="skip")
    assert len(data) == 2 and data.report.skipped == 2 and "row 2" in data.report.examples[0]


def _images(tmp_path):
    Image.new("RGB", (8, 8), "red").save(tmp_path / "red.png")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")


def test_image_caption_references(tmp_path):
    _images(tmp_path)
    good = write(tmp_path / "ok.jsonl", json.dumps({"image": "red.png", "caption": "a red square"}) + "\n")
    assert read_image_captions(good)[0].image == tmp_path / "red.png"
    for name, reason in (
        ("missing.png", "image not found"),
        ("empty.png", "empty image"),
        ("text.png", "not a readable"),
    ):
        f = write(tmp_path / "bad.csv", f"image,caption\nred.png,ok\n{name},a caption\n")
        with pytest.raises(DataError, match=rf"bad.csv, row 2: {reason}"):
            read_image_captions(f)
    data = read_image_captions(f, on_error="skip")
    assert len(data) == 1 and data.report.skipped == 1


def test_mmeb_instruction_pairs(tmp_path):
    _images(tmp_path)
    rows = [
        {
            "qry": "<|image_1|> Represent the given image with the following question: what color?",
            "qry_image_path": "red.png",
            "pos_text": "red",
            "pos_image_path": "",
        },
        {
            "qry": "Find me an everyday image that matches the given caption: a red square",
            "qry_image_path": "",
            "pos_text": "",
            "pos_image_path": "red.png",
        },
    ]
    f = write(tmp_path / "mmeb.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    data = read_instruction_pairs(f)
    assert data[0].query.text == "Represent the given image with the following question: what color?"
    assert data[0].query.image == tmp_path / "red.png" and data[0].positive.image is None
    assert data[1].query.image is None and data[1].positive.text is None
    bad = write(
        tmp_path / "mmeb_bad.jsonl", json.dumps({**rows[0], "pos_text": "", "pos_image_path": None}) + "\n"
    )
    with pytest.raises(DataError, match="row 1: empty 'pos_text' and 'pos_image_path'"):
        read_instruction_pairs(bad)


def test_sentences_from_txt_and_triplets(tmp_path):
    assert read_sentences(write(tmp_path / "s.txt", "a\nb\na\n")).records == ["a", "b"]
    f = write(tmp_path / "t.csv", "sent0,sent1,hard_neg\na,b,c\nb,d,a\n")
    assert read_sentences(f).records == ["a", "b", "c", "d"]
    with pytest.raises(DataError, match="row 2: empty line"):
        read_sentences(write(tmp_path / "e.txt", "a\n\nb\n"))
