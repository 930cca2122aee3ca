"""Plain-text tables laid out like the papers' tables, built from results dicts.

``format_results(results)`` takes what :func:`e5v.evaluation.runner.evaluate` returns and gives
one table per task family present (E5-V Tables 1-5, UniME's MMEB, long-caption and SugarCrepe
tables, and a modality-gap table), each with the model as the row label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from e5v.evaluation.tasks.mmeb import META_TASKS

__all__ = ["Table", "format_results", "tables_for"]

TITLES = {
    "flickr30k": "Flickr30K",
    "coco": "COCO",
    "i2i-flickr30k": "I2I-Flickr30K",
    "i2i-coco": "I2I-COCO",
    "sharegpt4v-1k": "ShareGPT4V",
    "urban1k": "Urban1K",
    "sts12": "STS12",
    "sts13": "STS13",
    "sts14": "STS14",
    "sts15": "STS15",
    "sts16": "STS16",
    "stsb": "STS-B",
    "sick-r": "SICK-R",
}
STS_ORDER = ("sts12", "sts13", "sts14", "sts15", "sts16", "stsb", "sick-r")


@dataclass
class Table:
    """A table: grouped header rows (label, span) above the column names, then rows of cells."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    groups: list[list[tuple[str, int]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        n = len(self.columns)
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], len(cell))
        # widen spanned columns so that group labels fit
        for level in self.groups:
            start = 0
            for label, span in level:
                have = sum(widths[start : start + span]) + 3 * (span - 1)
                if len(label) > have:
                    widths[start + span - 1] += len(label) - have
                start += span
        sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
        lines = [self.title, sep]
        for level in self.groups:
            cells, start = [], 0
            for label, span in level:
                w = sum(widths[start : start + span]) + 3 * (span - 1)
                cells.append(f" {label:^{w}} ")
                start += span
            lines.append("|" + "|".join(cells) + "|")
        lines.append("|" + "|".join(f" {self.columns[i]:^{widths[i]}} " for i in range(n)) + "|")
        lines.append(sep)
        for row in self.rows:
            cells = [f" {row[0]:<{widths[0]}} "] + [f" {row[i]:>{widths[i]}} " for i in range(1, n)]
            lines.append("|" + "|".join(cells) + "|")
        lines.append(sep)
        lines.extend(f"  {note}" for note in self.notes)
        return "\n".join(lines)


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _present(results: dict, names: Sequence[str]) -> list[str]:
    return [n for n in names if n in results.get("benchmarks", {})]


def _metrics(results: dict, name: str) -> dict:
    return results["benchmarks"][name]["metrics"]


def _by_task(results: dict, task: str) -> list[str]:
    return [n for n, r in results.get("benchmarks", {}).items() if r.get("task") == task]


def _retrieval_table(
    results: dict, names: list[str], title: str, prefixes: tuple[str, str], halves: tuple[str, str]
) -> Table:
    model = results.get("model", "model")
    columns, row = ["Method"], [model]
    top: list[tuple[str, int]] = [("", 1)]
    mid: list[tuple[str, int]] = [("", 1)]
    for prefix, half in zip(prefixes, halves, strict=True):
        top.append((half, 3 * len(names)))
        for name in names:
            mid.append((TITLES.get(name, name), 3))
            m = _metrics(results, name)
            for k in (1, 5, 10):
                columns.append(f"R@{k}")
                row.append(_fmt(m.get(f"{prefix}_R@{k}"), 1))
    return Table(title, columns, [row], groups=[top, mid])


def _image_text(results: dict) -> list[Table]:
    tables = []
    names = _present(results, ("flickr30k", "coco")) + [
        n for n in _by_task(results, "image_text") if n not in ("flickr30k", "coco")
    ]
    if names:
        tables.append(
            _retrieval_table(
                results,
                names,
                "Text-image retrieval (E5-V Table 1): Recall@K",
                ("t2i", "i2t"),
                ("image retrieval", "text retrieval"),
            )
        )
        rows = []
        for name in names:
            gap = results["benchmarks"][name].get("details", {}).get("modality_gap")
            if gap:
                rows.append(
                    [
                        TITLES.get(name, name),
                        _fmt(gap["centroid_distance"], 4),
                        _fmt(gap["mean_cos_matched"], 4),
                        _fmt(gap["mean_cos_unmatched"], 4),
                        _fmt(gap["matched_minus_unmatched"], 4),
                    ]
                )
        if rows:
            tables.append(
                Table(
                    f"Modality gap ({results.get('model', 'model')})",
                    ["Dataset", "centroid dist.", "cos matched", "cos unmatched", "difference"],
                    rows,
                    notes=["centroid dist.: ||mean(image) - mean(text)|| of L2-normalised embeddings"],
                )
            )
    names = _present(results, ("i2i-flickr30k", "i2i-coco"))
    if names:
        fonts = {results["benchmarks"][n]["details"].get("font") for n in names}
        table = _retrieval_table(
            results,
            names,
            "Image-image retrieval (E5-V Table 4): Recall@K",
            ("image", "text"),
            ("image retrieval", "text (render as image) retrieval"),
        )
        table.notes.append(f"captions rendered with {', '.join(sorted(str(f) for f in fonts))}")
        tables.append(table)
    names = _by_task(results, "long_caption")
    if names:
        columns, row = ["Method"], [results.get("model", "model")]
        groups: list[tuple[str, int]] = [("", 1)]
        for name in names:
            groups.append((TITLES.get(name, name), 2))
            m = _metrics(results, name)
            columns += ["I2T", "T2I"]
            row += [_fmt(m.get("i2t_R@1"), 1), _fmt(m.get("t2i_R@1"), 1)]
        tables.append(Table("Long-caption retrieval (UniME): Recall@1", columns, [row], groups=[groups]))
    return tables


def _cirr(results: dict) -> list[Table]:
    tables = []
    for name in _by_task(results, "cirr"):
        r = results["benchmarks"][name]
        if not r["metrics"]:
            files = r.get("details", {}).get("files", [])
            tables.append(
                Table(
                    f"CIRR {r['details'].get('split')}: predictions for the evaluation server",
                    ["Method", "files"],
                    [[results.get("model", "model"), ", ".join(files) or "(not written: no output dir)"]],
                )
            )
            continue
        m = r["metrics"]
        columns = ["Method", "R@1", "R@5", "R@10", "R@50", "R_s@1", "R_s@2", "R_s@3", "Avg"]
        keys = ["R@1", "R@5", "R@10", "R@50", "R_subset@1", "R_subset@2", "R_subset@3", "avg"]
        row = [results.get("model", "model")] + [_fmt(m.get(k), 2) for k in keys]
        tables.append(
            Table(
                f"Composed image retrieval, CIRR {r['details'].get('split')} (E5-V Table 2 reports test)",
                columns,
                [row],
                groups=[[("", 1), ("Recall@K", 4), ("Recall_subset@K", 3), ("", 1)]],
                notes=["Avg = (R@5 + R_subset@1) / 2"],
            )
        )
    return tables


def _fashioniq(results: dict) -> list[Table]:
    tables = []
    for name in _by_task(results, "fashioniq"):
        r = results["benchmarks"][name]
        m = r["metrics"]
        columns, row = ["Method"], [results.get("model", "model")]
        groups: list[tuple[str, int]] = [("", 1)]
        for cat in ("shirt", "dress", "toptee", "avg"):
            if f"{cat}_R@10" in m:
                groups.append(("Average" if cat == "avg" else cat.capitalize(), 2))
                columns += ["R@10", "R@50"]
                row += [_fmt(m[f"{cat}_R@10"], 2), _fmt(m[f"{cat}_R@50"], 2)]
        order = (
            "both caption orders summed (reference code)"
            if r["details"].get("both_orders")
            else "one caption order"
        )
        tables.append(
            Table(
                "Composed image retrieval, FashionIQ val (E5-V Table 3)",
                columns,
                [row],
                [groups],
                notes=[order],
            )
        )
    return tables


def _sts(results: dict) -> list[Table]:
    names = _present(results, STS_ORDER)
    if not names:
        return []
    values = [results["benchmarks"][n]["metrics"][results["benchmarks"][n]["primary_metric"]] for n in names]
    avg_label = "Avg." if len(names) == len(STS_ORDER) else f"Avg. ({len(names)}/7)"
    columns = ["Method", *(TITLES[n] for n in names), avg_label]
    row = [results.get("model", "model"), *(_fmt(v, 2) for v in values), _fmt(sum(values) / len(values), 2)]
    return [
        Table(
            "Sentence embeddings (E5-V Table 5): Spearman x100",
            columns,
            [row],
            notes=["STS12-16: SentEval 'all' (pooled) Spearman; STS-B, SICK-R: test set"],
        )
    ]


def _mmeb(results: dict) -> list[Table]:
    tables = []
    for name in _by_task(results, "mmeb"):
        r = results["benchmarks"][name]
        m = r["metrics"]
        rows = []
        for task, datasets in META_TASKS.items():
            present = [d for d in datasets if f"{d}_P@1" in m]
            if not present:
                continue
            rows.extend([d, task, _fmt(m[f"{d}_P@1"], 1)] for d in present)
            rows.append([f"{task} mean ({len(present)})", task, _fmt(m[f"{task}_mean"], 1)])
        extra = [k for k in m if k.endswith("_P@1") and k[:-4] not in r["details"]["meta_task"]]
        rows.extend([k[:-4], "other", _fmt(m[k], 1)] for k in extra)
        n = sum(1 for k in m if k.endswith("_P@1"))
        if "ind_mean" in m:
            rows.append(["IND mean", "", _fmt(m["ind_mean"], 1)])
        if "ood_mean" in m:
            rows.append(["OOD mean", "", _fmt(m["ood_mean"], 1)])
        rows.append([f"Overall: mean of {n} datasets (standard)", "", _fmt(m["overall_mean_of_datasets"], 1)])
        rows.append(
            ["Overall: mean of meta-task means (UniME)", "", _fmt(m["overall_mean_of_meta_tasks"], 1)]
        )
        notes = [
            "The standard MMEB overall score is the mean over the datasets. UniME's published overall is the",
            "mean of the 4 meta-task means, which weights the 4 grounding sets like the 12 retrieval sets.",
        ]
        if not r["details"].get("complete", True):
            notes.append(f"INCOMPLETE: {len(r['details']['missing'])} of 36 datasets not evaluated")
        tables.append(
            Table(
                f"MMEB Precision@1 ({results.get('model', 'model')})",
                ["Dataset", "Meta-task", "P@1"],
                rows,
                notes=notes,
            )
        )
    return tables


def _sugarcrepe(results: dict) -> list[Table]:
    tables = []
    for name in _by_task(results, "sugarcrepe"):
        m = results["benchmarks"][name]["metrics"]
        keys = [k for k in ("replace", "swap", "add", "mean") if k in m]
        columns = ["Method", *(k.capitalize() for k in keys)]
        row = [results.get("model", "model"), *(_fmt(m[k], 1) for k in keys)]
        tables.append(
            Table(
                "Compositional retrieval, SugarCrepe (UniME): accuracy",
                columns,
                [row],
                notes=["group = mean of its subsets (replace: obj/att/rel, swap: obj/att, add: obj/att)"],
            )
        )
    return tables


def tables_for(results: dict) -> list[Table]:
    """All tables for the benchmarks present in ``results``."""
    out: list[Table] = []
    for build in (_image_text, _cirr, _fashioniq, _sts, _mmeb, _sugarcrepe):
        out.extend(build(results))
    return out


def format_results(results: dict) -> str:
    """The tables as one printable string."""
    return "\n\n".join(t.render() for t in tables_for(results))
