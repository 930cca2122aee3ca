"""Every loader on small files written in the dataset's real format, and its error messages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fake_eval_data import write_karpathy, write_mmeb, write_senteval

from e5v.evaluation import DataError, EvalOptions, get, load_benchmark
from e5v.inputs import Interleaved

OPTIONS = EvalOptions()


def load(name: str, root: Path, options: EvalOptions = OPTIONS):
    return load_benchmark(get(name), root, options)


@pytest.mark.parametrize("name", ["flickr30k", "coco"])
def test_karpathy(data_root, name):
    data = load(name, data_root)
    assert len(data.images) == 4  # train images dropped
    assert len(data.captions) == 20  # 5 per image; the 6th caption of the last image dropped
    np.testing.assert_array_equal(data.text_to_image, np.repeat(np.arange(4), 5))
    assert data.captions[7].endswith(" 1-2.")
    assert all(p.is_file() for p in data.images)
    if name == "coco":
        assert data.images[0].parent.name == "val2014"
    every = load(name, data_root, EvalOptions(max_captions=None))
    assert len(every.captions) == 21


def test_karpathy_errors(tmp_path):
    with pytest.raises(DataError, match=r"flickr30k.*dataset_flickr30k.json"):
        load("flickr30k", tmp_path)
    write_karpathy(tmp_path, "flickr30k")
    (tmp_path / "flickr30k" / "images" / "img2.jpg").unlink()
    with pytest.raises(DataError, match=r"1 of 4 images not found.*img2.jpg"):
        load("flickr30k", tmp_path)
    (tmp_path / "flickr30k" / "dataset_flickr30k.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load("flickr30k", tmp_path)
    (tmp_path / "flickr30k" / "dataset_flickr30k.json").write_text(
        json.dumps({"images": [{"split": "test"}]})
    )
    with pytest.raises(DataError, match="missing field 'filename'"):
        load("flickr30k", tmp_path)


def test_karpathy_from_hub_format(tmp_path):
    """The hub loader reads a `datasets` repository; here a local parquet folder of that format."""
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    ds = datasets.Dataset.from_dict(
        {
            "image": [Image.new("RGB", (8, 8), (i * 40, 0, 0)) for i in range(3)],
            "text": [[f"caption {i}-{j}" for j in range(6)] for i in range(3)],
        }
    ).cast_column("image", datasets.Image())
    (tmp_path / "repo").mkdir()
    ds.to_parquet(str(tmp_path / "repo" / "test.parquet"))
    data = load_benchmark(get("flickr30k"), None, OPTIONS, hub_id=str(tmp_path / "repo"))
    assert len(data.images) == 3 and len(data.captions) == 15
    assert data.captions[5] == "caption 1-0"
    assert data.images[1].getpixel((0, 0)) == (40, 0, 0)


def test_cirr_val_and_test(data_root):
    val = load("cirr", data_root)
    assert len(val.gallery) == 8 and len(val.captions) == 5
    assert val.gallery_ids[0] == "dev-0-0-img0"
    q = 3
    assert val.references[q] == q and val.targets[q] == (q + 2) % 8
    assert val.subsets[q] == [(q + j) % 8 for j in range(6)]
    assert val.pair_ids[q] == 1003
    test = load("cirr-test", data_root)
    assert test.targets is None and test.split == "test1"


def test_cirr_errors(tmp_path, data_root):
    with pytest.raises(DataError, match=r"cap\.rc2\.val\.json"):
        load("cirr", tmp_path)
    shutil.copytree(data_root / "cirr", tmp_path / "cirr")
    caps = json.loads((tmp_path / "cirr/captions/cap.rc2.val.json").read_text())
    caps[0]["target_hard"] = "not-an-image"
    (tmp_path / "cirr/captions/cap.rc2.val.json").write_text(json.dumps(caps))
    with pytest.raises(DataError, match="'not-an-image' is not in"):
        load("cirr", tmp_path)


def test_fashioniq(data_root):
    data = load("fashioniq", data_root)
    assert list(data.splits) == ["shirt", "dress", "toptee"]  # the paper's table order
    dress = data.splits["dress"]
    assert len(dress.gallery) == 5 and len(dress.captions) == 3
    assert dress.references[1] == dress.gallery[1] and dress.targets[1] == 2
    assert dress.captions[0][0].startswith("is ")


def test_fashioniq_missing_category(tmp_path, data_root):
    shutil.copytree(data_root / "fashioniq", tmp_path / "fashioniq")
    (tmp_path / "fashioniq/captions/cap.toptee.val.json").unlink()
    with pytest.raises(DataError, match=r"toptee.*cap\.toptee\.val\.json"):
        load("fashioniq", tmp_path)


def test_sts_years(data_root):
    data = load("sts12", data_root)
    assert list(data.subsets) == ["MSRpar", "MSRvid", "SMTeuroparl", "surprise.OnWN", "surprise.SMTnews"]
    first, second, gold = data.subsets["MSRpar"]
    assert len(first) == len(second) == len(gold) == 3  # the unscored pair is dropped
    assert '"quoted"' in first[0] and second[0].endswith("?")
    for name, n_subsets in (("sts13", 3), ("sts14", 6), ("sts15", 5), ("sts16", 5)):
        assert len(load(name, data_root).subsets) == n_subsets


def test_stsb_and_sick(data_root):
    stsb = load("stsb", data_root)
    first, _, gold = stsb.subsets["test"]
    assert len(first) == 6 and gold.dtype == float
    sick = load("sick-r", data_root)
    assert len(sick.subsets["test"][0]) == 5  # header skipped


def test_sts_errors(tmp_path):
    write_senteval(tmp_path)
    folder = tmp_path / "senteval/STS/STS13-en-test"
    (folder / "STS.gs.FNWN.txt").write_text("1.0\n")
    with pytest.raises(DataError, match="4 sentence pairs but 1 gold"):
        load("sts13", tmp_path)
    (folder / "STS.input.headlines.txt").unlink()
    (folder / "STS.gs.FNWN.txt").unlink()
    with pytest.raises(DataError, match=r"STS\.gs\.FNWN\.txt"):
        load("sts13", tmp_path)
    (tmp_path / "senteval/STS/STSBenchmark/sts-test.csv").write_text("a\tb\tc\n")
    with pytest.raises(DataError, match="expected 7 tab-separated"):
        load("stsb", tmp_path)


def test_sts_from_hub_format(tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict(
        {"sentence1": ["a b", "c d"], "sentence2": ["e f", "g h"], "score": [1.0, 4.0]}
    )
    (tmp_path / "repo").mkdir()
    ds.to_parquet(str(tmp_path / "repo" / "test.parquet"))
    data = load_benchmark(get("stsb"), None, OPTIONS, hub_id=str(tmp_path / "repo"))
    assert data.subsets["test"][0] == ["a b", "c d"]


def test_mmeb(data_root):
    opts = EvalOptions(mmeb_datasets=("ImageNet-1K", "MSCOCO_t2i"))
    data = load("mmeb", data_root, opts)
    cls, t2i = data.datasets
    assert cls.meta_task == "classification" and t2i.meta_task == "retrieval"
    assert isinstance(cls.queries[0], Interleaved)
    assert cls.queries[0].text == "Represent the given image for classification"
    assert cls.candidate_ids.shape == (3, 4)
    assert len(cls.candidates) == 6  # labels shared across queries are embedded once
    assert cls.candidates[cls.candidate_ids[1, 0]] == "blue"  # WORDS[1], the positive of query 1
    assert isinstance(t2i.queries[0], str) and isinstance(t2i.candidates[0], Interleaved)


def test_mmeb_errors(tmp_path, data_root):
    with pytest.raises(DataError, match=r"36 of 36 datasets not found.*ImageNet-1K"):
        load("mmeb", tmp_path)
    write_mmeb(tmp_path, ("OK-VQA",))
    (tmp_path / "mmeb/eval_images/OK-VQA/Query/1.jpg").unlink()
    with pytest.raises(DataError, match=r"image not found.*OK-VQA/Query/1\.jpg"):
        load("mmeb", tmp_path, EvalOptions(mmeb_datasets=("OK-VQA",)))


def test_long_captions(data_root):
    share = load("sharegpt4v-1k", data_root)
    assert len(share.images) == 4 and "\n" not in share.captions[0]
    np.testing.assert_array_equal(share.text_to_image, np.arange(4))
    urban = load("urban1k", data_root)
    assert [p.name for p in urban.images] == ["1.jpg", "2.jpg", "3.jpg", "4.jpg"]
    assert urban.captions[0].endswith(".")


def test_long_caption_errors(tmp_path, data_root):
    with pytest.raises(DataError, match=r"Urban1K images.*urban1k/image"):
        load("urban1k", tmp_path)
    shutil.copytree(data_root / "urban1k", tmp_path / "urban1k")
    (tmp_path / "urban1k/image/3.jpg").unlink()
    with pytest.raises(DataError, match=r"3\.txt has no image"):
        load("urban1k", tmp_path)


def test_sugarcrepe(data_root):
    data = load("sugarcrepe", data_root)
    assert len(data.subsets) == 7
    images, pos, neg = data.subsets["swap_att"]
    assert len(images) == len(pos) == len(neg) == 3


def test_no_data_root_and_unknown_benchmark(tmp_path):
    with pytest.raises(DataError, match="no data root"):
        load_benchmark(get("sts12"), None, OPTIONS)
    with pytest.raises(DataError, match="no hub loader"):
        load_benchmark(get("sharegpt4v-1k"), tmp_path, OPTIONS, hub=True)
    with pytest.raises(KeyError, match="unknown benchmark"):
        get("imagenet")
