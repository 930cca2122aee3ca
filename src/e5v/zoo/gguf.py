"""Convert a GGUF checkpoint into a cached transformers model directory (safetensors)."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path

from e5v.errors import ModelBuildError

logger = logging.getLogger(__name__)

_STAMP = "e5v_source.json"


def convert_gguf(gguf_file: Path, target: Path) -> Path:
    """Dequantise ``gguf_file`` with transformers' GGUF loader and save it to ``target``.

    The directory is written under a temporary name and renamed when complete, so an
    interrupted conversion never leaves a half-written model. A stamp records the source file's
    size and mtime; a changed source triggers a new conversion.
    """
    gguf_file = Path(gguf_file)
    stat = gguf_file.stat()
    source = {"gguf": str(gguf_file), "size": stat.st_size, "mtime": int(stat.st_mtime)}
    stamp = target / _STAMP
    if stamp.is_file() and json.loads(stamp.read_text()) == source:
        return target

    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.info("converting %s to safetensors in %s (once)", gguf_file.name, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
        model = AutoModelForCausalLM.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
        # The weights are already dequantised to float; drop the GGUF quantiser marker so that
        # transformers saves them as an ordinary checkpoint.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / _STAMP).write_text(json.dumps(source))
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelBuildError(f"could not convert GGUF file {gguf_file}: {exc}") from exc
    return target
