"""Inference benchmark: e5v ``Embedder.encode`` against the official E5-V loop, side by side.

One command measures, for the same model and the same inputs in one run:

* ``compare``: items/s, peak memory and cosine agreement of three methods, each in a fresh
  subprocess (so that every method's RSS high-water mark is its own):
  ``official`` (the royokong/e5-v loop: batch 4, inputs in the given order, the full model call
  with ``output_hidden_states=True`` and full-vocabulary logits at every position,
  ``hidden_states[-1][:, -1]``, ``F.normalize``), ``e5v`` (``Embedder.encode``) and, for text-only
  LLMs, ``st`` (sentence-transformers: ``Transformer`` (AutoModel, no LM head) + ``Pooling``
  ``lasttoken``, batch 32, the same prompt strings, normalised).
* ``flops``: dense matmul FLOP/s at the model dtype and the model's achieved FLOP/s on text
  (``2 * non-embedding params * real tokens``; attention scores are not counted).
* ``scaling``: items/s and memory against batch size, text length and (anyres models) image tiles.
* ``levers``: each lever against ``encode`` with the library defaults: the shared-prefix KV
  cache off, unsorted batches, eager attention, dynamic int8 and bf16 (CPU), deduplication and
  ``torch.compile`` (compile time reported apart from steady-state items/s); ``--levers``.

Images are e5v's real sample images (``e5v.samples``) with ``--model`` and random noise with
``--tiny`` (``--images``).

Examples::

    python bench/inference.py --model smollm2-135m-instruct --kinds text
    python bench/inference.py --model e5v-tiny --kinds text,image,interleaved --sections compare
    python bench/inference.py --tiny llava_next --kinds text,image,interleaved
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

SECTIONS = ("compare", "flops", "scaling", "levers")


# ---------------------------------------------------------------- model loading


def load_embedder(spec: dict[str, Any], **options: Any) -> Any:
    """The Embedder of a run: a zoo/hub/local model (``model``) or a tiny random one (``tiny``)."""
    import torch

    from e5v import Embedder

    if spec.get("tiny"):
        from e5v.testing import tiny_model

        model, processor = tiny_model(spec["tiny"], seed=0)
        dtype = getattr(torch, spec["dtype"]) if spec.get("dtype") else torch.float32
        model = model.to(device=spec["device"], dtype=dtype)
        return Embedder(model, processor, name=f"tiny-{spec['tiny']}", **options)
    kwargs = {"device": spec["device"]}
    if spec.get("dtype"):
        kwargs["dtype"] = spec["dtype"]
    return Embedder.from_pretrained(spec["model"], **kwargs, **options)


def lm_params(model: Any) -> int:
    """Parameters that take part in the text forward, minus token embeddings and the LM head."""
    skip = ("embed_tokens", "lm_head", "vision_tower", "vision_model", "visual", "multi_modal_projector")
    return sum(p.numel() for n, p in model.named_parameters() if not any(s in n for s in skip))


def real_tokens(emb: Any, prompts: list[str]) -> int:
    ids = emb.tokenizer(prompts, add_special_tokens=emb._add_special_tokens(prompts[0]))["input_ids"]
    return sum(len(i) for i in ids)


def prompts_of(emb: Any, items: list[Any]) -> tuple[list[str], list[Any]]:
    """The exact prompt strings e5v builds (``build_prompt``) and the images, per item."""
    from e5v.inputs import prepare_items

    prepared = prepare_items(items)
    prompts = [emb.build_prompt(it.kind, it.text) for it in prepared]
    return prompts, [it.image for it in prepared]


# ---------------------------------------------------------------- the methods


def official_loop(emb: Any, prompts: list[str], images: list[Any], batch_size: int = 4) -> np.ndarray:
    """The royokong/e5-v inference loop, reproduced: batch 4 in input order, full model call.

    ``model(**inputs, output_hidden_states=True).hidden_states[-1][:, -1, :]`` then
    ``F.normalize``; left padding with EOS as pad, so position -1 is the prompt's last token.
    BOS handling follows e5v's (no second BOS when the chat template wrote one) so that both
    methods see identical token ids.
    """
    import torch
    import torch.nn.functional as F

    model, processor, tok = emb.model, emb.processor, emb.tokenizer
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    add_special = emb._add_special_tokens(prompts[0])
    out = []
    with torch.no_grad():
        for i in range(0, len(prompts), batch_size):
            texts = prompts[i : i + batch_size]
            imgs = [im for im in images[i : i + batch_size] if im is not None]
            if imgs:
                per_sample = [int(im is not None) for im in images[i : i + batch_size]]
                inputs = processor(
                    text=texts,
                    images=emb.backbone.processor_images(imgs, per_sample),
                    return_tensors="pt",
                    padding=True,
                    add_special_tokens=add_special,
                )
            else:
                inputs = tok(texts, return_tensors="pt", padding=True, add_special_tokens=add_special)
            inputs.pop("token_type_ids", None)
            inputs = {
                k: (v.to(emb.device, emb.dtype) if torch.is_floating_point(v) else v.to(emb.device))
                for k, v in inputs.items()
                if isinstance(v, torch.Tensor)
            }
            hidden = model(**inputs, output_hidden_states=True).hidden_states[-1][:, -1, :]
            out.append(F.normalize(hidden.float(), dim=-1).cpu())
    return torch.cat(out).numpy()


def build_st(emb: Any, spec: dict[str, Any], workdir: Path) -> Any:
    """sentence-transformers model of the same LLM: AutoModel + last-token pooling."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Pooling, Transformer

    if spec.get("tiny"):
        source = workdir / "st_model"
        emb.model.save_pretrained(source)
        emb.tokenizer.save_pretrained(source)
    else:
        from e5v import zoo

        source = zoo.resolve(spec["model"]) if zoo.is_short_name(spec["model"]) else spec["model"]
    # Plain text modality: sentence-transformers 6 otherwise wraps chat-model inputs in the chat
    # template a second time (our prompt strings are already wrapped).
    transformer = Transformer(
        str(source),
        modality_config={"text": {"method": "forward", "method_output_name": "last_hidden_state"}},
        module_output_name="token_embeddings",
    )
    tok = transformer.tokenizer
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    st = SentenceTransformer(modules=[transformer, Pooling(emb.dim, "lasttoken")], device=spec["device"])
    return st.to(emb.dtype).eval()  # the same dtype as the other methods


def st_encode(st: Any, prompts: list[str], batch_size: int = 32) -> np.ndarray:
    return st.encode(prompts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)


# ---------------------------------------------------------------- worker (one subprocess per method)


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Load, warm up, then time one method on the run's inputs; save its embeddings."""
    import torch

    common.set_threads(spec.get("threads"))
    emb = load_embedder(spec)
    items = common.make_items(
        spec["kind"], spec["n"], *spec["words"], seed=spec["seed"], images=spec.get("images", "random")
    )
    prompts, images = prompts_of(emb, items)
    method = spec["method"]
    workdir = Path(spec["workdir"])
    if method == "e5v":
        bs = spec["batch_size"]

        def run(its: list[Any], ps: list[str], ims: list[Any]) -> np.ndarray:
            return emb.encode(its, batch_size=bs, show_progress=False)
    elif method == "official":
        bs = 4

        def run(its: list[Any], ps: list[str], ims: list[Any]) -> np.ndarray:
            return official_loop(emb, ps, ims)
    elif method == "st":
        bs = 32
        st = build_st(emb, spec, workdir)

        def run(its: list[Any], ps: list[str], ims: list[Any]) -> np.ndarray:
            return st_encode(st, ps)
    else:
        raise ValueError(method)
    warm = min(4, len(items))
    run(items[:warm], prompts[:warm], images[:warm])
    best: common.Measure | None = None
    for _ in range(spec.get("repeats", 1)):  # best of repeats: the machine is shared
        with torch.inference_mode() if method != "st" else _null(), common.measure(spec["device"]) as m:
            vecs = run(items, prompts, images)
        if best is None or m.seconds < best.seconds:
            best = m
    m = best
    np.save(workdir / f"{spec['kind']}_{method}.npy", vecs)
    tokens = real_tokens(emb, prompts) if spec["kind"] == "text" else None
    params = lm_params(emb.model)
    return {
        "kind": spec["kind"],
        "method": method,
        "batch": bs,
        "prefix_cache": emb.prefix_cache if method == "e5v" else None,
        "n": len(items),
        "seconds": m.seconds,
        "items/s": len(items) / m.seconds,
        "tokens": tokens,
        "params": params,
        "rss_loaded_MiB": m.rss_before_mib,
        "peak_rss_MiB": m.peak_rss_mib,
        "peak_over_loaded_MiB": m.peak_over_loaded_mib,
        "cuda_peak_MiB": m.cuda_peak_mib,
        "ru_maxrss_MiB": common.process_maxrss_mib(),
    }


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`worker` (or a section worker) in a fresh Python process; return its JSON."""
    return common.run_json_worker(
        Path(__file__).resolve(), {"name": spec.get("method") or spec.get("section"), **spec}
    )


# ---------------------------------------------------------------- sections


def section_compare(spec: dict[str, Any], kinds: list[str], workdir: Path) -> list[dict[str, Any]]:
    multimodal = common.is_multimodal(spec.get("model"), spec.get("tiny"))
    rows = []
    for kind in kinds:
        methods = ["official", "e5v"] + (["st"] if kind == "text" and not multimodal else [])
        results = {}
        for method in methods:
            results[method] = run_worker({**spec, "kind": kind, "method": method, "workdir": str(workdir)})
        ref = np.load(workdir / f"{kind}_official.npy")
        base = results["official"]
        for method in methods:
            r = results[method]
            agree = common.cosine_agreement(np.load(workdir / f"{kind}_{method}.npy"), ref)
            r["x_official_items/s"] = r["items/s"] / base["items/s"]
            r["mem_ratio_peak"] = r["peak_rss_MiB"] / base["peak_rss_MiB"]
            over = base["peak_over_loaded_MiB"]
            r["mem_ratio_over_loaded"] = r["peak_over_loaded_MiB"] / over if over > 0 else None
            r["min_cos_vs_official"] = agree["min"]
            rows.append(r)
    return rows


def flops_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Matmul FLOP/s probe and the model's achieved FLOP/s on a text batch, same process."""
    import torch

    from e5v.backbones import text_config

    common.set_threads(spec.get("threads"))
    emb = load_embedder(spec)
    cfg = text_config(emb.model.config)
    texts = common.make_texts(spec["n"], *spec["words"], seed=spec["seed"])
    prompts, _ = prompts_of(emb, texts)
    tokens = real_tokens(emb, prompts)
    bs = spec["batch_size"]
    tokens_per_batch = max(1, tokens * bs // len(texts))
    dtype = emb.dtype
    probes = {
        f"square 1024 ({dtype})": common.matmul_flops(1024, 1024, 1024, dtype, spec["device"]),
        f"model-shaped {tokens_per_batch}x{cfg.hidden_size}x{cfg.intermediate_size}": common.matmul_flops(
            tokens_per_batch, cfg.hidden_size, cfg.intermediate_size, dtype, spec["device"]
        ),
    }
    peak = max(probes.values())  # the limit at the model's own dtype
    if dtype == torch.float32 and spec["device"] == "cpu":  # what AMX/AVX512-bf16 would allow
        probes["square 1024 (torch.bfloat16, reference only)"] = common.matmul_flops(
            1024, 1024, 1024, torch.bfloat16, spec["device"]
        )
    emb.encode(texts[:bs], batch_size=bs, show_progress=False)
    best = float("inf")
    for _ in range(2):
        t = time.perf_counter()
        emb.encode(texts, batch_size=bs, show_progress=False)
        best = min(best, time.perf_counter() - t)
    params = lm_params(emb.model)
    achieved = common.model_flops(params, tokens) / best
    computed = computed_tokens(emb, prompts)
    done = common.model_flops(params, computed) / best
    return {
        "dtype": str(dtype),
        "threads": torch.get_num_threads(),
        "params_non_embedding": params,
        "real_tokens": tokens,
        "computed_tokens": computed,
        "batch": bs,
        "probes_GFLOP/s": {k: v / 1e9 for k, v in probes.items()},
        "model_GFLOP/s": achieved / 1e9,
        "fraction_of_matmul_peak": achieved / peak,
        "model_GFLOP/s_computed": done / 1e9,
        "fraction_of_matmul_peak_computed": done / peak,
        "items/s": len(texts) / best,
    }


def computed_tokens(emb: Any, prompts: list[str]) -> int:
    """Tokens the model actually runs: the shared prefix (prefix cache) counts once."""
    from e5v.prefix_cache import MIN_PREFIX_TOKENS, common_prefix_length

    ids = emb.tokenizer(prompts, add_special_tokens=emb._add_special_tokens(prompts[0]))["input_ids"]
    total = sum(len(i) for i in ids)
    shared = common_prefix_length(ids) if emb.prefix_cache and len(ids) > 1 else 0
    return total - (len(ids) - 1) * shared if shared >= MIN_PREFIX_TOKENS else total


def scaling_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """items/s and memory vs batch size, text length and image tiles, one loaded model."""
    from e5v import Embedder
    from e5v.inputs import prepare_items

    common.set_threads(spec.get("threads"))
    emb = load_embedder(spec)
    n = spec["n"]
    out: dict[str, list[dict[str, Any]]] = {"batch": [], "length": [], "tiles": []}

    def timed(e: Any, items: list[Any], bs: int) -> tuple[float, common.Measure]:
        e.encode(items[: min(bs, 4)], batch_size=bs, show_progress=False)
        _, m = common.best_of(
            lambda: e.encode(items, batch_size=bs, show_progress=False),
            spec.get("repeats", 1),
            spec["device"],
        )
        return len(items) / m.seconds, m

    texts = common.make_texts(n, *spec["words"], seed=spec["seed"])
    for bs in spec["batch_sizes"]:
        ips, m = timed(emb, texts, bs)
        out["batch"].append({"batch": bs, "items/s": ips, "peak_over_loaded_MiB": m.peak_over_loaded_mib})
    for words in spec["lengths"]:
        t = common.make_texts(n, words, words, seed=spec["seed"])
        prompts, _ = prompts_of(emb, t)
        if (
            emb.context_length
            and max(len(i) for i in emb.tokenizer(prompts)["input_ids"]) > emb.context_length
        ):
            out["length"].append({"words": words, "items/s": None, "note": "exceeds the model's context"})
            continue
        ips, m = timed(emb, t, spec["batch_size"])
        out["length"].append(
            {
                "words": words,
                "tokens/item": real_tokens(emb, prompts) / len(t),
                "items/s": ips,
                "tokens/s": ips * real_tokens(emb, prompts) / len(t),
                "peak_over_loaded_MiB": m.peak_over_loaded_mib,
            }
        )
    if emb.backbone.multimodal and emb.backbone.anyres:
        images = common.make_images(n, seed=spec["seed"], sizes=((96, 96), (96, 64), (64, 96)))
        for tiles in (None, 4, 2, 1):  # each limit narrows the model's pinpoints further
            e = Embedder(emb.model, emb.processor, max_image_tiles=tiles) if tiles else emb
            batch = e.collate(prepare_items(images[:1]))
            seq = int(batch["attention_mask"].shape[1])
            ips, m = timed(e, images, spec["batch_size"])
            out["tiles"].append(
                {
                    "max_tiles": tiles or "all",
                    "tokens/image": seq,
                    "items/s": ips,
                    "peak_over_loaded_MiB": m.peak_over_loaded_mib,
                }
            )
    return out


LEVERS = ("prefix", "unsorted", "eager", "int8", "bf16", "dedup", "compile")


def levers_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Each lever against ``Embedder.encode`` with the library defaults, one process.

    Levers: ``prefix`` (the shared-prefix KV cache off), ``unsorted`` (input-order batches, full
    prompts), ``eager`` attention, ``int8`` dynamic quantisation and ``bf16`` weights (CPU),
    ``dedup`` (50% duplicate inputs) and ``compile`` (``torch.compile`` of the base model: the
    first call, which compiles, is timed apart from the steady state).
    """
    import copy

    import torch

    from e5v import Embedder
    from e5v.inputs import prepare_items

    common.set_threads(spec.get("threads"))
    emb = load_embedder(spec)
    bs = spec["batch_size"]
    chosen = spec.get("levers") or LEVERS
    texts = common.make_texts(spec["n"], *spec["words"], seed=spec["seed"])
    rows = []

    def unsorted(e: Any, items: list[Any]) -> np.ndarray:
        prepared = prepare_items(items)
        outs = []
        with torch.inference_mode():
            for i in range(0, len(prepared), bs):
                h = e.forward(e.collate(prepared[i : i + bs]))
                outs.append(torch.nn.functional.normalize(h.float(), dim=-1))
        return torch.cat(outs).numpy()

    def time_it(fn: Any) -> tuple[float, np.ndarray, common.Measure]:
        fn(texts[:bs])
        vecs, m = common.best_of(lambda: fn(texts), spec.get("repeats", 1), spec["device"])
        return len(texts) / m.seconds, vecs, m

    def sorted_encode(e: Any) -> Any:
        return lambda items: e.encode(items, batch_size=bs, show_progress=False)

    def variant(**options: Any) -> Any:
        return Embedder(emb.model, emb.processor, **options)

    base_ips, base_vecs, base_m = time_it(sorted_encode(emb))
    name = f"e5v encode (defaults: length-sorted, sdpa, prefix cache, {str(emb.dtype).split('.')[-1]})"
    rows.append(_lever(name, base_ips, base_ips, base_vecs, base_vecs, base_m))
    if "prefix" in chosen:
        ips, vecs, m = time_it(sorted_encode(variant(prefix_cache=False)))
        rows.append(_lever("no prefix cache (full prompts)", ips, base_ips, vecs, base_vecs, m))
    if "unsorted" in chosen:
        ips, vecs, m = time_it(lambda items: unsorted(emb, items))
        rows.append(
            _lever("unsorted batches (input order, no prefix cache)", ips, base_ips, vecs, base_vecs, m)
        )
    if "eager" in chosen:
        eager = copy.deepcopy(emb.model)
        eager.set_attn_implementation("eager")
        ips, vecs, m = time_it(sorted_encode(Embedder(eager, emb.processor)))
        rows.append(_lever("eager attention", ips, base_ips, vecs, base_vecs, m))
        del eager
    if spec["device"] == "cpu" and "int8" in chosen:
        from torch.ao.quantization import quantize_dynamic

        qmodel = quantize_dynamic(copy.deepcopy(emb.model), {torch.nn.Linear}, dtype=torch.qint8)
        ips, vecs, m = time_it(sorted_encode(Embedder(qmodel, emb.processor)))
        rows.append(_lever("dynamic int8 (Linear)", ips, base_ips, vecs, base_vecs, m))
        del qmodel
    if spec["device"] == "cpu" and "bf16" in chosen:
        bf16 = Embedder(copy.deepcopy(emb.model).to(torch.bfloat16), emb.processor)
        ips, vecs, m = time_it(sorted_encode(bf16))
        rows.append(_lever("bf16 weights on CPU", ips, base_ips, vecs, base_vecs, m))
        del bf16
    if "dedup" in chosen:
        dup = texts[: len(texts) // 2] * 2  # 50% duplicates: e5v embeds each distinct prompt once
        ips, vecs, m = time_it(lambda items: emb.encode(dup, batch_size=bs, show_progress=False))
        ref = np.concatenate([base_vecs[: len(texts) // 2]] * 2)
        rows.append(_lever("50% duplicate inputs (dedup)", ips, base_ips, vecs, ref, m))
    if "compile" in chosen:
        rows.append(_compile_lever(emb, texts, bs, base_ips, base_vecs, spec))
    return {"rows": rows}


def _compile_lever(
    emb: Any,
    texts: list[str],
    bs: int,
    base_ips: float,
    base_vecs: np.ndarray,
    spec: dict[str, Any],
) -> dict[str, Any]:
    """``torch.compile(base model, dynamic=True)``, the library's other defaults: the first call
    (which compiles every shape it meets) is timed apart from the steady state."""
    import copy

    import torch

    from e5v import Embedder

    model = copy.deepcopy(emb.model)
    prefix = model.base_model_prefix
    setattr(model, prefix, torch.compile(getattr(model, prefix), dynamic=True))
    compiled = Embedder(model, emb.processor, prefix_cache=emb.prefix_cache)
    start = time.perf_counter()
    compiled.encode(texts, batch_size=bs, show_progress=False)  # compiles every shape it meets
    first = time.perf_counter() - start
    vecs, m = common.best_of(
        lambda: compiled.encode(texts, batch_size=bs, show_progress=False),
        spec.get("repeats", 1),
        spec["device"],
    )
    ips = len(texts) / m.seconds
    name = f"torch.compile (dynamic, inductor; prefix cache {'on' if emb.prefix_cache else 'off'})"
    row = _lever(name, ips, base_ips, vecs, base_vecs, m)
    row["first_call_s"] = first
    row["compile_s"] = max(0.0, first - m.seconds)
    return row


def _lever(name: str, ips: float, base: float, vecs: np.ndarray, ref: np.ndarray, m: Any) -> dict[str, Any]:
    return {
        "lever": name,
        "items/s": ips,
        "x_baseline": ips / base,
        "peak_over_loaded_MiB": m.peak_over_loaded_mib,
        "min_cos_vs_fp32": common.cosine_agreement(vecs, ref)["min"],
        "first_call_s": None,
        "compile_s": None,
    }


SECTION_WORKERS = {"flops": flops_worker, "scaling": scaling_worker, "levers": levers_worker}


# ---------------------------------------------------------------- CLI


def versions() -> dict[str, str]:
    import torch
    import transformers

    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    cpu = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line), "?")
    out = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cpu": cpu,
        "cpus": str(__import__("os").cpu_count()),
    }
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_model_source(p, "smollm2-135m-instruct, e5v-tiny")
    p.add_argument("--kinds", default="text", help="comma list of text,image,interleaved")
    p.add_argument("--sections", default=",".join(SECTIONS), help=f"comma list of {','.join(SECTIONS)}")
    p.add_argument("--n", type=int, default=64, help="items per kind")
    p.add_argument("--words", default="8:48", help="min:max words per text")
    p.add_argument("--batch-size", type=int, default=16, help="e5v batch size")
    p.add_argument("--batch-sizes", default="1,4,16,32,64", help="scaling: batch sizes")
    p.add_argument("--lengths", default="8,32,128,384", help="scaling: words per text")
    p.add_argument("--threads", type=int, default=1, help="torch threads, the same for every method")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default=None, help="e.g. bfloat16 (default: float32 on CPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--images",
        choices=("auto", "random", "samples"),
        default="auto",
        help="image inputs: real sample images (default with --model) or random noise (with --tiny)",
    )
    p.add_argument(
        "--levers", default=",".join(LEVERS), help=f"levers section: comma list of {','.join(LEVERS)}"
    )
    p.add_argument("--repeats", type=int, default=2, help="timed repeats per method (best is kept)")
    p.add_argument("--json", type=Path, help="also write all results to this JSON file")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return common.check_model_source(p, p.parse_args(argv))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.worker:
        spec = json.loads(args.worker)
        section = spec.get("section")
        result = SECTION_WORKERS[section](spec) if section else worker(spec)
        print(json.dumps(result))
        return result
    spec = {
        "model": args.model,
        "tiny": args.tiny,
        "n": args.n,
        "words": [int(x) for x in args.words.split(":")],
        "batch_size": args.batch_size,
        "batch_sizes": [int(x) for x in args.batch_sizes.split(",")],
        "lengths": [int(x) for x in args.lengths.split(",")],
        "threads": args.threads,
        "device": args.device,
        "dtype": args.dtype,
        "seed": args.seed,
        "repeats": args.repeats,
        "images": args.images if args.images != "auto" else ("samples" if args.model else "random"),
        "levers": [x for x in args.levers.split(",") if x],
    }
    sections = args.sections.split(",")
    kinds = args.kinds.split(",")
    report: dict[str, Any] = {"versions": versions(), "spec": spec}
    print(f"# e5v inference benchmark: {args.model or 'tiny ' + args.tiny}")
    print(json.dumps(report["versions"]))
    with tempfile.TemporaryDirectory() as tmp:
        if "compare" in sections:
            rows = section_compare(spec, kinds, Path(tmp))
            report["compare"] = rows
            print("\n## compare (each method in a fresh subprocess)\n")
            print(
                common.table(
                    rows,
                    [
                        "kind",
                        "method",
                        "batch",
                        "prefix_cache",
                        "items/s",
                        "x_official_items/s",
                        "peak_rss_MiB",
                        "mem_ratio_peak",
                        "peak_over_loaded_MiB",
                        "mem_ratio_over_loaded",
                        "min_cos_vs_official",
                    ],
                )
            )
        for section in ("flops", "scaling", "levers"):
            if section not in sections:
                continue
            if section == "flops" and "text" not in kinds:
                continue
            try:
                res = run_worker({**spec, "section": section})
            except RuntimeError as exc:  # report and go on with the other sections
                print(f"\n## {section}: FAILED\n\n{exc}")
                report[section] = {"error": str(exc)}
                continue
            report[section] = res
            print(f"\n## {section}\n")
            if section == "flops":
                print(json.dumps(res, indent=1))
            elif section == "scaling":
                for key, rows in res.items():
                    if rows:
                        print(f"### vs {key}\n\n{common.table(rows)}\n")
            else:
                print(common.table(res["rows"]))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
