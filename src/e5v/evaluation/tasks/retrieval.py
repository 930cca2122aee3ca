"""Image-text retrieval (Flickr30K, COCO, ShareGPT4V-1k, Urban1K) and I2I with rendered captions."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from e5v.evaluation.data import ImageTextData
from e5v.evaluation.encoder import EncodeContext
from e5v.evaluation.gap import modality_gap, plot_modality_gap
from e5v.evaluation.metrics import image_text_recall
from e5v.evaluation.registry import EvalOptions
from e5v.evaluation.render import find_font, render_text_image

logger = logging.getLogger(__name__)

KS = (1, 5, 10)


def _recall_metrics(recalls: dict[str, dict[int, float]]) -> dict[str, float]:
    return {f"{direction}_R@{k}": 100.0 * v for direction, by_k in recalls.items() for k, v in by_k.items()}


def evaluate_image_text(ctx: EncodeContext, data: ImageTextData, options: EvalOptions) -> dict:
    """Text->image and image->text Recall@1/5/10 with E5-V's default prompts, plus the modality gap.

    The image prompt and the text prompt are the encoder's defaults (E5-V: "Summary above image
    in one word" / "Summary above sentence in one word").
    """
    image_emb = ctx.encode(data.images, None, part="images")
    text_emb = ctx.encode(data.captions, None, part="captions")
    recalls = image_text_recall(image_emb, text_emb, data.text_to_image, KS, ties=options.ties)  # type: ignore[arg-type]
    gap = modality_gap(image_emb, text_emb, data.text_to_image)
    details: dict = {
        "n_images": len(data.images),
        "n_captions": len(data.captions),
        "prompt": "encoder default (image / text)",
        "modality_gap": gap,
    }
    if options.output_dir is not None:
        path = Path(options.output_dir) / f"modality_gap_{ctx.dataset}.png"
        plot_modality_gap(image_emb, text_emb, path, title=f"{ctx.dataset}: {ctx.model}")
        details["modality_gap_plot"] = str(path)
    metrics = _recall_metrics(recalls)
    metrics["rsum"] = sum(metrics.values())
    return {"task": "image_text", "primary_metric": "t2i_R@1", "metrics": metrics, "details": details}


def evaluate_i2i(ctx: EncodeContext, data: ImageTextData, options: EvalOptions) -> dict:
    """I2I: captions rendered as images (paper appendix A), all embedded with the image prompt.

    ``image`` retrieval: a rendered caption retrieves its photo; ``text`` retrieval: a photo
    retrieves its rendered captions (paper Table 4's two halves).
    """
    font = find_font(options.font)
    image_emb = ctx.encode(data.images, None, part="images")
    render = partial(render_text_image, font=font)
    rendered_emb = ctx.encode_rendered(
        data.captions, render, None, part="rendered_captions", render_key=str(font)
    )
    recalls = image_text_recall(image_emb, rendered_emb, data.text_to_image, KS, ties=options.ties)  # type: ignore[arg-type]
    metrics = {f"image_R@{k}": 100.0 * v for k, v in recalls["t2i"].items()}
    metrics.update({f"text_R@{k}": 100.0 * v for k, v in recalls["i2t"].items()})
    details = {
        "n_images": len(data.images),
        "n_captions": len(data.captions),
        "font": str(font),
        "prompt": "encoder default image prompt for photos and rendered captions",
    }
    return {"task": "i2i", "primary_metric": "image_R@1", "metrics": metrics, "details": details}
