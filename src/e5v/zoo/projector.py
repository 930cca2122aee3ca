"""Train a LLaVA projector, LLaVA pre-training style, on image-caption pairs.

The vision encoder and the language model stay frozen; only ``multi_modal_projector`` learns.
Each example is one chat turn: the user's message is the image plus a short instruction drawn
from :data:`INSTRUCTIONS`, the assistant's answer is the caption followed by the end-of-turn
token, and the loss is the next-token cross-entropy on the answer's tokens only.

Because the encoder is frozen, its features are computed once for every image (exactly what
``LlavaModel.get_image_features`` feeds the projector: hidden state ``vision_feature_layer``,
CLS dropped for the ``"default"`` strategy). Each step then runs projector -> language model,
and computes logits only at the answer positions (not over the 49k-word vocabulary at every
image token). :func:`caption_loss` is checked against ``LlavaForConditionalGeneration``'s own
forward in the tests.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

#: Brief-description instructions, in the spirit of LLaVA's pre-training prompts.
INSTRUCTIONS = (
    "Describe the image briefly.",
    "What is in this picture?",
    "Give a short caption for the image.",
    "Summarize the visual content of the image.",
)


@dataclass(frozen=True)
class ProjectorTrainingConfig:
    """Hyper-parameters of the projector training (saved with the projector).

    Attributes:
        epochs: passes over the training pairs (the last one may be cut by ``max_steps``).
        max_steps: stop after this many optimiser steps (0: no limit).
        time_budget_s: stop after this many seconds of training (0: no limit).
        batch_size: pairs per step.
        lr: peak AdamW learning rate (linear warm-up, cosine decay to 10%).
        warmup_steps: warm-up length.
        weight_decay: AdamW weight decay.
        max_caption_tokens: captions are cut to this many tokens.
        seed: seeds Python's and torch's generators (order, instructions, initialisation).
        threads: ``torch.set_num_threads`` during training. 1 by default: on the shared 2-core
            machine one thread ran a step in 8 s and two threads in 39 s (oversubscription).
        bf16: run the frozen language model under bfloat16 autocast (2-3x faster on CPUs with
            AMX / AVX-512 BF16; the projector's weights and the optimiser stay float32).
        standardize: train on per-dimension standardised encoder features, then fold the
            standardisation into ``linear_1``. DINOv2's features share a large common component
            (a few dimensions with means near 1, per-dimension std ~0.1), so without it every
            image projects to nearly the same vector (cosine 0.99) and the projector collapses
            onto the caption prior.
        caption_weight: weight of the captioning loss (LLaVA pre-training).
        align_weight: weight of an optional E5-V alignment loss (0: off). It embeds each image
            with e5v's one-word image prompt (last token) and applies InfoNCE against the
            one-word embeddings of *all* training captions (fixed targets: the language model
            is frozen and the text path has no trainable part). This is multimodal contrastive
            training of the projector, not zero-shot E5-V: models trained with it must not be
            used for the zero-shot rows of the E5-V experiment.
        align_temperature: InfoNCE temperature of the alignment loss.
    """

    epochs: float = 1.0
    max_steps: int = 0
    time_budget_s: float = 0.0
    batch_size: int = 16
    lr: float = 1e-3
    warmup_steps: int = 10
    weight_decay: float = 0.0
    max_caption_tokens: int = 24
    seed: int = 0
    threads: int = 1
    bf16: bool = True
    standardize: bool = True
    caption_weight: float = 1.0
    align_weight: float = 0.0
    align_temperature: float = 0.05


@dataclass
class TrainingLog:
    """What happened: steps, seconds, losses (per step), number of pairs seen."""

    config: dict[str, Any]
    steps: int = 0
    seconds: float = 0.0
    pairs_seen: int = 0
    losses: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        head = self.losses[:10]
        tail = self.losses[-10:]
        return {
            "config": self.config,
            "steps": self.steps,
            "seconds": round(self.seconds, 1),
            "pairs_seen": self.pairs_seen,
            "loss_first10": round(sum(head) / max(len(head), 1), 4),
            "loss_last10": round(sum(tail) / max(len(tail), 1), 4),
        }


def image_features(model: Any, pixel_values: Any, batch_size: int = 32) -> Any:
    """The frozen encoder's features that the projector consumes, ``[N, tokens, vision_dim]``."""
    import torch

    cfg = model.config
    tower = model.model.vision_tower
    out = []
    with torch.no_grad():
        for i in range(0, len(pixel_values), batch_size):
            hidden = tower(pixel_values[i : i + batch_size], output_hidden_states=True).hidden_states
            feats = hidden[cfg.vision_feature_layer]
            if cfg.vision_feature_select_strategy == "default":
                feats = feats[:, 1:]
            out.append(feats)
    return torch.cat(out)


def encode_examples(
    processor: Any, captions: Sequence[str], instructions: Sequence[str], max_caption_tokens: int
) -> list[tuple[list[int], int]]:
    """Token ids of each chat turn and the index where the answer starts.

    The prompt's ``<image>`` is expanded to the number of image tokens, as the processor does.
    """
    tokenizer = processor.tokenizer
    n_image = processor.num_additional_image_tokens + _patches(processor)
    if processor.vision_feature_select_strategy == "default":
        n_image -= 1
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    examples = []
    for caption, instruction in zip(captions, instructions, strict=True):
        prompt = processor.apply_chat_template(
            [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "\n" + instruction}]}],
            add_generation_prompt=True,
            tokenize=False,
        )
        prompt = prompt.replace(processor.image_token, processor.image_token * n_image)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        answer_ids = [*tokenizer(caption, add_special_tokens=False)["input_ids"][:max_caption_tokens], end]
        examples.append((prompt_ids + answer_ids, len(prompt_ids)))
    return examples


def _patches(processor: Any) -> int:
    size = processor.image_processor.size
    return (size["height"] // processor.patch_size) * (size["width"] // processor.patch_size)


def caption_loss(
    model: Any, features: Any, examples: Sequence[tuple[list[int], int]], bf16: bool = False
) -> Any:
    """Mean cross-entropy of the answer tokens, given precomputed encoder features.

    Args:
        model: a ``LlavaForConditionalGeneration``.
        features: ``[B, tokens, vision_dim]`` from :func:`image_features`.
        examples: ``(ids, answer_start)`` pairs from :func:`encode_examples` (right-padded here).
        bf16: run projector and language model under CPU bfloat16 autocast.
    """
    import torch
    import torch.nn.functional as F

    inner = model.model
    pad = model.config.text_config.pad_token_id or 0
    length = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), length), pad, dtype=torch.long)
    mask = torch.zeros((len(examples), length), dtype=torch.long)
    labels = torch.full((len(examples), length), -100, dtype=torch.long)
    for row, (tokens, start) in enumerate(examples):
        ids[row, : len(tokens)] = torch.tensor(tokens)
        mask[row, : len(tokens)] = 1
        labels[row, start : len(tokens)] = ids[row, start : len(tokens)]
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        embeds = inner.get_input_embeddings()(ids)
        image_mask = ids == model.config.image_token_id  # [B, L]
        projected = inner.multi_modal_projector(features)  # [B, tokens, D]
        embeds = embeds.masked_scatter(image_mask.unsqueeze(-1), projected.to(embeds.dtype))
        hidden = inner.language_model(
            inputs_embeds=embeds, attention_mask=mask
        ).last_hidden_state  # [B, L, D]
        # Position t predicts token t+1: gather the positions whose next token is a label.
        targets = labels[:, 1:]  # [B, L-1]
        keep = targets != -100
        logits = model.lm_head(hidden[:, :-1][keep])  # [n_answer_tokens, V]
    return F.cross_entropy(logits.float(), targets[keep])


def one_word_embeddings(model: Any, features: Any, ids: list[int], bf16: bool = False) -> Any:
    """E5-V image embeddings (normalised last-token state) from encoder features, differentiable.

    Args:
        model: a ``LlavaForConditionalGeneration``.
        features: ``[B, tokens, vision_dim]`` features as the projector takes them.
        ids: the token ids of the image prompt, image token already expanded (same for all).
    """
    import torch
    import torch.nn.functional as F

    inner = model.model
    batch = torch.tensor([ids] * len(features))
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        embeds = inner.get_input_embeddings()(batch)
        projected = inner.multi_modal_projector(features)
        mask = (batch == model.config.image_token_id).unsqueeze(-1)
        embeds = embeds.masked_scatter(mask, projected.to(embeds.dtype))
        hidden = inner.language_model(inputs_embeds=embeds).last_hidden_state[:, -1]  # [B, D]
    return F.normalize(hidden.float(), dim=-1)


def _alignment_setup(
    model: Any, processor: Any, captions: Sequence[str], bf16: bool
) -> tuple[Any, list[int], Any]:
    """Image prompt ids (expanded), caption target embeddings and each pair's target index."""
    import torch

    from e5v.embedder import Embedder

    embedder = Embedder(model, processor, name="projector-training")
    prompt = embedder.build_prompt("image")
    n_image = len(_expanded_image_tokens(processor))
    prompt = prompt.replace(processor.image_token, processor.image_token * n_image)
    ids = processor.tokenizer(prompt, add_special_tokens=embedder._add_special_tokens(prompt))["input_ids"]
    unique = sorted(set(captions))
    t0 = time.time()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        targets = torch.from_numpy(embedder.encode(unique, batch_size=64, show_progress=False))
    logger.info("embedded %d caption targets in %.0fs", len(unique), time.time() - t0)
    position = {caption: i for i, caption in enumerate(unique)}
    return targets.float(), ids, torch.tensor([position[c] for c in captions])


def _expanded_image_tokens(processor: Any) -> list[int]:
    n_image = processor.num_additional_image_tokens + _patches(processor)
    if processor.vision_feature_select_strategy == "default":
        n_image -= 1
    return [0] * n_image


def bf16_is_fast() -> bool:
    """Whether this CPU has native bfloat16 matrix units (oneDNN reports AVX-512 BF16 / AMX)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def train_projector(
    model: Any,
    processor: Any,
    pixel_values: Any,
    captions: Sequence[str],
    config: ProjectorTrainingConfig,
) -> TrainingLog:
    """Train ``model.model.multi_modal_projector`` in place on (image, caption) pairs.

    Args:
        model: a ``LlavaForConditionalGeneration`` (encoder and LM are frozen here).
        processor: its ``LlavaProcessor``.
        pixel_values: ``[N, 3, H, W]`` preprocessed images.
        captions: the N captions.
        config: hyper-parameters.
    """
    import torch

    if len(pixel_values) != len(captions) or not captions:
        raise ValueError(f"need as many images as captions (got {len(pixel_values)} and {len(captions)})")
    torch.set_num_threads(config.threads)
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    for param in model.parameters():
        param.requires_grad_(False)
    projector = model.model.multi_modal_projector
    for param in projector.parameters():
        param.requires_grad_(True)
    model.eval()  # no dropout anywhere; the projector has none either
    bf16 = config.bf16 and bf16_is_fast()

    t0 = time.time()
    features = image_features(model, pixel_values)
    logger.info("encoded %d images in %.0fs", len(features), time.time() - t0)
    if config.standardize:
        mean, std = feature_statistics(features)
        features = (features - mean) / std
    if config.align_weight:
        targets, align_ids, target_index = _alignment_setup(model, processor, captions, bf16)

    steps_per_epoch = math.ceil(len(captions) / config.batch_size)
    total = math.ceil(config.epochs * steps_per_epoch)
    if config.max_steps:
        total = min(total, config.max_steps)
    optimizer = torch.optim.AdamW(projector.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    def lr_at(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(1, total - config.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    log = TrainingLog(config=asdict(config))
    order: list[int] = []
    start = time.time()
    for step in range(total):
        if len(order) < config.batch_size:
            epoch = list(range(len(captions)))
            rng.shuffle(epoch)
            order += epoch
        batch, order = order[: config.batch_size], order[config.batch_size :]
        instructions = [rng.choice(INSTRUCTIONS) for _ in batch]
        examples = encode_examples(
            processor, [captions[i] for i in batch], instructions, config.max_caption_tokens
        )
        loss = features.new_zeros(())
        if config.caption_weight:
            loss = loss + config.caption_weight * caption_loss(model, features[batch], examples, bf16=bf16)
        if config.align_weight:
            images = one_word_embeddings(model, features[batch], align_ids, bf16=bf16)  # [B, D]
            logits = images @ targets.T / config.align_temperature  # [B, n_captions]
            align = torch.nn.functional.cross_entropy(logits, target_index[batch])
            loss = loss + config.align_weight * align
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        log.losses.append(loss.item())
        log.steps = step + 1
        log.pairs_seen += len(batch)
        log.seconds = time.time() - start
        if step % 10 == 0 or step == total - 1:
            logger.info(
                "step %d/%d loss %.3f (%.1fs/step)", step + 1, total, log.losses[-1], log.seconds / (step + 1)
            )
        if config.time_budget_s and log.seconds > config.time_budget_s:
            logger.info("time budget of %.0fs reached after %d steps", config.time_budget_s, step + 1)
            break
    for param in projector.parameters():
        param.requires_grad_(False)
    if config.standardize:
        fold_standardization(projector.linear_1, mean, std)
    return log


def feature_statistics(features: Any, eps: float = 1e-6) -> tuple[Any, Any]:
    """Per-dimension mean and standard deviation over all images and tokens, ``[vision_dim]`` each."""
    flat = features.reshape(-1, features.shape[-1]).double()
    return flat.mean(0).float(), (flat.std(0) + eps).float()


def fold_standardization(linear: Any, mean: Any, std: Any) -> None:
    """Make ``linear(x)`` compute what it computed on ``(x - mean) / std`` (in place).

    ``W (x - m) / s + b = (W / s) x + (b - (W / s) m)``: the projector keeps LLaVA's plain
    ``Linear`` layers, so the model stays a standard checkpoint.
    """
    import torch

    with torch.no_grad():
        weight = linear.weight / std  # [out, in] / [in]
        linear.bias.sub_(weight @ mean)
        linear.weight.copy_(weight)
