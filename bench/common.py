"""Helpers shared by the bench scripts: data paths, peak memory, JSON + Markdown output."""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

from ntmm_engine.core.environment import environment_info

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# Medical Abstracts (Schopf, Braun and Matthes, NLPIR 2022; CC BY-SA 3.0), read from ../shared, never copied.
MEDICAL = Path(os.environ.get("NTMM_MEDICAL_DATA", ROOT.parent / "shared" / "data" / "medical_abstracts"))
CITATION = ('Medical Abstracts: Schopf, Braun and Matthes, "Evaluating Unsupervised Text Classification: '
            'Zero-Shot and Similarity-Based Approaches", NLPIR 2022 (CC BY-SA 3.0)')


def medical_config(run_dir: Path):
    from ntmm_engine.core.config import ProjectConfig

    if not (MEDICAL / "train.csv").is_file():
        sys.exit(f"Medical Abstracts not found at {MEDICAL} (set NTMM_MEDICAL_DATA)")
    cfg = ProjectConfig(name="medical-abstracts", run_dir=str(run_dir))
    cfg.base_dir = str(ROOT)
    cfg.data.train = str(MEDICAL / "train.csv")
    cfg.data.validation = str(MEDICAL / "validation.csv")
    cfg.data.test = str(MEDICAL / "test.csv")
    cfg.data.label_names = str(MEDICAL / "labels.csv")
    cfg.data.text_column = "medical_abstract"
    cfg.data.label_column = "condition_label"
    return cfg


DEFAULT_RUN = RESULTS / "runs" / "medical"


def run_config(config: str | None, run_dir: str | Path = DEFAULT_RUN):
    """The project of a run to measure: ``config`` (a project file, e.g. a run on a share of the training split
    or at another max_length) as it was run, in ``run_dir`` when that is given; else the full Medical
    Abstracts project in ``run_dir``."""
    if not config:
        return medical_config(Path(run_dir).resolve())
    from ntmm_engine.core.config import load_config

    cfg = load_config(config)
    if Path(run_dir).resolve() != DEFAULT_RUN.resolve():
        cfg.run_dir = str(Path(run_dir).resolve())
    return cfg


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def save(name: str, data: dict, table: str, folder: Path | None = None) -> None:
    folder = folder or RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    data = {**data, "machine": environment_info(), "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    (folder / f"{name}.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    m = data["machine"]
    md = f"# {name}\n\nMachine: {m['cpu']}, {m['cpu_count']} cores, torch threads {m.get('torch_threads')}, GPU {m.get('gpu', 'none')}\n\n{table}\n"
    if "medical" in name or "Medical" in table:
        md += f"\nData: {CITATION}\n"
    (folder / f"{name}.md").write_text(md)
    print(md)


def md_table(rows: list[dict], cols: list[str]) -> str:
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |")
    return "\n".join(out)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)
