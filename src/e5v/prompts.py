"""Prompt templates are data: named sets of templates, one per input kind.

A template is a string with the placeholders ``<image>`` (where the image goes) and ``<text>``
(where the text goes; the reference code's ``<sent>`` is accepted as an alias). It is the *body*
of the prompt: the backbone's chat wrapping (see :mod:`e5v.chat`) is applied around it.

The E5-V templates below are character for character those of the reference inference code
(note the trailing spaces).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from e5v.errors import PromptError
from e5v.inputs import Kind

IMAGE = "<image>"
TEXT = "<text>"
_TEXT_ALIASES = ("<sent>",)


@dataclass(frozen=True)
class PromptSet:
    """One template per input kind. ``wrap`` says whether the chat wrapping applies by default."""

    text: str
    image: str
    interleaved: str
    wrap: bool = True

    def template_for(self, kind: Kind) -> str:
        return {Kind.TEXT: self.text, Kind.IMAGE: self.image, Kind.INTERLEAVED: self.interleaved}[kind]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> PromptSet:
        return cls(**{k: data[k] for k in ("text", "image", "interleaved", "wrap") if k in data})  # type: ignore[arg-type]

    @classmethod
    def single(cls, template: str, wrap: bool = True) -> PromptSet:
        """The same user template for every kind (checked per item against its placeholders)."""
        return cls(text=template, image=template, interleaved=template, wrap=wrap)


#: Named prompt sets. Representation methods of the paper's Table 6 are ``one_word`` (the E5-V
#: default), ``prompt`` (the same prompts without "in one word") and ``last`` (bare input, no
#: prompt and no chat wrapping: the last token of the input itself).
PROMPTS: dict[str, PromptSet] = {
    "one_word": PromptSet(
        text="<text>\nSummary above sentence in one word: ",
        image="<image>\nSummary above image in one word: ",
        interleaved="<image>\n<text>\nSummary above image and sentence in one word: ",
    ),
    "prompt": PromptSet(
        text="<text>\nSummary above sentence: ",
        image="<image>\nSummary above image: ",
        interleaved="<image>\n<text>\nSummary above image and sentence: ",
    ),
    "last": PromptSet(text="<text>", image="<image>", interleaved="<image>\n<text>", wrap=False),
    # Sentence similarity prompt of the E5-V STS evaluation (leading space, no trailing space).
    "sts": PromptSet.single(" <text>\nSummary above sentence in one word:"),
    # UniME stage-1 text prompt.
    "unime_text": PromptSet.single("<text> Summary above sentences in one word: \n"),
    # Composed image retrieval (E5-V's CIRR prompts; the typo "desribe" is the reference's).
    "cirr_query": PromptSet.single(
        '<image>Modify this image with "<text>", desribe modified image in one word:'
    ),
    "cirr_target": PromptSet.single("<image>\n Describe this image in one word:"),
    # FashionIQ prompts; ``{cat}`` is filled by :func:`resolve_prompts` (dress, shirt, toptee->shirt).
    "fashioniq_query": PromptSet.single(
        "<image> change the style of this {cat} to <text>\n Desribe this modified {cat} in one word based on its style:"
    ),
    "fashioniq_target": PromptSet.single("<image>\n Describe this {cat} in one word based on its style:"),
}

#: Representation methods (paper Table 6) -> prompt set names.
REPRESENTATIONS = ("one_word", "prompt", "last")

PromptLike = str | PromptSet | Mapping[str, str] | None


def register_prompt(name: str, prompts: PromptSet) -> None:
    """Add (or replace) a named prompt set in the registry."""
    PROMPTS[name] = prompts


def resolve_prompts(prompt: PromptLike, default: PromptSet, **fields: str) -> PromptSet:
    """Turn what a user passes as ``prompt=`` into a :class:`PromptSet`.

    Args:
        prompt: ``None`` (use ``default``), a registry name, a template string used for every
            item, a mapping ``{"text": ..., "image": ..., "interleaved": ...}`` (missing kinds
            fall back to ``default``), or a :class:`PromptSet`.
        default: the prompts used where ``prompt`` says nothing.
        fields: values for ``{name}`` fields in registry templates (e.g. ``cat="dress"``).
    """
    if prompt is None:
        result = default
    elif isinstance(prompt, PromptSet):
        result = prompt
    elif isinstance(prompt, str):
        result = PROMPTS[prompt] if prompt in PROMPTS else PromptSet.single(prompt)
    elif isinstance(prompt, Mapping):
        unknown = set(prompt) - {"text", "image", "interleaved", "wrap"}
        if unknown:
            raise PromptError(f"unknown prompt keys {sorted(unknown)}; expected text, image, interleaved")
        result = PromptSet.from_dict({**default.to_dict(), **prompt})
    else:
        raise PromptError(f"prompt must be a str, a mapping or a PromptSet, got {type(prompt).__name__}")
    if fields:
        result = PromptSet(
            text=result.text.format(**fields),
            image=result.image.format(**fields),
            interleaved=result.interleaved.format(**fields),
            wrap=result.wrap,
        )
    return result


def normalise_placeholders(template: str) -> str:
    for alias in _TEXT_ALIASES:
        template = template.replace(alias, TEXT)
    return template


def check_template(template: str, kind: Kind) -> None:
    """Raise :class:`PromptError` when ``template`` lacks a placeholder the item kind needs."""
    template = normalise_placeholders(template)
    needs_text = kind in (Kind.TEXT, Kind.INTERLEAVED)
    needs_image = kind in (Kind.IMAGE, Kind.INTERLEAVED)
    if needs_text and TEXT not in template:
        raise PromptError(f"prompt {template!r} has no {TEXT} placeholder for a {kind.value} input")
    if needs_image and template.count(IMAGE) != 1:
        raise PromptError(
            f"prompt {template!r} needs exactly one {IMAGE} placeholder for a {kind.value} input"
        )
    if not needs_image and IMAGE in template:
        raise PromptError(f"prompt {template!r} has an {IMAGE} placeholder but the input is {kind.value}")


def fill_template(template: str, text: str | None, image_token: str) -> str:
    """Substitute the placeholders: ``<image>`` -> the backbone's image token, ``<text>`` -> text.

    The text is inserted last and only into the template's own text, so a text that happens to
    contain ``<image>`` cannot add an image slot.
    """
    parts = normalise_placeholders(template).split(IMAGE)
    if text is not None:
        parts = [part.replace(TEXT, text) for part in parts]
    return image_token.join(parts)


def dumps(prompts: PromptSet) -> str:
    return json.dumps(prompts.to_dict(), ensure_ascii=False, indent=2)
