"""Peak memory of one E5-V training step by contrastive batch size, with and without GradCache.

Each (batch size, mode) runs in a fresh subprocess so its peak is its own. Reported: the bytes
of activations autograd keeps for backward (saved tensors, the part GradCache bounds), and the
process's peak resident memory (CPU) or ``max_memory_allocated`` (CUDA).

    python bench/train_gradcache_memory.py --model smollm2-135m-instruct --batch-sizes 4 16 64 --chunk 4

Not a timed test; the figures are in docs/training.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

WORDS = "the a dog cat runs sleeps on under red blue big small house river tree car".split()  # noqa: SIM905


def sentences(n: int, offset: int) -> list[str]:
    return [" ".join(WORDS[(i * 7 + j * 3 + offset) % len(WORDS)] for j in range(12)) for i in range(n)]


def one_step(model: str, batch: int, chunk: int | None) -> dict[str, float]:
    import torch

    from e5v.inputs import Item, Kind
    from e5v.train.config import LoraConfig, ModelConfig
    from e5v.train.gradcache import chunked, full_batch_step, grad_cache_step
    from e5v.train.model import build_embedder
    from e5v.train.objectives import InfoNCEObjective

    torch.manual_seed(0)
    if model.startswith("tiny:"):
        import tempfile

        from e5v.testing import tiny_model

        m, p = tiny_model(model.split(":", 1)[1])
        model = tempfile.mkdtemp()
        m.save_pretrained(model)
        p.save_pretrained(model)
    built = build_embedder(ModelConfig(name=model, dtype="float32"), LoraConfig(r=16, alpha=32))
    emb = built.embedder
    cuda = emb.device.type == "cuda"
    streams_items = [[Item(Kind.TEXT, text=s) for s in sentences(batch, k)] for k in range(3)]
    streams = [[emb.collate(c, max_length=32) for c in chunked(items, chunk)] for items in streams_items]

    # Bytes of activation storages autograd holds for backward (parameters excluded, each
    # storage counted once while any saved tensor refers to it).
    params = {p.untyped_storage().data_ptr() for p in emb.model.parameters()}
    held: dict[int, list[int]] = {}  # storage pointer -> [bytes, references]
    saved = {"now": 0, "peak": 0}

    class Held:
        def __init__(self, t: torch.Tensor) -> None:
            self.t, self.key = t, t.untyped_storage().data_ptr()
            if self.key in params:
                self.key = None
                return
            entry = held.setdefault(self.key, [t.untyped_storage().nbytes(), 0])
            if entry[1] == 0:
                saved["now"] += entry[0]
                saved["peak"] = max(saved["peak"], saved["now"])
            entry[1] += 1

        def __del__(self) -> None:
            if self.key is None:
                return
            entry = held[self.key]
            entry[1] -= 1
            if entry[1] == 0:
                saved["now"] -= entry[0]
                del held[self.key]

    def pack(t: torch.Tensor) -> Held:
        return Held(t)

    def unpack(h: Held) -> torch.Tensor:
        return h.t

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
        step = grad_cache_step if chunk else full_batch_step
        step(emb.forward, streams, InfoNCEObjective())
    result = {
        "batch": batch,
        "mode": f"gradcache(chunk={chunk})" if chunk else "full batch",
        "saved_activations_mib": saved["peak"] / 2**20,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_growth_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024,
    }
    if cuda:
        result["cuda_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct", help="model name/dir, or tiny:<family>")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--chunk", type=int, default=4)
    parser.add_argument("--_child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        model, batch, chunk = args._child
        print(json.dumps(one_step(model, int(batch), int(chunk) or None)))
        return
    print(
        f"{'batch':>6} {'mode':>20} {'saved activations MiB':>22} {'peak RSS MiB':>13} {'RSS growth MiB':>15}"
    )
    for batch in args.batch_sizes:
        for chunk in (0, args.chunk):
            out = (
                subprocess.run(
                    [sys.executable, __file__, "--_child", args.model, str(batch), str(chunk)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            r = json.loads(out)
            extra = f" cuda peak {r['cuda_peak_mib']:.0f} MiB" if "cuda_peak_mib" in r else ""
            print(
                f"{r['batch']:>6} {r['mode']:>20} {r['saved_activations_mib']:>22.1f} {r['peak_rss_mib']:>13.0f} {r['rss_growth_mib']:>15.0f}{extra}"
            )


if __name__ == "__main__":
    main()
