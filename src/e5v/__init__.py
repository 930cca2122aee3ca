"""e5v: universal multimodal embeddings from multimodal large language models (E5-V, UniME).

>>> from e5v import Embedder, Interleaved
>>> emb = Embedder.from_pretrained("smollm2-135m-instruct")  # doctest: +SKIP
>>> emb.encode(["a dog on a beach"]).shape  # doctest: +SKIP
(1, 576)
"""

from __future__ import annotations

from e5v.embedder import Embedder
from e5v.errors import E5VError, InvalidInputError, ModelBuildError, PromptError, UnsupportedModelError
from e5v.inputs import Interleaved, Kind
from e5v.prompts import PROMPTS, PromptSet

__all__ = [
    "PROMPTS",
    "E5VError",
    "Embedder",
    "Interleaved",
    "InvalidInputError",
    "Kind",
    "ModelBuildError",
    "PromptError",
    "PromptSet",
    "UnsupportedModelError",
]
__version__ = "0.1.0"
