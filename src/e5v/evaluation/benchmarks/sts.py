"""STS12-16, STS-B and SICK-R in SentEval's file format.

Local layout (under the data root): SentEval's ``data/downstream`` folder as ``senteval/``
(e.g. ``ln -s SentEval/data/downstream <data_root>/senteval``)::

    senteval/STS/STS12-en-test/STS.input.<subset>.txt   "sentence1<TAB>sentence2" per line
    senteval/STS/STS12-en-test/STS.gs.<subset>.txt      gold score per line (empty = unscored pair)
    ... STS13-en-test, STS14-en-test, STS15-en-test, STS16-en-test likewise
    senteval/STS/STSBenchmark/sts-test.csv              tab-separated: genre, file, year, id, score, s1, s2
    senteval/SICK/SICK_test_annotated.txt               header line, then id, s1, s2, score, label

Subsets are SentEval's (STS13 without the licensed SMT subset). Hub (``--hf``): MTEB's copies
(``mteb/sts12-sts`` ...; columns sentence1, sentence2, score), which have no subset split (the
pooled "all" Spearman is the same computation).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from e5v.evaluation.benchmarks._hub import load_hub, require_columns
from e5v.evaluation.data import DataError, STSData, require_file
from e5v.evaluation.registry import Benchmark, EvalOptions, register
from e5v.evaluation.tables import TITLES
from e5v.evaluation.tasks.sts import evaluate_sts

STS_SUBSETS: dict[str, tuple[str, ...]] = {
    "sts12": ("MSRpar", "MSRvid", "SMTeuroparl", "surprise.OnWN", "surprise.SMTnews"),
    "sts13": ("FNWN", "headlines", "OnWN"),
    "sts14": ("deft-forum", "deft-news", "headlines", "images", "OnWN", "tweet-news"),
    "sts15": ("answers-forums", "answers-students", "belief", "headlines", "images"),
    "sts16": ("answer-answer", "headlines", "plagiarism", "postediting", "question-question"),
}
HUB_IDS = {
    "sts12": "mteb/sts12-sts",
    "sts13": "mteb/sts13-sts",
    "sts14": "mteb/sts14-sts",
    "sts15": "mteb/sts15-sts",
    "sts16": "mteb/sts16-sts",
    "stsb": "mteb/stsbenchmark-sts",
    "sick-r": "mteb/sickr-sts",
}


def _lines(path: Path, what: str, layout: str) -> list[str]:
    require_file(path, what, layout)
    return path.read_text(encoding="utf-8").splitlines()


def load_sts_year(root: Path, name: str) -> STSData:
    """STS12-16: each subset's input and gold files; pairs without a gold score are dropped."""
    year = name[-2:]
    folder = Path(root) / "senteval" / "STS" / f"STS{year}-en-test"
    layout = f"  senteval/STS/STS{year}-en-test/STS.input.<subset>.txt and STS.gs.<subset>.txt"
    subsets = {}
    for subset in STS_SUBSETS[name]:
        inputs = _lines(folder / f"STS.input.{subset}.txt", f"{TITLES[name]} {subset}", layout)
        gold = _lines(folder / f"STS.gs.{subset}.txt", f"{TITLES[name]} {subset}", layout)
        if len(inputs) != len(gold):
            raise DataError(f"{folder}: {subset} has {len(inputs)} sentence pairs but {len(gold)} gold lines")
        first, second, scores = [], [], []
        for n, (line, score) in enumerate(zip(inputs, gold, strict=True)):
            if not score.strip():
                continue
            parts = line.split("\t")
            if len(parts) < 2:
                raise DataError(
                    f"{folder / f'STS.input.{subset}.txt'} line {n + 1}: expected 2 tab-separated sentences"
                )
            first.append(parts[0])
            second.append(parts[1])
            scores.append(_score(score, folder / f"STS.gs.{subset}.txt", n))
        subsets[subset] = (first, second, np.asarray(scores))
    return STSData(name, subsets)


def _score(text: str, path: Path, n: int) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise DataError(f"{path} line {n + 1}: gold score {text!r} is not a number") from exc


def _tab_separated_pairs(
    path: Path, title: str, layout: str, columns: tuple[int, int, int], expected: str, header: bool
) -> tuple[list[str], list[str], np.ndarray]:
    """Sentence pairs and gold scores from a tab-separated file (``columns``: s1, s2, score)."""
    first, second, scores = [], [], []
    lines = _lines(path, title, layout)
    for n, line in enumerate(lines[1:] if header else lines, start=1 if header else 0):
        parts = line.strip().split("\t")
        if len(parts) <= max(columns):
            raise DataError(f"{path} line {n + 1}: expected {expected}")
        first.append(parts[columns[0]])
        second.append(parts[columns[1]])
        scores.append(_score(parts[columns[2]], path, n))
    return first, second, np.asarray(scores)


def load_stsb(root: Path, options: EvalOptions) -> STSData:
    path = Path(root) / "senteval" / "STS" / "STSBenchmark" / "sts-test.csv"
    pairs = _tab_separated_pairs(
        path,
        "STS-B",
        "  senteval/STS/STSBenchmark/sts-test.csv",
        (5, 6, 4),
        "7 tab-separated fields (genre, file, year, id, score, s1, s2)",
        header=False,
    )
    return STSData("stsb", {"test": pairs})


def load_sickr(root: Path, options: EvalOptions) -> STSData:
    path = Path(root) / "senteval" / "SICK" / "SICK_test_annotated.txt"
    pairs = _tab_separated_pairs(
        path,
        "SICK-R",
        "  senteval/SICK/SICK_test_annotated.txt",
        (1, 2, 3),
        "pair_ID, sentence_A, sentence_B, relatedness_score, ...",
        header=True,
    )
    return STSData("sick-r", {"test": pairs})


def _hub_loader(name: str):
    def load(repo_id: str, options: EvalOptions) -> STSData:
        ds = load_hub(repo_id, "test")
        require_columns(ds, ("sentence1", "sentence2", "score"), repo_id)
        subset = "test" if name in ("stsb", "sick-r") else "all"
        return STSData(
            name, {subset: (list(ds["sentence1"]), list(ds["sentence2"]), np.asarray(ds["score"], float))}
        )

    return load


def _year_loader(name: str):
    def load(root: Path, options: EvalOptions) -> STSData:
        return load_sts_year(root, name)

    return load


_LOADERS = {name: _year_loader(name) for name in STS_SUBSETS}
_LOADERS.update({"stsb": load_stsb, "sick-r": load_sickr})
for _name, _loader in _LOADERS.items():
    register(
        Benchmark(
            name=_name,
            task="sts",
            load=_loader,
            load_hf=_hub_loader(_name),
            hf_id=HUB_IDS[_name],
            evaluate=evaluate_sts,
            layout=(
                f"  senteval/STS/STS{_name[-2:]}-en-test/STS.input.<subset>.txt, STS.gs.<subset>.txt"
                if _name in STS_SUBSETS
                else "  senteval/STS/STSBenchmark/sts-test.csv"
                if _name == "stsb"
                else "  senteval/SICK/SICK_test_annotated.txt"
            ),
            reference="E5-V Table 5",
            description=f"{TITLES[_name]}: Spearman of cosine (x100), E5-V's STS prompt",
        )
    )
