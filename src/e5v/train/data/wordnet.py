"""Real text pairs from WordNet 3.0 (Debian ``wordnet-base``), for training runs that need no hub.

``apt-get download wordnet-base && dpkg -x wordnet-base_*.deb root`` gives
``root/usr/share/wordnet/data.{noun,verb,adj,adv}``. From each synset we make triplets
``(sent0, sent1, hard_neg)``:

* lemma -> gloss (definition), hard negative: the gloss of a sibling synset (same hypernym);
* gloss -> usage example, hard negative: a sibling's example (or gloss);
* synonym -> synonym (two lemmas of one synset), hard negative: a sibling's lemma.

Train and held-out triplets come from disjoint synsets.
"""

from __future__ import annotations

import csv
import os
import random
import re
import shutil
import subprocess
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from e5v.train.data.readers import Triplet

POS_FILES = ("noun", "verb")


@dataclass
class Synset:
    offset: str
    lemmas: list[str]
    gloss: str
    examples: list[str]
    hypernyms: list[str] = field(default_factory=list)


def parse_data_file(path: str | Path) -> dict[str, Synset]:
    """Parse a WordNet ``data.<pos>`` file (wndb(5WN) format)."""
    synsets: dict[str, Synset] = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("  "):  # licence header
                continue
            head, _, gloss_part = line.partition(" | ")
            fields = head.split()
            offset, word_count = fields[0], int(fields[3], 16)
            lemmas = [fields[4 + 2 * i].replace("_", " ") for i in range(word_count)]
            lemmas = [re.sub(r"\([a-z]+\)$", "", lemma) for lemma in lemmas]  # adjective markers
            position = 4 + 2 * word_count
            pointer_count = int(fields[position])
            hypernyms = []
            for i in range(pointer_count):
                symbol, target = fields[position + 1 + 4 * i], fields[position + 2 + 4 * i]
                if symbol in ("@", "@i"):
                    hypernyms.append(target)
            pieces = [p.strip() for p in gloss_part.strip().split(";")]
            definition = [p for p in pieces if p and not p.startswith('"')]
            examples = [p.strip('"').strip() for p in pieces if p.startswith('"')]
            gloss = "; ".join(definition).strip()
            if gloss:
                synsets[offset] = Synset(
                    offset, lemmas, gloss, [e for e in examples if len(e) > 8], hypernyms
                )
    return synsets


def _siblings(synsets: dict[str, Synset]) -> dict[str, list[str]]:
    children: dict[str, list[str]] = defaultdict(list)
    for synset in synsets.values():
        for parent in synset.hypernyms:
            children[parent].append(synset.offset)
    siblings: dict[str, list[str]] = defaultdict(list)
    for members in children.values():
        for offset in members:
            siblings[offset].extend(m for m in members if m != offset)
    return siblings


def build_triplets(
    wordnet_dir: str | Path, seed: int = 0, held_out: float = 0.1
) -> tuple[list[Triplet], list[Triplet]]:
    """All WordNet triplets (nouns and verbs with a sibling), split by synset into train / held-out."""
    rng = random.Random(seed)
    train: list[Triplet] = []
    test: list[Triplet] = []
    for pos in POS_FILES:
        synsets = parse_data_file(Path(wordnet_dir) / f"data.{pos}")
        siblings = _siblings(synsets)
        for offset in sorted(synsets):
            if not siblings.get(offset):
                continue
            synset, other = synsets[offset], synsets[rng.choice(siblings[offset])]
            bucket = test if rng.random() < held_out else train
            bucket.append(Triplet(synset.lemmas[0], synset.gloss, other.gloss))
            if synset.examples:
                negative = other.examples[0] if other.examples else other.gloss
                bucket.append(Triplet(synset.gloss, synset.examples[0], negative))
            if len(synset.lemmas) > 1 and synset.lemmas[0].lower() != synset.lemmas[1].lower():
                bucket.append(Triplet(synset.lemmas[0], synset.lemmas[1], other.lemmas[0]))
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def write_triplets(triplets: list[Triplet], path: str | Path) -> Path:
    """Write triplets as a SimCSE-style CSV (sent0, sent1, hard_neg)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sent0", "sent1", "hard_neg"])
        for t in triplets:
            writer.writerow([t.anchor, t.positive, t.negative])
    return path


def find_wordnet(cache_dir: str | Path | None = None, download: bool = True) -> Path | None:
    """Locate WordNet's ``data.noun``: ``$E5V_WORDNET_DIR``, ``/usr/share/wordnet``, or a cache
    where ``apt-get download wordnet-base`` + ``dpkg -x`` put it (when ``download``)."""
    from e5v.zoo import cache_root

    cache = Path(cache_dir) if cache_dir else cache_root() / "wordnet"
    candidates = [os.environ.get("E5V_WORDNET_DIR"), "/usr/share/wordnet", cache / "usr/share/wordnet"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "data.noun").is_file():
            return Path(candidate)
    if not download or not shutil.which("apt-get") or not shutil.which("dpkg"):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run(
                ["apt-get", "download", "wordnet-base"], cwd=tmp, check=True, capture_output=True, timeout=300
            )
            deb = next(Path(tmp).glob("wordnet-base_*.deb"))
            subprocess.run(["dpkg", "-x", str(deb), str(cache)], check=True, capture_output=True, timeout=300)
        except (subprocess.SubprocessError, StopIteration, OSError):
            return None
    target = cache / "usr/share/wordnet"
    return target if (target / "data.noun").is_file() else None
