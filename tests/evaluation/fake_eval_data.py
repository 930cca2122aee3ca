"""Write tiny datasets in each benchmark's real published format (for loader and end-to-end tests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

WORDS = [
    "red",
    "blue",
    "green",
    "dog",
    "cat",
    "bird",
    "runs",
    "sits",
    "jumps",
    "big",
    "small",
    "old",
    "young",
    "car",
    "tree",
    "house",
]


def image(path: Path, seed: int, size: tuple[int, int] = (24, 18)) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return path


def sentence(rng: np.random.Generator, n: int = 5) -> str:
    return " ".join(rng.choice(WORDS, size=n)).capitalize()


def write_karpathy(root: Path, name: str = "flickr30k", n_test: int = 4, n_train: int = 2) -> dict:
    """Karpathy split JSON; the last test image has 6 captions (only 5 are kept)."""
    rng = np.random.default_rng(len(name))
    records = []
    for i in range(n_test + n_train):
        split = "test" if i < n_test else "train"
        n_caps = 6 if i == n_test - 1 else 5
        filepath = "val2014" if name == "coco" else None
        filename = f"img{i}.jpg"
        folder = root / name / "images" / (filepath or "")
        image(folder / filename, seed=100 + i)
        record = {
            "filename": filename,
            "imgid": i,
            "split": split,
            "sentids": list(range(5 * i, 5 * i + n_caps)),
            "sentences": [
                {"raw": f"{sentence(rng)} {i}-{j}.", "tokens": [], "imgid": i, "sentid": 5 * i + j}
                for j in range(n_caps)
            ],
        }
        if filepath:
            record["filepath"] = filepath
        records.append(record)
    path = root / name / f"dataset_{name}.json"
    path.write_text(json.dumps({"images": records, "dataset": name}))
    return {"n_test": n_test}


def write_cirr(root: Path, n_images: int = 8, n_queries: int = 5) -> None:
    base = root / "cirr"
    rng = np.random.default_rng(7)
    for split, folder in (("val", "dev"), ("test1", "test1")):
        names = [f"{folder}-{i}-0-img{i % 2}" for i in range(n_images)]
        split_map = {n: f"./{folder}/{n}.png" for n in names}
        for k, n in enumerate(names):
            image(base / "img_raw" / folder / f"{n}.png", seed=200 + k + (50 if split == "test1" else 0))
        caps = []
        for q in range(n_queries):
            members = [names[(q + j) % n_images] for j in range(6)]
            rec = {
                "pairid": 1000 + q,
                "reference": members[0],
                "caption": f"make it {rng.choice(WORDS)}",
                "img_set": {"id": q, "members": members},
            }
            if split == "val":
                rec["target_hard"] = members[2]
                rec["target_soft"] = {members[2]: 1.0}
            caps.append(rec)
        (base / "captions").mkdir(parents=True, exist_ok=True)
        (base / "image_splits").mkdir(parents=True, exist_ok=True)
        (base / "captions" / f"cap.rc2.{split}.json").write_text(json.dumps(caps))
        (base / "image_splits" / f"split.rc2.{split}.json").write_text(json.dumps(split_map))


def write_fashioniq(root: Path, n_images: int = 5, n_queries: int = 3) -> None:
    base = root / "fashioniq"
    rng = np.random.default_rng(8)
    for c, cat in enumerate(("dress", "shirt", "toptee")):
        ids = [f"B00{cat}{i}" for i in range(n_images)]
        for i, name in enumerate(ids):
            image(base / "images" / f"{name}.png", seed=300 + 10 * c + i)
        caps = [
            {
                "target": ids[(q + 1) % n_images],
                "candidate": ids[q],
                "captions": [f"is {rng.choice(WORDS)}.", f"has {rng.choice(WORDS)} sleeves"],
            }
            for q in range(n_queries)
        ]
        (base / "captions").mkdir(parents=True, exist_ok=True)
        (base / "image_splits").mkdir(parents=True, exist_ok=True)
        (base / "captions" / f"cap.{cat}.val.json").write_text(json.dumps(caps))
        (base / "image_splits" / f"split.{cat}.val.json").write_text(json.dumps(ids))


STS_SUBSETS = {
    "12": ("MSRpar", "MSRvid", "SMTeuroparl", "surprise.OnWN", "surprise.SMTnews"),
    "13": ("FNWN", "headlines", "OnWN"),
    "14": ("deft-forum", "deft-news", "headlines", "images", "OnWN", "tweet-news"),
    "15": ("answers-forums", "answers-students", "belief", "headlines", "images"),
    "16": ("answer-answer", "headlines", "plagiarism", "postediting", "question-question"),
}


def write_senteval(root: Path, n_pairs: int = 4) -> None:
    """SentEval files; in every STS12-16 subset the 2nd pair has no gold score (dropped)."""
    rng = np.random.default_rng(9)
    sts = root / "senteval" / "STS"
    for year, subsets in STS_SUBSETS.items():
        folder = sts / f"STS{year}-en-test"
        folder.mkdir(parents=True, exist_ok=True)
        for subset in subsets:
            inputs = [f'{sentence(rng)} "quoted"\t{sentence(rng)}?' for _ in range(n_pairs)]
            gold = [f"{rng.uniform(0, 5):.3f}" for _ in range(n_pairs)]
            gold[1] = ""
            (folder / f"STS.input.{subset}.txt").write_text("\n".join(inputs) + "\n")
            (folder / f"STS.gs.{subset}.txt").write_text("\n".join(gold) + "\n")
    (sts / "STSBenchmark").mkdir(parents=True, exist_ok=True)
    rows = [
        f"main-captions\tMSRvid\t2012test\t{i:04d}\t{rng.uniform(0, 5):.2f}\t{sentence(rng)}\t{sentence(rng)}"
        for i in range(n_pairs + 2)
    ]
    (sts / "STSBenchmark" / "sts-test.csv").write_text("\n".join(rows) + "\n")
    sick = root / "senteval" / "SICK"
    sick.mkdir(parents=True, exist_ok=True)
    lines = ["pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment"]
    lines += [
        f"{i}\t{sentence(rng)}\t{sentence(rng)}\t{rng.uniform(1, 5):.1f}\tNEUTRAL" for i in range(n_pairs + 1)
    ]
    (sick / "SICK_test_annotated.txt").write_text("\n".join(lines) + "\n")


MMEB_SMALL = {
    "ImageNet-1K": "classification",
    "OK-VQA": "vqa",
    "MSCOCO_t2i": "retrieval",
    "MSCOCO": "grounding",
}


def write_mmeb(
    root: Path, datasets: tuple[str, ...] = tuple(MMEB_SMALL), n_queries: int = 3, n_cands: int = 4
) -> None:
    """MMEB-eval parquet files: image+instruction queries, text or image candidates."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = root / "mmeb"
    for d, name in enumerate(datasets):
        rows = {"qry_text": [], "qry_img_path": [], "tgt_text": [], "tgt_img_path": []}
        for q in range(n_queries):
            if name == "MSCOCO_t2i":  # text query, image candidates
                rows["qry_text"].append(
                    f"Find me an everyday image that matches the given caption: {WORDS[q]}"
                )
                rows["qry_img_path"].append("")
                paths = [f"{name}/cand{(q + j) % 5}.jpg" for j in range(n_cands)]
                for p in paths:
                    if not (base / "eval_images" / p).exists():
                        image(base / "eval_images" / p, seed=400 + d * 10 + int(p[-5]))
                rows["tgt_text"].append(["<|image_1|>\nRepresent the given image."] * n_cands)
                rows["tgt_img_path"].append(paths)
            else:  # image query, text candidates shared across queries
                path = f"{name}/Query/{q}.jpg"
                image(base / "eval_images" / path, seed=500 + d * 10 + q)
                rows["qry_text"].append("<|image_1|>\nRepresent the given image for classification")
                rows["qry_img_path"].append(path)
                labels = [WORDS[(q + j) % 6] for j in range(n_cands)]
                rows["tgt_text"].append(labels)
                rows["tgt_img_path"].append([""] * n_cands)
        (base / name).mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(rows), base / name / "test-00000-of-00001.parquet")


def write_sharegpt4v(root: Path, n: int = 4) -> None:
    base = root / "sharegpt4v"
    rng = np.random.default_rng(10)
    records = []
    for i in range(n):
        image(base / "coco" / "train2017" / f"{i:012d}.jpg", seed=600 + i)
        records.append(
            {
                "id": str(i),
                "image": f"coco/train2017/{i:012d}.jpg",
                "conversations": [
                    {"from": "human", "value": "<image>\nWhat is in the image?"},
                    {"from": "gpt", "value": f"{sentence(rng, 12)}.\n{sentence(rng, 12)}."},
                ],
            }
        )
    base.mkdir(parents=True, exist_ok=True)
    (base / "share-captioner_coco_lcs_sam_1246k_1107.json").write_text(json.dumps(records))


def write_urban1k(root: Path, n: int = 4) -> None:
    base = root / "urban1k"
    rng = np.random.default_rng(11)
    (base / "caption").mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        image(base / "image" / f"{i}.jpg", seed=700 + i)
        (base / "caption" / f"{i}.txt").write_text(f"{sentence(rng, 15)}.\n")


def write_sugarcrepe(root: Path, n: int = 3) -> None:
    base = root / "sugarcrepe"
    rng = np.random.default_rng(12)
    for i in range(4):
        image(base / "images" / f"00000000{i}.jpg", seed=800 + i)
    (base / "data").mkdir(parents=True, exist_ok=True)
    for subset in ("replace_obj", "replace_att", "replace_rel", "swap_obj", "swap_att", "add_obj", "add_att"):
        doc = {
            str(k): {
                "filename": f"00000000{k % 4}.jpg",
                "caption": sentence(rng),
                "negative_caption": sentence(rng),
            }
            for k in range(n)
        }
        (base / "data" / f"{subset}.json").write_text(json.dumps(doc))


def write_all(root: Path) -> Path:
    write_karpathy(root, "flickr30k")
    write_karpathy(root, "coco")
    write_cirr(root)
    write_fashioniq(root)
    write_senteval(root)
    write_mmeb(root)
    write_sharegpt4v(root)
    write_urban1k(root)
    write_sugarcrepe(root)
    return root
