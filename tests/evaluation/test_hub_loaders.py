"""Hub loaders: in-memory ``datasets`` tables with the published schemas give the same data objects
as the local loaders on the same content (``datasets.load_dataset`` is replaced, nothing is fetched)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from fake_eval_data import write_cirr, write_fashioniq, write_mmeb, write_sugarcrepe, write_urban1k
from PIL import Image

from e5v.evaluation import DataError, EvalOptions, get, load_benchmark
from e5v.evaluation.tasks.composed import FASHIONIQ_CATEGORIES
from e5v.evaluation.tasks.sugarcrepe import SUBSETS
from e5v.inputs import Interleaved

datasets = pytest.importorskip("datasets")

OPTIONS = EvalOptions()
MMEB_NAMES = ("ImageNet-1K", "MSCOCO_t2i")


@pytest.fixture
def hub(monkeypatch):
    """``hub[(repo, config, split)] = Dataset``: what ``datasets.load_dataset`` returns."""
    tables: dict[tuple[str, str | None, str], object] = {}

    def load_dataset(repo, name=None, split=None, **kwargs):
        key = (repo, name, split)
        if key not in tables:
            raise FileNotFoundError(f"no such table {key}")
        return tables[key]

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return tables


def load_hf(name: str, hub_id: str | None = None, options: EvalOptions = OPTIONS):
    return load_benchmark(get(name), None, options, hub=True, hub_id=hub_id)


def pixels(image) -> np.ndarray:
    with Image.open(image) if isinstance(image, Path) else image as im:
        return np.asarray(im.convert("RGB"))


def same_images(a: list, b: list) -> bool:
    return len(a) == len(b) and all(np.array_equal(pixels(x), pixels(y)) for x, y in zip(a, b, strict=True))


def image_table(rows: dict[str, list], image_columns: tuple[str, ...]):
    ds = datasets.Dataset.from_dict(rows)
    for col in image_columns:
        ds = ds.cast_column(col, datasets.Image())
    return ds


def zip_folder(folder: Path, archive: Path, prefix: str) -> Path:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w") as zf:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                zf.write(file, f"{prefix}/{file.relative_to(folder)}")
    return archive


# ---------------------------------------------------------------- MMEB


def mmeb_tables(hub, root: Path, repo: str, drop: str | None = None) -> None:
    for name in MMEB_NAMES:
        table = pq.read_table(next((root / "mmeb" / name).glob("*.parquet")))
        ds = datasets.Dataset(table)
        hub[(repo, name, "test")] = ds.remove_columns(drop) if drop else ds


def image_paths(data) -> list[Path]:
    items = [i for d in data.datasets for i in (*d.queries, *d.candidates)]
    return [i.image if isinstance(i, Interleaved) else i for i in items if not isinstance(i, str)]


def test_mmeb_hub_equals_local(hub, tmp_path, monkeypatch):
    write_mmeb(tmp_path, MMEB_NAMES)
    options = EvalOptions(mmeb_datasets=MMEB_NAMES)
    local = load_benchmark(get("mmeb"), tmp_path, options)
    mmeb_tables(hub, tmp_path, "TIGER-Lab/MMEB-eval")
    monkeypatch.setenv("E5V_MMEB_IMAGES", str(tmp_path / "mmeb" / "eval_images"))
    data = load_hf("mmeb", options=options)
    assert [d.name for d in data.datasets] == list(MMEB_NAMES)
    for a, b in zip(data.datasets, local.datasets, strict=True):
        assert (a.name, a.meta_task) == (b.name, b.meta_task)
        assert a.queries == b.queries and a.candidates == b.candidates
        np.testing.assert_array_equal(a.candidate_ids, b.candidate_ids)


def test_mmeb_hub_unpacks_images_zip(hub, tmp_path, monkeypatch):
    """No $E5V_MMEB_IMAGES: images.zip of the repository (here a local snapshot) is unpacked once."""
    write_mmeb(tmp_path, MMEB_NAMES)
    options = EvalOptions(mmeb_datasets=MMEB_NAMES)
    local = load_benchmark(get("mmeb"), tmp_path, options)
    repo = tmp_path / "snapshot"
    zip_folder(tmp_path / "mmeb" / "eval_images", repo / "images.zip", prefix="eval_images")
    mmeb_tables(hub, tmp_path, str(repo))
    monkeypatch.delenv("E5V_MMEB_IMAGES", raising=False)
    monkeypatch.setenv("E5V_HUB_DATA", str(tmp_path / "cache"))
    data = load_hf("mmeb", hub_id=str(repo), options=options)
    got, want = image_paths(data), image_paths(local)
    assert all(p.is_file() and (tmp_path / "cache") in p.parents for p in got)
    unpacked = next((tmp_path / "cache").rglob("eval_images"))  # the zip's own top folder
    local_root = tmp_path / "mmeb" / "eval_images"
    assert [p.relative_to(unpacked) for p in got] == [p.relative_to(local_root) for p in want]
    (repo / "images.zip").unlink()  # a second run reads the unpacked folder
    again = load_hf("mmeb", hub_id=str(repo), options=options)
    assert image_paths(again) == got


def test_mmeb_hub_errors(hub, tmp_path, monkeypatch):
    write_mmeb(tmp_path, MMEB_NAMES)
    options = EvalOptions(mmeb_datasets=MMEB_NAMES)
    mmeb_tables(hub, tmp_path, "TIGER-Lab/MMEB-eval", drop="tgt_img_path")
    monkeypatch.setenv("E5V_MMEB_IMAGES", str(tmp_path / "mmeb" / "eval_images"))
    with pytest.raises(
        DataError, match=r"TIGER-Lab/MMEB-eval \(ImageNet-1K\): missing columns \['tgt_img_path'\]"
    ):
        load_hf("mmeb", options=options)
    mmeb_tables(hub, tmp_path, "TIGER-Lab/MMEB-eval")
    (tmp_path / "elsewhere" / "x").mkdir(parents=True)
    monkeypatch.setenv("E5V_MMEB_IMAGES", str(tmp_path / "elsewhere"))
    with pytest.raises(DataError, match=r"MMEB images: 'ImageNet-1K/Query/0\.jpg' not found"):
        load_hf("mmeb", options=options)
    with pytest.raises(DataError, match=r"could not load 'TIGER-Lab/MMEB-eval' \(config 'OK-VQA'"):
        load_hf("mmeb", options=EvalOptions(mmeb_datasets=("OK-VQA",)))


# ---------------------------------------------------------------- SugarCrepe


def sugarcrepe_tables(hub, root: Path, swap: bool = False, drop: str | None = None) -> None:
    docs = {s: json.loads((root / "sugarcrepe" / "data" / f"{s}.json").read_text()) for s in SUBSETS}
    labels = sorted(
        {r[k] for d in docs.values() for r in d.values() for k in ("caption", "negative_caption")}
    )
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "tested_labels": datasets.Sequence(datasets.Value("string")),
            "true_label": datasets.ClassLabel(names=labels),
        }
    )
    for subset, doc in docs.items():
        records = list(doc.values())
        rows = {
            "image": [str(root / "sugarcrepe" / "images" / r["filename"]) for r in records],
            "tested_labels": [
                [r["negative_caption"], r["caption"]] if swap else [r["caption"], r["negative_caption"]]
                for r in records
            ],
            "true_label": [labels.index(r["caption"]) for r in records],
        }
        ds = datasets.Dataset.from_dict(rows, features=features)
        hub[(f"HuggingFaceM4/SugarCrepe_{subset}", None, "test")] = ds.remove_columns(drop) if drop else ds


@pytest.mark.parametrize("swap", [False, True])
def test_sugarcrepe_hub_equals_local(hub, tmp_path, swap):
    write_sugarcrepe(tmp_path)
    local = load_benchmark(get("sugarcrepe"), tmp_path, OPTIONS)
    sugarcrepe_tables(hub, tmp_path, swap=swap)
    data = load_hf("sugarcrepe")
    assert list(data.subsets) == list(local.subsets) == list(SUBSETS)
    for subset, (images, pos, neg) in data.subsets.items():
        l_images, l_pos, l_neg = local.subsets[subset]
        assert pos == l_pos and neg == l_neg
        assert all(isinstance(i, Image.Image) for i in images)
        assert same_images(images, l_images)


def test_sugarcrepe_hub_errors(hub, tmp_path):
    write_sugarcrepe(tmp_path)
    sugarcrepe_tables(hub, tmp_path, drop="true_label")
    with pytest.raises(
        DataError, match=r"HuggingFaceM4/SugarCrepe_replace_obj: missing columns \['true_label'\]"
    ):
        load_hf("sugarcrepe")
    with pytest.raises(DataError, match=r"could not load 'my/repo' \(config 'replace_obj'"):
        load_hf("sugarcrepe", hub_id="my/repo")  # no {subset}: one config per subset


# ---------------------------------------------------------------- CIRR


def cirr_tables(hub, root: Path, pairid: bool = True, group: str = "list", drop: str | None = None) -> None:
    base = root / "cirr"
    for split, hub_split, repo in (
        ("val", "val", "royokong/cirr_val"),
        ("test1", "test", "royokong/cirr_test"),
    ):
        split_map = json.loads((base / "image_splits" / f"split.rc2.{split}.json").read_text())
        files = {name: str((base / "img_raw" / rel).resolve()) for name, rel in split_map.items()}
        hub[("royokong/cirr_imgs", None, hub_split)] = image_table(
            {
                "id": list(files),
                "img": list(files.values()),
                "category": ["cirr"] * len(files),
                "split": [split] * len(files),
            },
            ("img",),
        )
        caps = json.loads((base / "captions" / f"cap.rc2.{split}.json").read_text())
        rows: dict[str, list] = {
            "candidate": [files[c["reference"]] for c in caps],
            "candidate_id": [c["reference"] for c in caps],
            "caption": [c["caption"] for c in caps],
            "group": [
                c["img_set"]["members"]
                if group == "list"
                else c["img_set"]
                if group == "dict"
                else c["img_set"]["id"]
                for c in caps
            ],
            "split": [split] * len(caps),
        }
        if split == "val":
            rows["target"] = [files[c["target_hard"]] for c in caps]
            rows["target_id"] = [c["target_hard"] for c in caps]
        if pairid or split == "test1":
            rows["pairid"] = [c["pairid"] for c in caps]
        ds = image_table(rows, ("candidate", "target") if split == "val" else ("candidate",))
        hub[(repo, None, hub_split)] = ds.remove_columns(drop) if drop in ds.column_names else ds


@pytest.mark.parametrize("name", ["cirr", "cirr-test"])
@pytest.mark.parametrize("group", ["list", "dict"])
def test_cirr_hub_equals_local(hub, tmp_path, name, group):
    write_cirr(tmp_path)
    local = load_benchmark(get(name), tmp_path, OPTIONS)
    cirr_tables(hub, tmp_path, group=group)
    data = load_hf(name)
    assert data.split == local.split and data.gallery_ids == local.gallery_ids
    assert data.pair_ids == local.pair_ids and data.captions == local.captions
    assert data.subsets == local.subsets
    np.testing.assert_array_equal(data.references, local.references)
    if local.targets is None:
        assert data.targets is None
    else:
        np.testing.assert_array_equal(data.targets, local.targets)
    assert same_images(data.gallery, local.gallery)


def test_cirr_hub_without_pairid_and_errors(hub, tmp_path):
    write_cirr(tmp_path)
    cirr_tables(hub, tmp_path, pairid=False)
    assert load_hf("cirr").pair_ids == [0, 1, 2, 3, 4]  # row numbers (val needs no pair ids)
    cirr_tables(hub, tmp_path, group="id")
    with pytest.raises(DataError, match=r"royokong/cirr_val\[0\]: column 'group' is int"):
        load_hf("cirr")
    cirr_tables(hub, tmp_path, drop="target_id")
    with pytest.raises(DataError, match=r"royokong/cirr_val: missing columns \['target_id'\]"):
        load_hf("cirr")
    cirr_tables(hub, tmp_path)
    hub[("other/imgs", None, "val")] = hub[("royokong/cirr_imgs", None, "val")].select(range(3))
    with pytest.raises(DataError, match=r"is not in other/imgs"):
        load_hf("cirr", hub_id="royokong/cirr_val+other/imgs")


# ---------------------------------------------------------------- FashionIQ


def fashioniq_tables(hub, root: Path, drop: str | None = None, outside: bool = False) -> None:
    base = root / "fashioniq"
    imgs: dict[str, list] = {"id": [], "img": [], "category": [], "split": []}
    rows: dict[str, list] = {k: [] for k in ("candidate", "candidate_id", "caption", "category", "split")}
    rows.update(target=[], target_id=[])
    for cat in ("dress", "shirt", "toptee"):
        ids = json.loads((base / "image_splits" / f"split.{cat}.val.json").read_text())
        for i in ids:
            imgs["id"].append(i)
            imgs["img"].append(str(base / "images" / f"{i}.png"))
            imgs["category"].append(cat)
            imgs["split"].append("val")
        for c in json.loads((base / "captions" / f"cap.{cat}.val.json").read_text()):
            rows["candidate"].append(str(base / "images" / f"{c['candidate']}.png"))
            rows["candidate_id"].append(c["candidate"])
            rows["caption"].append(c["captions"])
            rows["category"].append(cat)
            rows["split"].append("val")
            rows["target"].append(str(base / "images" / f"{c['target']}.png"))
            rows["target_id"].append(c["target"])
    if outside:  # the first dress query's candidate is not in the dress gallery
        rows["candidate_id"][0] = "not-in-gallery"
    ds = image_table(rows, ("candidate", "target"))
    hub[("royokong/fashioniq_val", None, "val")] = ds.remove_columns(drop) if drop else ds
    hub[("royokong/fashioniq_val_imgs", None, "val")] = image_table(imgs, ("img",))


def test_fashioniq_hub_equals_local(hub, tmp_path):
    write_fashioniq(tmp_path)
    local = load_benchmark(get("fashioniq"), tmp_path, OPTIONS)
    fashioniq_tables(hub, tmp_path)
    data = load_hf("fashioniq")
    assert list(data.splits) == list(local.splits) == list(FASHIONIQ_CATEGORIES)
    for cat, split in data.splits.items():
        want = local.splits[cat]
        assert split.category == want.category and split.gallery_ids == want.gallery_ids
        assert split.captions == want.captions
        np.testing.assert_array_equal(split.targets, want.targets)
        assert same_images(split.gallery, want.gallery)
        assert same_images(split.references, want.references)
        assert all(any(r is g for g in split.gallery) for r in split.references)  # shared, not re-decoded


def test_fashioniq_hub_candidate_image_and_errors(hub, tmp_path):
    write_fashioniq(tmp_path)
    local = load_benchmark(get("fashioniq"), tmp_path, OPTIONS)
    fashioniq_tables(hub, tmp_path, outside=True)
    dress = load_hf("fashioniq").splits["dress"]
    assert not any(dress.references[0] is g for g in dress.gallery)  # read from the `candidate` column
    assert same_images(dress.references, local.splits["dress"].references)
    fashioniq_tables(hub, tmp_path, drop="caption")
    with pytest.raises(DataError, match=r"royokong/fashioniq_val: missing columns \['caption'\]"):
        load_hf("fashioniq")


# ---------------------------------------------------------------- Urban1K


def test_urban1k_hub_zip(tmp_path, monkeypatch):
    write_urban1k(tmp_path)
    local = load_benchmark(get("urban1k"), tmp_path, OPTIONS)
    repo = tmp_path / "snapshot"
    zip_folder(tmp_path / "urban1k", repo / "Urban1k.zip", prefix="Urban1k")
    monkeypatch.setenv("E5V_HUB_DATA", str(tmp_path / "cache"))
    data = load_hf("urban1k", hub_id=str(repo))
    assert data.captions == local.captions
    np.testing.assert_array_equal(data.text_to_image, local.text_to_image)
    assert [p.name for p in data.images] == [p.name for p in local.images]
    assert all((tmp_path / "cache") in p.parents for p in data.images)
    zip_folder(tmp_path / "urban1k" / "image", repo / "images-only.zip", prefix="x")
    with pytest.raises(DataError, match=r"no folder with image/ and caption/ in images-only\.zip"):
        load_hf("urban1k", hub_id=f"{repo}+images-only.zip")


# ---------------------------------------------------------------- the CLI with --hub


def test_cli_run_from_hub(hub, tmp_path, tiny):
    from typer.testing import CliRunner

    from e5v import Embedder
    from e5v.cli import app

    model, processor = tiny("llava")
    model_dir = tmp_path / "tiny-llava"
    Embedder(model, processor).save_pretrained(model_dir)
    write_sugarcrepe(tmp_path)
    sugarcrepe_tables(hub, tmp_path)
    out = tmp_path / "r.json"
    args = ["eval", "run", "sugarcrepe", "--hub", "-m", str(model_dir), "-o", str(out), "--no-cache"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "SugarCrepe" in result.output
    saved = json.loads(out.read_text())
    assert saved["settings"]["hub"] is True
    assert saved["benchmarks"]["sugarcrepe"]["details"]["n_pairs"]["swap_att"] == 3
    missing = CliRunner().invoke(app, [*args[:4], "--hub-id", "sugarcrepe=nowhere/{subset}", *args[4:]])
    assert missing.exit_code == 2 and "nowhere/replace_obj" in missing.output
