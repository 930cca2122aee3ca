"""Shared helpers of the e5v benchmarks: inputs, memory probes, timing, agreement, tables.

Pure functions where possible so that ``tests/bench`` can check them against hand-computed cases.
"""

from __future__ import annotations

import contextlib
import os
import resource
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_WORDS = [
    "a",
    "dog",
    "runs",
    "on",
    "the",
    "beach",
    "while",
    "two",
    "children",
    "play",
    "with",
    "a",
    "red",
    "ball",
    "near",
    "old",
    "wooden",
    "boats",
    "the",
    "city",
    "lights",
    "shine",
    "over",
    "a",
    "quiet",
    "river",
    "as",
    "people",
    "walk",
    "home",
    "after",
    "work",
    "in",
    "the",
    "cold",
    "evening",
    "scientists",
    "measured",
    "the",
    "temperature",
    "of",
    "the",
    "lake",
    "every",
    "morning",
    "for",
    "three",
    "years",
    "and",
    "found",
    "that",
    "small",
    "changes",
    "in",
    "wind",
    "direction",
    "explain",
    "most",
    "of",
    "the",
    "variation",
    "in",
    "surface",
    "warming",
]


def make_texts(n: int, min_words: int, max_words: int, seed: int = 0) -> list[str]:
    """``n`` deterministic pseudo-sentences of ``min_words..max_words`` words (all distinct)."""
    rng = np.random.default_rng(seed)
    texts = []
    for i in range(n):
        length = int(rng.integers(min_words, max_words + 1))
        words = rng.choice(_WORDS, size=length).tolist()
        texts.append(f"{i} " + " ".join(words) + ".")  # the index keeps texts distinct (no dedup)
    return texts


IMAGE_SIZES = ((64, 64), (96, 48), (48, 96), (128, 128), (80, 60))


def make_images(n: int, seed: int = 0, sizes: Sequence[tuple[int, int]] = IMAGE_SIZES) -> list[Any]:
    """``n`` random RGB images of a few shapes (exercising anyres tilings)."""
    from e5v.testing import random_image

    return [random_image(*sizes[i % len(sizes)], seed=seed + i) for i in range(n)]


def make_items(
    kind: str, n: int, min_words: int, max_words: int, seed: int = 0, images: str = "random"
) -> list[Any]:
    """Inputs of one kind: ``text``, ``image`` or ``interleaved``.

    ``images``: ``random`` (noise of a few shapes) or ``samples`` (real images, see
    :func:`sample_images`).
    """
    from e5v import Interleaved

    if images not in ("random", "samples"):
        raise ValueError(f"images must be 'random' or 'samples', got {images!r}")

    def pictures() -> list[Any]:
        return sample_images(n) if images == "samples" else make_images(n, seed)

    if kind == "text":
        return make_texts(n, min_words, max_words, seed)
    if kind == "image":
        return pictures()
    if kind == "interleaved":
        texts = make_texts(n, min_words, max_words, seed)
        return [Interleaved(image=im, text=t) for im, t in zip(pictures(), texts, strict=True)]
    raise ValueError(f"unknown kind {kind!r}")


# ---------------------------------------------------------------- agreement


def cosine_agreement(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Row-wise cosine similarity of two embedding matrices: min and mean.

    Rows are normalised here, so unnormalised inputs are fine. A zero row gives cosine 0.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape}")
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    denom = np.where((na * nb) == 0, 1.0, na * nb)
    cos = (a * b).sum(1) / denom
    return {"min": float(cos.min()), "mean": float(cos.mean())}


# ---------------------------------------------------------------- memory (Linux /proc)


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mib() -> float:
    """Current resident set size in MiB."""
    kib = _status_kib("VmRSS")
    return (kib or 0) / 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark (``VmHWM``) of this process; False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    """RSS high-water mark since the last :func:`reset_peak_rss` (or process start), in MiB."""
    kib = _status_kib("VmHWM")
    if kib is None:  # not Linux: whole-process high-water mark
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024


def process_maxrss_mib() -> float:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` (KiB on Linux): whole-process high-water mark."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Measure:
    """Wall time and memory of one measured block."""

    seconds: float = 0.0
    rss_before_mib: float = 0.0
    peak_rss_mib: float = 0.0
    cuda_peak_mib: float | None = None

    @property
    def peak_over_loaded_mib(self) -> float:
        """Peak RSS above the RSS of the loaded (warmed-up) model: activations and buffers."""
        return max(0.0, self.peak_rss_mib - self.rss_before_mib)


def release_free_memory() -> None:
    """Give memory that glibc keeps after ``free`` back to the OS (``malloc_trim``).

    Without it, memory freed after loading the model is reused by the measured block and its
    activations never show up as RSS growth.
    """
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


@contextlib.contextmanager
def measure(device: str = "cpu") -> Iterator[Measure]:
    """Time a block and record its RSS high-water mark (and CUDA peak on GPU)."""
    release_free_memory()
    m = Measure(rss_before_mib=rss_mib())
    reset_peak_rss()
    cuda = device.startswith("cuda")
    if cuda:
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    yield m
    if cuda:
        import torch

        torch.cuda.synchronize()
        m.cuda_peak_mib = torch.cuda.max_memory_allocated() / 2**20
    m.seconds = time.perf_counter() - start
    m.peak_rss_mib = peak_rss_mib()


def best_of(fn: Any, repeats: int = 1, device: str = "cpu") -> tuple[Any, Measure]:
    """Run ``fn()`` ``repeats`` times under :func:`measure`; keep the fastest (shared machines)."""
    best: Measure | None = None
    result = None
    for _ in range(max(1, repeats)):
        with measure(device) as m:
            out = fn()
        if best is None or m.seconds < best.seconds:
            best, result = m, out
    assert best is not None
    return result, best


# ---------------------------------------------------------------- FLOP/s


def matmul_flops(m: int, k: int, n: int, dtype: Any, device: str = "cpu", min_seconds: float = 1.0) -> float:
    """Dense ``[m,k] @ [k,n]`` FLOP/s (``2*m*k*n`` per product) at ``dtype``, best of repeats."""
    import torch

    a = torch.randn(m, k, dtype=dtype, device=device)
    b = torch.randn(k, n, dtype=dtype, device=device)
    for _ in range(2):
        torch.matmul(a, b)
    best = float("inf")
    spent = 0.0
    reps = 0
    while spent < min_seconds or reps < 3:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        torch.matmul(a, b)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        dt = time.perf_counter() - t
        best = min(best, dt)
        spent += dt
        reps += 1
    return 2.0 * m * k * n / best


def model_flops(params: int, tokens: int) -> float:
    """Forward FLOPs by the ``2 * params * tokens`` approximation (attention scores ignored)."""
    return 2.0 * params * tokens


# ---------------------------------------------------------------- tables


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.4f}" if abs(value) < 1 else f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def table(rows: list[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A Markdown table of ``rows`` (dicts) with the given column order."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(_cell(r.get(c), c) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _cell(value: Any, column: str) -> str:
    if "cos" in column and isinstance(value, float):
        return f"{value:.6f}"  # agreement needs digits beyond 0.9999
    return fmt(value)


def set_threads(threads: int | None) -> None:
    """Pin torch's intra-op threads (the same for every method of a run)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)


# ---------------------------------------------------------------- subprocess workers


def run_json_worker(
    script: str | os.PathLike[str], spec: dict[str, Any], timeout: float | None = None
) -> Any:
    """Run ``python <script> --worker <spec as JSON>`` in a fresh process; parse its last stdout line.

    One measurement per process, so every RSS high-water mark is that measurement's own. Raises
    ``RuntimeError`` with the end of the worker's stderr when it fails.
    """
    import json
    import subprocess
    import sys

    cmd = [sys.executable, str(script), "--worker", json.dumps(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {spec.get('name', '')} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- real images


def sample_images(n: int) -> list[Any]:
    """``n`` distinct real RGB images: e5v's held-out sample collection (Tux Paint stamps and emoji
    of sizes 32x50 to 234x475); past its 48 images, mirrored / flipped / rotated copies, so that
    no two inputs have the same pixels (``encode`` embeds identical images once, the official loop
    does not: duplicates would flatter e5v)."""
    import json

    from PIL import Image

    from e5v.samples import CAPTIONS_FILE, sample_dir

    folder = sample_dir()
    lines = (folder / CAPTIONS_FILE).read_text(encoding="utf-8").splitlines()
    files = [json.loads(line)["file"] for line in lines if line.strip()]
    loaded = [Image.open(folder / name).convert("RGB") for name in files]
    variants = (
        None,
        Image.Transpose.FLIP_LEFT_RIGHT,
        Image.Transpose.FLIP_TOP_BOTTOM,
        Image.Transpose.ROTATE_90,
        Image.Transpose.ROTATE_270,
    )
    if n > len(loaded) * len(variants):
        raise ValueError(f"at most {len(loaded) * len(variants)} distinct sample images, asked for {n}")
    out = []
    for i in range(n):
        image, variant = loaded[i % len(loaded)], variants[i // len(loaded)]
        out.append(image if variant is None else image.transpose(variant))
    return out


# ---------------------------------------------------------------- the model a benchmark runs


def add_model_source(parser: Any, examples: str) -> None:
    """``--model`` (zoo short name, hub id or local dir) or ``--tiny`` (a tiny random family)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--model", help=f"zoo short name, hub id or local dir (e.g. {examples})")
    group.add_argument("--tiny", help="tiny random model family from e5v.testing (e.g. llava_next, llama)")


def check_model_source(parser: Any, args: Any) -> Any:
    """``args``, after refusing a run (not a worker) that names no model."""
    if not args.worker and not (args.model or args.tiny):
        parser.error("give --model or --tiny")
    return args


def is_multimodal(model: str | None = None, tiny: str | None = None) -> bool:
    """Whether a tiny family or a model (short name, hub id, local dir) takes images."""
    if tiny:
        from e5v.testing import MULTIMODAL_FAMILIES

        return tiny in MULTIMODAL_FAMILIES
    from transformers import AutoConfig

    from e5v import zoo
    from e5v.backbones import backbone_for_config

    source = zoo.resolve(model) if zoo.is_short_name(model) else model
    try:
        return backbone_for_config(AutoConfig.from_pretrained(str(source))).multimodal
    except (OSError, ValueError):  # e.g. a .gguf file: text-only LLMs
        return False
