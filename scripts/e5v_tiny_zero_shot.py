"""Zero-shot E5-V representations of e5v-tiny on the real held-out split (paper Table 6, in small).

For the held-out split of :mod:`e5v.zoo.pairs` (one image per caption, no skin-tone variants)
it reports text->image and image->text Recall@1/5 with chance level, and the modality gap, for
the representations ``last`` (bare input), ``prompt`` (summary prompt) and ``one_word`` (E5-V).
Then composed retrieval on the held-out emoji skin-tone variants: the query is the base emoji
image + "with <tone> skin tone" (E5-V's CIRR prompts), the gallery every held-out emoji image
(bases and variants), the answer the variant.

    python scripts/e5v_tiny_zero_shot.py [--limit N] [--dtype bfloat16] > zero_shot.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

import numpy as np
import torch

from e5v import Embedder, Interleaved
from e5v.evaluation.gap import modality_gap
from e5v.evaluation.metrics import recall_at_k, retrieval_ranks
from e5v.zoo.pairs import load_pairs

logger = logging.getLogger("e5v_tiny_zero_shot")


def one_per_caption(items):
    seen, out = set(), []
    for item in sorted(items, key=lambda it: it.id):
        if item.group not in seen:
            seen.add(item.group)
            out.append(item)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=0, help="use every k-th pair to keep about N (0: all)")
    parser.add_argument("--dtype", default="float32", help="float32 or bfloat16 (faster on CPUs with AMX)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--skip-composed", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)

    heldout = load_pairs(split="heldout")
    pairs = one_per_caption([it for it in heldout if it.variant is None])
    if args.limit:
        pairs = pairs[:: max(1, len(pairs) // args.limit)]
    n = len(pairs)
    embedder = Embedder.from_pretrained("e5v-tiny", dtype=args.dtype)
    results: dict[str, object] = {"n_pairs": n, "chance": {"R@1": 1 / n, "R@5": min(1.0, 5 / n)}}
    index = np.arange(n)
    for representation in ("last", "prompt", "one_word"):
        t0 = time.time()
        opts = {"representation": representation, "batch_size": args.batch_size, "show_progress": False}
        images = embedder.encode([it.path for it in pairs], **opts)
        texts = embedder.encode([it.caption for it in pairs], **opts)
        t2i = recall_at_k(retrieval_ranks(texts, images, index), (1, 5))
        i2t = recall_at_k(retrieval_ranks(images, texts, index), (1, 5))
        # Per-modality centring (subtract each modality's mean embedding): removes the common
        # component that dominates raw cosines at this scale (hub images / hub captions).
        images_c, texts_c = images - images.mean(0), texts - texts.mean(0)
        t2i_c = recall_at_k(retrieval_ranks(texts_c, images_c, index), (1, 5))
        i2t_c = recall_at_k(retrieval_ranks(images_c, texts_c, index), (1, 5))
        results[representation] = {
            "text->image": {f"R@{k}": v for k, v in t2i.items()},
            "image->text": {f"R@{k}": v for k, v in i2t.items()},
            "centred text->image": {f"R@{k}": v for k, v in t2i_c.items()},
            "centred image->text": {f"R@{k}": v for k, v in i2t_c.items()},
            "modality_gap": modality_gap(images, texts, index),
            "seconds": round(time.time() - t0, 1),
        }
        logger.info("%s: %s", representation, json.dumps(results[representation]))

    if not args.skip_composed:
        t0 = time.time()
        emoji = [it for it in heldout if it.source == "emoji"]
        by_id = {it.id: it for it in emoji}
        variants = [it for it in emoji if it.variant is not None and it.base_id in by_id]
        gallery = sorted({it.id for it in variants} | {it.base_id for it in variants})
        position = {item_id: i for i, item_id in enumerate(gallery)}
        opts = {"batch_size": args.batch_size, "show_progress": False}
        targets = embedder.encode([by_id[i].path for i in gallery], prompt="cirr_target", **opts)
        queries = embedder.encode(
            [Interleaved(image=by_id[v.base_id].path, text=f"with {v.variant} skin tone") for v in variants],
            prompt="cirr_query",
            **opts,
        )
        ranks = retrieval_ranks(queries, targets, np.array([position[v.id] for v in variants]))
        results["composed_skin_tone"] = {
            "n_queries": len(variants),
            "gallery": len(gallery),
            "chance": {"R@1": 1 / len(gallery), "R@5": 5 / len(gallery)},
            **{f"R@{k}": v for k, v in recall_at_k(ranks, (1, 5)).items()},
            "seconds": round(time.time() - t0, 1),
        }
        logger.info("composed: %s", json.dumps(results["composed_skin_tone"]))
    json.dump(results, sys.stdout, indent=2)


if __name__ == "__main__":
    main()
