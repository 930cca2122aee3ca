"""Chat wrapping: how a prompt body is put inside the backbone's conversation format.

Wrappers are small registered strategies:

* ``llama3_e5v``: the exact string of the E5-V reference for LLaVA-NeXT-8B (royokong/e5-v),
  including the assistant header's trailing ``"\\n\\n \\n"``;
* ``mistral_inst``: ``[INST] ... [/INST]`` as the references do for LLaVA-1.6-Mistral (the body's
  trailing space is dropped: ``[INST] <image>\nSummary above image in one word: [/INST]``);
* ``processor``: the processor's (or tokenizer's) own chat template, user turn + generation prompt;
* ``none``: the body as it is;
* any string containing ``{}`` is used as a format string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from e5v.prompts import IMAGE

LLAMA3_E5V_TEMPLATE = (
    "<|start_header_id|>user<|end_header_id|>\n\n{}<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n \n"
)
MISTRAL_INST_TEMPLATE = "[INST] {} [/INST]"


class ChatWrapper(Protocol):
    """Wraps a prompt body whose image slot is still the ``<image>`` placeholder."""

    name: str

    def wrap(self, body: str) -> str: ...


@dataclass(frozen=True)
class FormatWrapper:
    """Wrap the body with a ``str.format`` template containing one ``{}``."""

    template: str
    name: str = "format"
    #: strip trailing whitespace from the body (Mistral's ``[INST] body [/INST]`` has its own space)
    strip_body: bool = False

    def __post_init__(self) -> None:
        if self.template.count("{}") != 1:
            raise ValueError(f"chat template {self.template!r} must contain exactly one '{{}}'")

    def wrap(self, body: str) -> str:
        # Not str.format: a body containing braces must pass through untouched.
        head, tail = self.template.split("{}")
        return head + (body.rstrip() if self.strip_body else body) + tail


@dataclass(frozen=True)
class ProcessorChatWrapper:
    """Use the Jinja chat template of a processor or tokenizer (user turn + generation prompt).

    With ``structured=True`` (multimodal processors) the body is given as a list of typed
    parts, ``{"type": "image"}`` where the ``<image>`` placeholder was, so the template emits the
    backbone's own image markup (e.g. Qwen2-VL's vision start/pad/end tokens).
    """

    owner: Any
    structured: bool
    name: str = "processor"

    def wrap(self, body: str) -> str:
        if self.structured:
            content: Any = []
            for i, piece in enumerate(body.split(IMAGE)):
                if i:
                    content.append({"type": "image"})
                if piece:
                    content.append({"type": "text", "text": piece})
        else:
            content = body
        messages = [{"role": "user", "content": content}]
        return self.owner.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


NO_WRAP = FormatWrapper("{}", name="none")
LLAMA3_E5V = FormatWrapper(LLAMA3_E5V_TEMPLATE, name="llama3_e5v")
MISTRAL_INST = FormatWrapper(MISTRAL_INST_TEMPLATE, name="mistral_inst", strip_body=True)

NAMED_WRAPPERS: dict[str, FormatWrapper] = {w.name: w for w in (NO_WRAP, LLAMA3_E5V, MISTRAL_INST)}


def has_chat_template(owner: Any) -> bool:
    return bool(getattr(owner, "chat_template", None))


def make_wrapper(spec: str | bool | None, processor: Any, structured: bool) -> ChatWrapper | None:
    """Build a wrapper from a user ``chat_template=`` value.

    Returns ``None`` for ``spec=None`` (meaning: let the backbone adapter choose).
    ``False`` or ``"none"`` switch wrapping off.
    """
    if spec is None:
        return None
    if spec is False:
        return NO_WRAP
    if spec is True or spec == "processor":
        if not has_chat_template(processor):
            raise ValueError("chat_template='processor' but the processor/tokenizer has no chat template")
        return ProcessorChatWrapper(processor, structured=structured)
    if isinstance(spec, str):
        if spec in NAMED_WRAPPERS:
            return NAMED_WRAPPERS[spec]
        if "{}" in spec:
            return FormatWrapper(spec, name="custom")
        raise ValueError(
            f"unknown chat_template {spec!r}: use one of {sorted(NAMED_WRAPPERS)}, 'processor', False, "
            "or a format string containing '{}'"
        )
    raise TypeError(f"chat_template must be a str, bool or None, got {type(spec).__name__}")
