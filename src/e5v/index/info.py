"""What an index was built with: model, embedding size, prompts. Stored in the table's schema."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from e5v.errors import E5VError

INFO_KEY = b"e5v.index"


class ModelMismatchError(E5VError, ValueError):
    """A query (or new items) embedded by another model, or with another size, than the index's."""


@dataclass(frozen=True)
class IndexInfo:
    """The identity of an index: vectors of different models are not comparable.

    Attributes:
        model: ``Embedder.name`` of the model that embedded the items.
        dim: embedding size.
        prompts: the prompt set the items were embedded with (``PromptSet.to_dict()``).
        prompt_name: the ``--prompt`` given when indexing (a registry name or template), if any.
        metric: distance used for search (``cosine``).
        created_at: ISO-8601 creation time (UTC).
    """

    model: str
    dim: int
    prompts: dict[str, Any] | None = None
    prompt_name: str | None = None
    metric: str = "cosine"
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> IndexInfo:
        data = json.loads(text)
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def check_model(self, model: str | None, dim: int | None = None) -> None:
        """Refuse vectors from another model or of another size.

        Raises:
            ModelMismatchError: ``model`` (when given) is not the index's model, or ``dim`` differs.
        """
        if model is not None and model != self.model:
            raise ModelMismatchError(
                f"this index was built with model {self.model!r}; a query embedded by {model!r} is not comparable"
            )
        if dim is not None and dim != self.dim:
            raise ModelMismatchError(f"this index holds {self.dim}-d vectors; got {dim}-d vectors")

    def check_same_build(self, other: IndexInfo) -> None:
        """Refuse appending items embedded with another model, size or prompt set."""
        self.check_model(other.model, other.dim)
        if other.prompts is not None and self.prompts is not None and other.prompts != self.prompts:
            raise ModelMismatchError(
                f"this index was built with prompts {self.prompts}; new items would use {other.prompts}"
            )
