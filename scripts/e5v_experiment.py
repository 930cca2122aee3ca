"""The E5-V paper's claims (Tables 6 and 7, appendix B) reproduced in small on e5v-tiny, real images.

Rows (each reproduced by one command, results cached under ``~/.cache/e5v/experiment``):

* ``zero-shot``: representations ``last``, ``prompt`` and ``one_word`` of e5v-tiny, no training;
* ``text-train``: E5-V single-modality training (recipe ``e5v_text`` of ``e5v train``: LoRA on
  SmolLM2, the language model inside e5v-tiny, loaded text-only: no vision tower) on WordNet
  triplets from which every text equal to a held-out caption was removed; the merged model
  (trained LM inside e5v-tiny) is evaluated;
* ``mm-train``: the multimodal-training baseline (recipe ``multimodal_pairs``: the same loss and
  hyper-parameters on the TRAINING split's image-caption pairs).

Each row reports, on the held-out split of :mod:`e5v.zoo.pairs` (one image per caption, no
skin-tone variants): text->image and image->text Recall@1/5 with chance; composed retrieval on the
held-out emoji skin-tone variants (base image + "with dark skin tone" -> that variant); and the
modality gap (centroid distance, mean cosine matched / unmatched, PCA plot).

    python scripts/e5v_experiment.py --stage zero-shot|text-train|mm-train|all [--steps 100]

See docs/experiment.md for the results and their discussion.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger("e5v_experiment")

REPO = Path(__file__).resolve().parents[1]
WORDNET_CONFIG = REPO / "configs" / "train" / "wordnet_smollm2.yaml"
STAGES = ("zero-shot", "text-train", "mm-train")
TONES = ("light", "medium-light", "medium", "medium-dark", "dark")
#: Composed query (E5-V's CIRR query prompt with its typo fixed) and target prompts.
COMPOSED_QUERY = '<image>\nModify this image with "<text>", describe modified image in one word: '
COMPOSED_TARGET = "<image>\nSummary above image in one word: "


# ----------------------------------------------------------------------------- data


def one_per_caption(items: list[Any]) -> list[Any]:
    """First item (by id) of every caption group, so that each caption names exactly one image."""
    seen: set[str] = set()
    out = []
    for item in sorted(items, key=lambda it: it.id):
        if item.group not in seen:
            seen.add(item.group)
            out.append(item)
    return out


def eval_data(limit: int = 0) -> dict[str, Any]:
    """Held-out retrieval pairs and composed-retrieval queries."""
    from e5v.zoo.pairs import load_pairs

    heldout = load_pairs(split="heldout")
    pairs = one_per_caption([it for it in heldout if it.variant is None])
    emoji = {it.id: it for it in heldout if it.source == "emoji"}
    variants = sorted(
        (it for it in heldout if it.variant is not None and it.base_id in emoji), key=lambda it: it.id
    )
    if limit:
        pairs = pairs[:: max(1, len(pairs) // limit)]
        bases = sorted({v.base_id for v in variants})[: max(1, limit // 10)]
        variants = [v for v in variants if v.base_id in bases]
    return {"heldout": heldout, "pairs": pairs, "emoji": emoji, "variants": variants}


def normalise_text(text: str) -> str:
    """Lower case, no punctuation at the ends, no leading article: how captions are compared."""
    text = " ".join(text.lower().strip().strip(".!?,;:\"'").split())
    return re.sub(r"^(a|an|the) ", "", text)


# ----------------------------------------------------------------------------- metrics


def chance_recall(n_candidates: int, n_positives: int, k: int) -> float:
    """P(at least one of ``n_positives`` in the top ``k`` of a random ranking of ``n_candidates``)."""
    if k >= n_candidates - n_positives + 1:
        return 1.0
    miss = 1.0
    for i in range(k):
        miss *= (n_candidates - n_positives - i) / (n_candidates - i)
    return 1.0 - miss


def pct(x: float) -> float:
    return round(100.0 * x, 2)


def _centred(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=0, keepdims=True)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def category_1nn(emb: np.ndarray, labels: list[str]) -> float:
    """Leave-one-out 1-nearest-neighbour accuracy of ``labels`` (cosine): within-modality structure."""
    scores = emb @ emb.T
    np.fill_diagonal(scores, -np.inf)
    nearest = scores.argmax(axis=1)
    return float(np.mean([labels[j] == labels[i] for i, j in enumerate(nearest)]))


def random_neighbour_accuracy(labels: list[str]) -> float:
    """Chance for :func:`category_1nn`: the neighbour is another item drawn at random."""
    _, counts = np.unique(labels, return_counts=True)
    n = len(labels)
    return float(np.sum(counts * (counts - 1)) / (n * (n - 1)))


def retrieval_metrics(images: np.ndarray, texts: np.ndarray) -> dict[str, Any]:
    """Text->image and image->text R@1/5 with one caption per image (row i matches row i)."""
    from e5v.evaluation.gap import modality_gap
    from e5v.evaluation.metrics import recall_at_k, retrieval_ranks

    n = len(images)
    index = np.arange(n)
    t2i = recall_at_k(retrieval_ranks(texts, images, index), (1, 5))
    i2t = recall_at_k(retrieval_ranks(images, texts, index), (1, 5))
    gap = modality_gap(images, texts, index)
    # Diagnostic (not in the paper): subtract each modality's mean and re-normalise, which
    # removes the gap's constant offset; shows whether matching signal hides under the gap.
    ci, ct = _centred(images), _centred(texts)
    t2i_c = recall_at_k(retrieval_ranks(ct, ci, index), (1, 5))
    i2t_c = recall_at_k(retrieval_ranks(ci, ct, index), (1, 5))
    return {
        "n": n,
        "t2i": {f"R@{k}": pct(v) for k, v in t2i.items()},
        "i2t": {f"R@{k}": pct(v) for k, v in i2t.items()},
        "centred_t2i": {f"R@{k}": pct(v) for k, v in t2i_c.items()},
        "centred_i2t": {f"R@{k}": pct(v) for k, v in i2t_c.items()},
        "chance": {f"R@{k}": pct(chance_recall(n, 1, k)) for k in (1, 5)},
        "gap": {k: round(v, 4) for k, v in gap.items()},
    }


# ----------------------------------------------------------------------------- encoding


class Encoder:
    """An Embedder plus an on-disk cache of embeddings (keyed by row, what and a content hash)."""

    def __init__(self, model_dir: Path, cache: Path, row: str, batch_size: int, dtype: str) -> None:
        self.model_dir, self.cache, self.row = model_dir, cache, row
        self.batch_size, self.dtype = batch_size, dtype
        self._embedder: Any = None
        self.seconds = 0.0

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from e5v import Embedder

            self._embedder = Embedder.from_pretrained(str(self.model_dir), dtype=self.dtype)
        return self._embedder

    def encode(self, name: str, items: list[Any], **kwargs: Any) -> np.ndarray:
        key = hashlib.sha1(
            repr((str(self.model_dir), self.dtype, [str(i) for i in items], sorted(kwargs.items()))).encode()
        )
        path = self.cache / f"{self.row}-{name}-{key.hexdigest()[:12]}.npy"
        if path.is_file():
            return np.load(path)
        t0 = time.perf_counter()
        out = self.embedder.encode(items, batch_size=self.batch_size, show_progress=False, **kwargs)
        took = time.perf_counter() - t0
        self.seconds += took
        logger.info("[%s] embedded %d %s in %.0fs", self.row, len(items), name, took)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, out)
        return out


def composed(enc: Encoder, data: dict[str, Any]) -> dict[str, Any]:
    """Skin-tone composed retrieval: base emoji image + "with <tone> skin tone" -> that variant.

    Gallery: every held-out variant and its base image (the reference image stays in the gallery,
    so a model that ignores the text finds the reference). Also R@1 among only the reference
    emoji's own tone variants (chance 1/5 for five tones), and three baselines: the reference
    image alone (one_word image embedding), the modifier text alone, and the target's full
    caption as a text query.
    """
    from e5v import Interleaved
    from e5v.evaluation.metrics import recall_at_k, retrieval_ranks, subset_ranks

    variants, emoji = data["variants"], data["emoji"]
    gallery_ids = sorted({v.id for v in variants} | {v.base_id for v in variants})
    position = {item_id: i for i, item_id in enumerate(gallery_ids)}
    targets = enc.encode("composed-gallery", [emoji[i].path for i in gallery_ids], prompt=COMPOSED_TARGET)
    queries = enc.encode(
        "composed-queries",
        [Interleaved(image=emoji[v.base_id].path, text=f"with {v.variant} skin tone") for v in variants],
        prompt={"interleaved": COMPOSED_QUERY},
    )
    positives = np.array([position[v.id] for v in variants])
    siblings: dict[str, list[int]] = {}
    for v in variants:
        siblings.setdefault(v.base_id, []).append(position[v.id])
    subsets = [siblings[v.base_id] for v in variants]
    n_gallery = len(gallery_ids)
    sub_sizes = [len(s) for s in subsets]

    def score(q: np.ndarray) -> dict[str, float]:
        full = recall_at_k(retrieval_ranks(q, targets, positives), (1, 5))
        sub = recall_at_k(subset_ranks(q, targets, positives, subsets), (1,))
        return {"R@1": pct(full[1]), "R@5": pct(full[5]), "tone_R@1": pct(sub[1])}

    # The reference images are in the gallery, embedded with the same prompt.
    image_only = targets[[position[v.base_id] for v in variants]]
    modifier = enc.encode("composed-modifier", [f"with {v.variant} skin tone" for v in variants])
    caption = enc.encode("composed-caption", [v.caption for v in variants])
    reference_rank = recall_at_k(
        retrieval_ranks(queries, targets, np.array([position[v.base_id] for v in variants])), (1,)
    )[1]
    return {
        "n_queries": len(variants),
        "n_bases": len(siblings),
        "gallery": n_gallery,
        "chance": {
            "R@1": pct(chance_recall(n_gallery, 1, 1)),
            "R@5": pct(chance_recall(n_gallery, 1, 5)),
            "tone_R@1": pct(float(np.mean([1.0 / s for s in sub_sizes]))),
        },
        "composed": score(queries),
        "composed_top1_is_reference": pct(reference_rank),
        "baseline_image_only": score(image_only),
        "baseline_modifier_text": score(modifier),
        "baseline_target_caption": score(caption),
    }


def evaluate_row(
    row: str,
    model_dir: Path,
    data: dict[str, Any],
    exp: Path,
    representations: tuple[str, ...],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """All metrics of one table row (a model and its representation methods)."""
    enc = Encoder(model_dir, exp / "embeddings", row, args.batch_size, args.dtype)
    pairs = data["pairs"]
    out: dict[str, Any] = {"model_dir": str(model_dir), "representations": {}}
    for rep in representations:
        images = enc.encode(f"{rep}-images", [it.path for it in pairs], representation=rep)
        texts = enc.encode(f"{rep}-texts", [it.caption for it in pairs], representation=rep)
        out["representations"][rep] = retrieval_metrics(images, texts)
        labels = [f"{it.source}/{it.category}" for it in pairs]
        out["representations"][rep]["category_1nn"] = {
            "image": pct(category_1nn(images, labels)),
            "text": pct(category_1nn(texts, labels)),
            "chance": pct(random_neighbour_accuracy(labels)),
        }
        logger.info("[%s] %s: %s", row, rep, json.dumps(out["representations"][rep]))
        if rep == "one_word" and args.figures:
            from e5v.evaluation.gap import plot_modality_gap

            fig = Path(args.figures) / f"experiment_gap_{row.replace('-', '_')}.png"
            gap = out["representations"][rep]["gap"]
            plot_modality_gap(
                images,
                texts,
                fig,
                title=f"{row}, one_word: centroid dist {gap['centroid_distance']:.2f}",
            )
            out["gap_figure"] = str(fig)
        if rep == "one_word" and not args.skip_composed:
            out["composed"] = composed(enc, data)
            logger.info("[%s] composed: %s", row, json.dumps(out["composed"]))
    out["encode_seconds"] = round(enc.seconds, 1)
    return out


# ----------------------------------------------------------------------------- model snapshot


def snapshot_model(exp: Path) -> tuple[Path, dict[str, Any]]:
    """e5v-tiny as built now, copied into the experiment cache (keyed by its build record).

    A private copy keeps every row on the same weights even if e5v-tiny is rebuilt meanwhile.
    """
    from e5v.zoo import cache_root
    from e5v.zoo.e5v_tiny import resolve

    source = resolve(cache_root())
    stamp = (source / "e5v_build.json").read_bytes()
    fingerprint = hashlib.sha256(stamp).hexdigest()[:12]
    target = exp / f"e5v-tiny-{fingerprint}"
    if not (target / "e5v_build.json").is_file():
        tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=exp))
        shutil.rmtree(tmp)
        shutil.copytree(source, tmp)
        tmp.rename(target)
        logger.info("snapshot of %s -> %s", source, target)
    info = json.loads(stamp)
    info["fingerprint"] = fingerprint
    return target, info


# ----------------------------------------------------------------------------- training


def wordnet_triplets(exp: Path, data: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """WordNet triplets minus every row that contains a text equal to a held-out caption."""
    from e5v.train.data.wordnet import build_triplets, find_wordnet, write_triplets

    wordnet = find_wordnet()
    if wordnet is None:
        raise SystemExit("WordNet not found: apt-get download wordnet-base && dpkg -x ... (docs/training.md)")
    train_rows, _ = build_triplets(wordnet, seed=0)
    held = {normalise_text(it.caption) for it in data["heldout"]}
    # Emoji names also appear bare ("grinning face") in WordNet lemmas; compare without articles.
    clean = [
        t
        for t in train_rows
        if not {normalise_text(t.anchor), normalise_text(t.positive), normalise_text(t.negative)} & held
    ]
    texts = {normalise_text(s) for t in clean for s in (t.anchor, t.positive, t.negative)}
    assert not texts & held, "held-out caption left in the training data"
    path = write_triplets(clean, exp / "data" / "wordnet_train_no_heldout.csv")
    info = {
        "triplets_before": len(train_rows),
        "triplets_dropped_overlap": len(train_rows) - len(clean),
        "triplets": len(clean),
        "distinct_texts": len(texts),
        "heldout_captions": len(held),
        "overlap_after_filter": len(texts & held),
    }
    return path, info


def training_pairs(exp: Path) -> tuple[Path, dict[str, Any]]:
    """Training-split image-caption pairs (base images, no skin-tone variants) as JSONL."""
    from e5v.zoo.pairs import load_pairs

    items = load_pairs(split="train", variants=False)
    path = exp / "data" / "train_pairs.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for it in items:
            handle.write(json.dumps({"image": str(it.path), "caption": it.caption}) + "\n")
    return path, {"pairs": len(items), "distinct_captions": len({it.group for it in items})}


def run_training(
    stage: str, model_dir: Path, exp: Path, data: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    """Train (or reuse the cached run) and return the run's record with its export folder."""
    from e5v.train import load_config, train

    tag = f"{stage}-s{args.steps}-b{args.train_batch}-lr{args.lr:g}"
    out = exp / "runs" / f"{model_dir.name}-{tag}"
    record_file = out / "experiment_run.json"
    if record_file.is_file() and (out / "export").is_dir() and not args.force:
        logger.info("reusing the trained model in %s", out)
        return json.loads(record_file.read_text())
    if stage == "text-train":
        train_file, data_info = wordnet_triplets(exp, data)
        recipe = ["train.recipe=e5v_text", "model.text_only=true"]
    else:
        train_file, data_info = training_pairs(exp)
        recipe = ["train.recipe=multimodal_pairs", "model.text_only=false"]
    overrides = [
        f"model.name={model_dir}",
        "model.chat_template=null",  # e5v-tiny's own wrapping, as at inference
        f"data.train_file={train_file}",
        f"train.output_dir={out}",
        f"train.max_steps={args.steps}",
        f"train.batch_size={args.train_batch}",
        f"train.lr={args.lr}",
        f"train.warmup_steps={max(1, args.steps // 10)}",
        "train.save_every=0",
        "train.keep_checkpoints=1",
        *recipe,
    ]
    cfg = load_config(WORDNET_CONFIG, overrides)
    logger.info("training %s: %s", stage, overrides)
    t0 = time.perf_counter()
    result = train(cfg, show_progress=False)
    seconds = time.perf_counter() - t0
    losses = [float(x) for x in result.losses]
    record = {
        "stage": stage,
        "config": str(WORDNET_CONFIG),
        "overrides": overrides,
        "data": data_info,
        "steps": len(losses),
        "train_seconds": round(seconds, 1),
        "loss_first10": round(float(np.mean(losses[:10])), 3),
        "loss_last10": round(float(np.mean(losses[-10:])), 3),
        "chance_loss": round(math.log(args.train_batch * (2 if stage == "text-train" else 1)), 3),
        "export_dir": str(result.export_dir),
    }
    record["changed_tensors"] = changed_tensors(model_dir, Path(result.export_dir))
    record_file.write_text(json.dumps(record, indent=2))
    return record


def changed_tensors(before: Path, after: Path) -> dict[str, list[int]]:
    """Per part of the model (vision tower, projector, language model): [changed, total] tensors.

    Checks that training touched the language model only.
    """
    from safetensors import safe_open

    counts: dict[str, list[int]] = {}
    with (
        safe_open(str(before / "model.safetensors"), "pt") as a,
        safe_open(str(after / "model.safetensors"), "pt") as b,
    ):
        after_keys = set(b.keys())
        for key in a.keys():  # noqa: SIM118
            part = (
                "vision_tower"
                if "vision_tower" in key
                else "projector"
                if "projector" in key
                else "language_model"
            )
            entry = counts.setdefault(part, [0, 0])
            entry[1] += 1
            if key not in after_keys or not bool((a.get_tensor(key) == b.get_tensor(key)).all()):
                entry[0] += 1
    return counts


# ----------------------------------------------------------------------------- tables


def markdown(results: dict[str, Any]) -> str:
    """The results as markdown tables (retrieval, composed, gap)."""
    lines = []
    rows = [(row, rep, m) for row, r in results["rows"].items() for rep, m in r["representations"].items()]
    if not rows:
        return ""
    n = rows[0][2]["n"]
    ch = rows[0][2]["chance"]
    lines += [
        f"Held-out retrieval ({n} images, {n} captions; chance R@1 {ch['R@1']} %, R@5 {ch['R@5']} %)",
        "",
        "| row | representation | text->image R@1 | R@5 | image->text R@1 | R@5 "
        "| centred t->i R@1 | R@5 | centred i->t R@1 | R@5 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row, rep, m in rows:
        c_t, c_i = m.get("centred_t2i", {}), m.get("centred_i2t", {})
        lines.append(
            f"| {row} | {rep} | {m['t2i']['R@1']} | {m['t2i']['R@5']} | {m['i2t']['R@1']} | {m['i2t']['R@5']} "
            f"| {c_t.get('R@1', '-')} | {c_t.get('R@5', '-')} | {c_i.get('R@1', '-')} | {c_i.get('R@5', '-')} |"
        )
    comp = [(row, r["composed"]) for row, r in results["rows"].items() if "composed" in r]
    if comp:
        c0 = comp[0][1]
        lines += [
            "",
            f"Composed retrieval, skin tones ({c0['n_queries']} queries from {c0['n_bases']} held-out emoji; "
            f"gallery {c0['gallery']} images = variants + bases; chance R@1 {c0['chance']['R@1']} %, "
            f"R@5 {c0['chance']['R@5']} %, tone R@1 (among the emoji's own variants) {c0['chance']['tone_R@1']} %)",
            "",
            "| row | query | R@1 | R@5 | tone R@1 |",
            "|---|---|---|---|---|",
        ]
        for row, c in comp:
            for name, key in (
                ("image + text (composed)", "composed"),
                ("image only", "baseline_image_only"),
                ("modifier text only", "baseline_modifier_text"),
                ("target caption (text)", "baseline_target_caption"),
            ):
                s = c[key]
                lines.append(f"| {row} | {name} | {s['R@1']} | {s['R@5']} | {s['tone_R@1']} |")
        lines += ["", "Composed queries whose top-1 is the reference image itself: "]
        lines.append(", ".join(f"{row} {c['composed_top1_is_reference']} %" for row, c in comp))
    lines += [
        "",
        "Within-modality structure: leave-one-out 1-NN accuracy of the category "
        "(Tux Paint folder / emoji category), %",
        "",
        "| row | representation | images | captions | chance |",
        "|---|---|---|---|---|",
    ]
    for row, rep, m in rows:
        c = m.get("category_1nn")
        if c:
            lines.append(f"| {row} | {rep} | {c['image']} | {c['text']} | {c['chance']} |")
    lines += [
        "",
        "Modality gap (held-out pairs; L2-normalised embeddings)",
        "",
        "| row | representation | centroid distance | mean cos matched | mean cos unmatched | matched - unmatched |",
        "|---|---|---|---|---|---|",
    ]
    for row, rep, m in rows:
        g = m["gap"]
        lines.append(
            f"| {row} | {rep} | {g['centroid_distance']:.3f} | {g['mean_cos_matched']:.3f} | "
            f"{g['mean_cos_unmatched']:.3f} | {g['matched_minus_unmatched']:.3f} |"
        )
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", choices=(*STAGES, "all"), default="all")
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: <e5v cache>/experiment")
    parser.add_argument("--steps", type=int, default=100, help="training steps (both recipes)")
    parser.add_argument("--train-batch", type=int, default=8, help="training batch (triplets or pairs)")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--batch-size", type=int, default=16, help="encoding batch")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="evaluate ~N pairs only (quick check)")
    parser.add_argument("--skip-composed", action="store_true")
    parser.add_argument("--figures", default=str(REPO / "docs"), help="folder for the PCA PNGs ('' to skip)")
    parser.add_argument(
        "--snapshot", default="", help="use this existing snapshot (hash) instead of the current e5v-tiny"
    )
    parser.add_argument("--force", action="store_true", help="retrain even if a cached run exists")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)

    import torch

    from e5v.zoo import cache_root

    torch.set_num_threads(args.threads)
    exp = args.cache_dir or cache_root() / "experiment"
    exp.mkdir(parents=True, exist_ok=True)
    if args.snapshot:
        model_dir = exp / f"e5v-tiny-{args.snapshot}"
        build = {**json.loads((model_dir / "e5v_build.json").read_text()), "fingerprint": args.snapshot}
    else:
        model_dir, build = snapshot_model(exp)
    data = eval_data(args.limit)
    results_file = exp / f"results-{model_dir.name}{'-limit' + str(args.limit) if args.limit else ''}.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {"rows": {}}
    results["model"] = {
        "dir": str(model_dir),
        "fingerprint": build["fingerprint"],
        "projector": build.get("projector"),
        "projector_training": {
            k: build.get("training", {}).get(k) for k in ("steps", "pairs_seen", "seconds")
        },
    }
    results["data"] = {
        "heldout_pairs": len(data["pairs"]),
        "composed_queries": len(data["variants"]),
    }
    stages = STAGES if args.stage == "all" else (args.stage,)
    for stage in stages:
        t0 = time.perf_counter()
        if stage == "zero-shot":
            row = evaluate_row(stage, model_dir, data, exp, ("last", "prompt", "one_word"), args)
        else:
            run = run_training(stage, model_dir, exp, data, args)
            row = evaluate_row(stage, Path(run["export_dir"]), data, exp, ("one_word",), args)
            row["training"] = run
        row["seconds"] = round(time.perf_counter() - t0, 1)
        results["rows"][stage] = row
        results_file.write_text(json.dumps(results, indent=2))
        logger.info("results -> %s", results_file)
    order = {s: i for i, s in enumerate(STAGES)}
    results["rows"] = dict(sorted(results["rows"].items(), key=lambda kv: order.get(kv[0], 99)))
    results_file.write_text(json.dumps(results, indent=2))
    sys.stdout.write(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
