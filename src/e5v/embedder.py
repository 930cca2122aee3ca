"""The Embedder: universal embeddings from a (multimodal) LLM, the E5-V way.

Each input is put into a prompt that asks the model to summarise it in one word; the embedding
is the final-layer hidden state of the prompt's last token, L2-normalised.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from e5v.backbones import Backbone, backbone_for_config, text_config, tokenizer_of
from e5v.chat import NO_WRAP, ChatWrapper, FormatWrapper, ProcessorChatWrapper, make_wrapper
from e5v.errors import InvalidInputError, PromptError
from e5v.inputs import DEFAULT_MAX_IMAGE_PIXELS, Item, Kind, prepare_items
from e5v.pooling import last_token_pool
from e5v.prefix_cache import MIN_PREFIX_TOKENS, PrefixCache, common_prefix_length, text_model
from e5v.prompts import (
    IMAGE,
    PROMPTS,
    REPRESENTATIONS,
    PromptLike,
    PromptSet,
    check_template,
    fill_template,
    resolve_prompts,
)

logger = logging.getLogger(__name__)

E5V_CONFIG_NAME = "e5v_config.json"


@dataclass
class _Prepared:
    """One item ready for batching: its prompt string, token ids and (for sorting) length."""

    index: int
    item: Item
    prompt: str
    length: int
    ids: list[int] | None = None


class Embedder:
    """Turns texts, images and interleaved image+text into embeddings with an (M)LLM.

    Args:
        model: a loaded transformers model of a supported family (see :mod:`e5v.backbones`).
        processor: its processor (multimodal models) or tokenizer (text-only LLMs).
        prompts: default prompts: a registry name, a template, a mapping per kind or a
            :class:`~e5v.prompts.PromptSet`. Defaults to the prompts of ``representation``.
        representation: ``one_word`` (E5-V), ``prompt`` or ``last`` (paper Table 6).
        chat_template: ``None`` (the family's reference wrapping), ``False``/``"none"``,
            ``"llama3_e5v"``, ``"mistral_inst"``, ``"processor"`` or a format string with ``{}``.
        padding_side: ``"left"`` (as the reference) or ``"right"``; pooling is correct for both.
        max_image_pixels: decompression-bomb guard for decoded images (``None`` disables it).
        max_image_tiles: for anyres families, keep only tilings with at most this many tiles:
            fewer image tokens (faster, less memory) at the cost of fine detail.
        name: a name for the model (recorded by caches and indexes).
        prefix_cache: in ``encode``, run the token prefix shared by all text prompts (the
            chat template's opening) once and reuse its key/value cache for every text batch
            (exact; inference only: ``forward``/``collate`` are unchanged).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        processor: Any,
        *,
        prompts: PromptLike = None,
        representation: str = "one_word",
        chat_template: str | bool | None = None,
        padding_side: str = "left",
        max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
        max_image_tiles: int | None = None,
        name: str | None = None,
        prefix_cache: bool = True,
    ) -> None:
        if representation not in REPRESENTATIONS:
            raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {representation!r}")
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        self.backbone: Backbone = backbone_for_config(model.config)
        self.model = model.eval()
        self.processor = processor
        self.tokenizer = tokenizer_of(processor)
        if self.tokenizer.pad_token is None:  # the reference pads with EOS
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.padding_side = padding_side
        self.representation = representation
        self.prompts = resolve_prompts(prompts, PROMPTS[representation])
        owner = processor if self.backbone.multimodal else self.tokenizer
        self.chat: ChatWrapper = make_wrapper(chat_template, owner, self.backbone.multimodal) or (
            self.backbone.default_wrapper(model, processor)
        )
        self._explicit_chat = chat_template is not None
        self.max_image_pixels = max_image_pixels
        if max_image_tiles is not None:
            self.backbone.limit_image_tiles(model, processor, max_image_tiles)
        self.max_image_tiles = max_image_tiles
        self.prefix_cache = prefix_cache
        self.name = name or getattr(model.config, "_name_or_path", None) or type(model).__name__
        self.context_length: int | None = getattr(text_config(model.config), "max_position_embeddings", None)
        self._reserved = {t for t in (IMAGE, getattr(processor, "image_token", None)) if t}

    # ------------------------------------------------------------------ loading / saving
    @classmethod
    def from_pretrained(cls, name_or_path: str | Path | None = None, **kwargs: Any) -> Embedder:
        """Load from a short name (``e5v.zoo``), a hub id, a local directory or a ``.gguf`` file.

        Keyword options: ``device`` ("cpu", "cuda", "cuda:1", "auto"), ``dtype`` (e.g.
        ``torch.bfloat16`` or ``"bfloat16"``; default float32 on CPU, bfloat16 on GPU),
        ``gguf_file``, ``revision``, ``cache_dir``, ``trust_remote_code``, and every
        :class:`Embedder` option (``prompts``, ``chat_template``, ``representation``...).
        With no name, the default offline model (``e5v.zoo.DEFAULT_MODEL``) is loaded.
        """
        from e5v.loading import load_embedder

        return load_embedder(cls, name_or_path, **kwargs)

    def save_pretrained(self, path: str | Path) -> None:
        """Save model, processor and the e5v settings (prompts, chat wrapping) to a directory."""
        path = Path(path)
        self.model.save_pretrained(path)
        self.processor.save_pretrained(path)
        (path / E5V_CONFIG_NAME).write_text(json.dumps(self.settings(), indent=2, ensure_ascii=False))

    def settings(self) -> dict[str, Any]:
        """The e5v settings saved beside a model (``e5v_config.json``)."""
        chat: Any = None
        if self._explicit_chat:
            if isinstance(self.chat, ProcessorChatWrapper):
                chat = "processor"
            elif isinstance(self.chat, FormatWrapper):
                chat = (
                    False
                    if self.chat is NO_WRAP
                    else (self.chat.name if self.chat.name != "custom" else self.chat.template)
                )
        return {
            "prompts": self.prompts.to_dict(),
            "representation": self.representation,
            "chat_template": chat,
            "padding_side": self.padding_side,
            "max_image_tiles": self.max_image_tiles,
        }

    # ------------------------------------------------------------------ properties
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def dim(self) -> int:
        return int(text_config(self.model.config).hidden_size)

    # ------------------------------------------------------------------ prompts
    def build_prompt(self, kind: Kind | str, text: str | None = None, prompts: PromptLike = None) -> str:
        """The exact string given to the processor for an item of ``kind`` with ``text``."""
        kind = Kind(kind)
        prompt_set = resolve_prompts(prompts, self.prompts)
        template = prompt_set.template_for(kind)
        check_template(template, kind)
        if kind is not Kind.TEXT and not self.backbone.multimodal:
            raise PromptError(
                f"{self.name} is a text-only model ({self.backbone.name}); it cannot embed images"
            )
        wrapper = self.chat if (prompt_set.wrap or self._explicit_chat) else NO_WRAP
        body = fill_template(template, text if kind is not Kind.IMAGE else None, image_token=IMAGE)
        wrapped = wrapper.wrap(body)
        return wrapped.replace(IMAGE, self.backbone.image_token) if self.backbone.multimodal else wrapped

    def _truncate(self, text: str, max_length: int) -> str:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return text if len(ids) <= max_length else self.tokenizer.decode(ids[:max_length])

    def _add_special_tokens(self, prompt: str) -> bool:
        """Add BOS unless the chat template already wrote it (no doubled BOS)."""
        bos = self.tokenizer.bos_token
        return not (bos and prompt.startswith(bos))

    def _prepare(self, items: Sequence[Item], prompts: PromptSet, max_length: int | None) -> list[_Prepared]:
        prepared = []
        for index, item in enumerate(items):
            text = item.text
            if text is not None and self.backbone.multimodal:
                for token in self._reserved:
                    if token in text:
                        raise InvalidInputError(index, f"text contains the reserved image token {token!r}")
            if text is not None and max_length is not None:
                text = self._truncate(text, max_length)
            try:
                prompt = self.build_prompt(item.kind, text, prompts)
            except PromptError as exc:
                raise PromptError(f"input {index}: {exc}") from exc
            prepared.append(_Prepared(index, item, prompt, 0))
        texts = [p.prompt for p in prepared]
        if texts:
            lengths = self.tokenizer(texts, add_special_tokens=self._add_special_tokens(texts[0]))[
                "input_ids"
            ]
            for p, ids in zip(prepared, lengths, strict=False):
                p.length = len(ids)
                p.ids = ids
                if self.context_length and p.length > self.context_length:
                    raise InvalidInputError(
                        p.index,
                        f"prompt of {p.length} tokens exceeds the model's context of {self.context_length} "
                        "tokens; pass max_length= to truncate the text",
                    )
        return prepared

    # ------------------------------------------------------------------ batching and forward
    def collate(
        self, items: Sequence[Item], prompts: PromptLike = None, max_length: int | None = None
    ) -> Any:
        """Tokenise (and process images of) already-validated items into one model batch."""
        prompt_set = resolve_prompts(prompts, self.prompts)
        return self._collate(self._prepare(items, prompt_set, max_length))

    def _collate(self, batch: Sequence[_Prepared]) -> Any:
        texts = [p.prompt for p in batch]
        images = [p.item.image for p in batch if p.item.image is not None]
        kwargs: dict[str, Any] = {
            "padding": True,
            "return_tensors": "pt",
            "add_special_tokens": self._add_special_tokens(texts[0]),
        }
        self.tokenizer.padding_side = self.padding_side
        if images:
            per_sample = [int(p.item.image is not None) for p in batch]
            encoded = self.processor(
                text=texts, images=self.backbone.processor_images(images, per_sample), **kwargs
            )
        else:
            encoded = self.tokenizer(texts, **kwargs)
        encoded.pop("token_type_ids", None)
        if self.context_length and encoded["input_ids"].shape[1] > self.context_length:
            lengths = encoded["attention_mask"].sum(1)
            worst = int(lengths.argmax())
            raise InvalidInputError(
                batch[worst].index,
                f"prompt with image tokens is {int(lengths[worst])} tokens, over the model's context of "
                f"{self.context_length}; limit image tiles (max_image_tiles=) or shorten the text",
            )
        return encoded

    def forward(self, batch: Any) -> torch.Tensor:
        """Last-real-token final hidden states ``[B, D]`` (not normalised; differentiable).

        Runs the base model only: no vocabulary projection, no per-layer hidden states.
        """
        model_dtype = self.dtype
        inputs = {
            k: (v.to(self.device, dtype=model_dtype) if torch.is_floating_point(v) else v.to(self.device))
            for k, v in batch.items()
            if isinstance(v, torch.Tensor)
        }
        outputs = self.backbone.base_model(self.model)(**inputs, use_cache=False, return_dict=True)
        return last_token_pool(outputs.last_hidden_state, inputs["attention_mask"])

    def encode(
        self,
        items: Sequence[object],
        prompt: PromptLike = None,
        batch_size: int = 16,
        normalize: bool = True,
        show_progress: bool = True,
        max_length: int | None = None,
        representation: str | None = None,
        max_batch_tokens: int | None = None,
    ) -> np.ndarray:
        """Embed texts, images and interleaved items.

        Args:
            items: ``str`` (text), ``PIL.Image``/``Path``/``bytes`` (image) or
                :class:`~e5v.inputs.Interleaved`.
            prompt: override of the prompts for this call (registry name, template with
                ``<image>``/``<text>``, mapping per kind or PromptSet).
            batch_size: items per forward pass (inputs are length-sorted before batching).
            normalize: L2-normalise the embeddings.
            show_progress: show a progress bar.
            max_length: cut each text to this many tokens before templating (otherwise a
                text too long for the model raises an error; nothing is cut silently).
            representation: use the default prompts of another representation method.
            max_batch_tokens: also cap each batch at this many (padded) prompt tokens, so that
                long inputs get smaller batches (bounds activation memory; image tokens added
                by the processor are not counted).

        Returns:
            ``float32`` array ``[len(items), dim]`` in input order.

        Raises:
            InvalidInputError: naming the first bad item's index, before any model work.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if max_batch_tokens is not None and max_batch_tokens < 1:
            raise ValueError("max_batch_tokens must be >= 1")
        base = self.prompts if representation is None else PROMPTS[representation]
        prompt_set = resolve_prompts(prompt, base)
        prepared = self._prepare(prepare_items(items, self.max_image_pixels), prompt_set, max_length)
        output = np.zeros((len(prepared), self.dim), dtype=np.float32)
        unique, duplicate_of = _deduplicate(prepared)
        batches = _length_sorted_batches(unique, batch_size, max_batch_tokens)
        with (
            torch.inference_mode(),
            tqdm(total=len(unique), desc="embedding", unit="item", disable=not show_progress) as bar,
        ):
            prefix = self._shared_prefix(unique) if self.prefix_cache else None

            def collate(batch: list[_Prepared]) -> Any:
                if prefix is not None and _uses_prefix(batch, prefix):
                    return prefix.collate([p.ids for p in batch])
                return self._collate(batch)

            for batch, encoded in _prefetch(collate, batches):
                run = prefix.forward if prefix is not None and "suffix_mask" in encoded else self.forward
                hidden = run(encoded).float()
                if normalize:
                    hidden = F.normalize(hidden, dim=-1)
                output[[p.index for p in batch]] = hidden.cpu().numpy()
                bar.update(len(batch))
        for index, source in duplicate_of.items():
            output[index] = output[source]
        return output

    def _shared_prefix(self, prepared: Sequence[_Prepared]) -> PrefixCache | None:
        """The KV cache of the token prefix common to all text prompts, when worth it."""
        rows = [p.ids for p in prepared if p.item.kind is Kind.TEXT and p.ids is not None]
        if len(rows) < 2:
            return None
        length = common_prefix_length(rows)
        if length < MIN_PREFIX_TOKENS:
            return None
        decoder = text_model(self.backbone.base_model(self.model))
        return PrefixCache(decoder, rows[0][:length], self.tokenizer.pad_token_id)


def _uses_prefix(batch: Sequence[_Prepared], prefix: PrefixCache) -> bool:
    return all(p.item.kind is Kind.TEXT and p.ids is not None and prefix.matches(p.ids) for p in batch)


def _prefetch(collate: Any, batches: list[list[_Prepared]]) -> Iterator[tuple[list[_Prepared], Any]]:
    """Yield ``(batch, collate(batch))``, preparing batch i+1 in a worker thread while the
    caller runs the model on batch i (tokenising and image preprocessing overlap compute)."""
    if not batches:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="e5v-collate") as pool:
        pending = pool.submit(collate, batches[0])
        for i, batch in enumerate(batches):
            encoded = pending.result()
            if i + 1 < len(batches):
                pending = pool.submit(collate, batches[i + 1])
            yield batch, encoded


def _deduplicate(prepared: list[_Prepared]) -> tuple[list[_Prepared], dict[int, int]]:
    """Embed identical inputs once (same prompt and, for images, the same pixels); return the
    unique items and the duplicate -> source map."""
    first: dict[tuple[str, bytes | None], int] = {}
    unique, duplicate_of = [], {}
    for p in prepared:
        key = (p.prompt, None if p.item.image is None else _fingerprint(p.item.image))
        if key in first:
            duplicate_of[p.index] = first[key]
            continue
        first[key] = p.index
        unique.append(p)
    return unique, duplicate_of


def _fingerprint(image: Any) -> bytes:
    """A digest of a decoded image's size, mode and pixels (identical pixels -> same digest)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{image.mode}{image.size}".encode())
    digest.update(image.tobytes())
    return digest.digest()


def _length_sorted_batches(
    prepared: list[_Prepared], batch_size: int, max_batch_tokens: int | None = None
) -> list[list[_Prepared]]:
    """Group by kind, sort longest first (padding stays small; memory peaks show up at once),
    and cut batches at ``batch_size`` items or ``max_batch_tokens`` padded tokens."""
    batches: list[list[_Prepared]] = []
    for kind in Kind:
        group = [p for p in prepared if p.item.kind is kind]
        group.sort(key=lambda p: (p.length, _pixels(p.item)), reverse=True)
        current: list[_Prepared] = []
        for p in group:
            # sorted longest first: the batch's padded length is its first item's length
            padded = (len(current) + 1) * (current[0].length if current else p.length)
            if current and (len(current) == batch_size or (max_batch_tokens and padded > max_batch_tokens)):
                batches.append(current)
                current = []
            current.append(p)
        if current:
            batches.append(current)
    return batches


def _pixels(item: Item) -> int:
    return item.image.width * item.image.height if item.image is not None else 0
