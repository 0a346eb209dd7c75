"""Hugging Face model cards (``README.md``) for every model NTMM writes.

The YAML front matter (library, pipeline tag, tags, base model, model-index
with the evaluation metrics) is produced by ``huggingface_hub.ModelCardData``
so it follows the Hub's schema; the body is plain Markdown built here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..core.config import BUNDLED_MINILM, ProjectConfig
from ..core.models import looks_like_hub_name
from ..core.runfolder import atomic_write_text
from .calibration import Calibration
from .intervals import format_score

BUNDLED_HUB_NAME = "sentence-transformers/all-MiniLM-L6-v2"


MEDICAL_ABSTRACTS_KEY = "medical_abstracts"


MEDICAL_ABSTRACTS_CITATION = """\
Medical Abstracts TC Corpus: Tim Schopf, Daniel Braun and Florian Matthes, "Evaluating Unsupervised Text
Classification: Zero-Shot and Similarity-Based Approaches", Proceedings of the 2022 6th International Conference
on Natural Language Processing and Information Retrieval (NLPIR '22), ACM, pp. 6-15,
https://doi.org/10.1145/3582768.3582795. The corpus is licensed CC BY-SA 3.0
(https://creativecommons.org/licenses/by-sa/3.0/); derived data must keep the attribution and licence.

```bibtex
@inproceedings{schopf2023evaluating,
  author    = {Schopf, Tim and Braun, Daniel and Matthes, Florian},
  title     = {Evaluating Unsupervised Text Classification: Zero-Shot and Similarity-Based Approaches},
  booktitle = {Proceedings of the 2022 6th International Conference on Natural Language Processing and Information Retrieval},
  series    = {NLPIR '22},
  pages     = {6--15},
  year      = {2023},
  publisher = {Association for Computing Machinery},
  doi       = {10.1145/3582768.3582795}
}
```"""


ROLE_TEXT = {
    "teacher": "the **teacher**: a pretrained encoder fine-tuned on the project's labelled data",
    "student": "the **distilled student**: a small encoder trained to match the teacher's outputs and the labels",
    "baseline": "the **baseline student**: the same small architecture trained on the hard labels only (no teacher)",
}


LIMITATIONS = """\
**Not for clinical decisions.** This model is not a medical device and has not been clinically validated. Do not use
its outputs for diagnosis, treatment, triage or any other clinical decision without local validation on your own data,
population and workflow, and without review by qualified clinicians.

- It only knows the classes listed above and always answers with one of them, even for text unlike its training data.
- The metrics describe the held-out splits of the training data only; performance drops under distribution shift
  (other hospitals, specialties, writing styles, languages, time periods).
- {calibration}
- Texts longer than {max_length} tokens are truncated, so evidence late in a long note is ignored.
- It inherits the biases of its base model and of the training data; the per-class results show where it errs most."""


def hub_base_model(name: str, base_dir: str | Path | None = None) -> str | None:
    """The Hub id of a base model for the card's front matter, or None for local folders."""
    if not name or name in (BUNDLED_MINILM, "bundled", "bundled:minilm"):
        return BUNDLED_HUB_NAME
    p = Path(name).expanduser()
    if p.exists() or (base_dir is not None and (Path(base_dir) / p).exists()):
        return None

    return name if looks_like_hub_name(name) else None


def data_citation(config: ProjectConfig, data_report: dict | None = None) -> str | None:
    """The citation of a known data set used by the project (today: the Medical Abstracts corpus)."""
    sources = [config.data.train, config.data.validation, config.data.test]
    sources += list(((data_report or {}).get("sources") or {}).values())
    if any(MEDICAL_ABSTRACTS_KEY in str(s).lower().replace("-", "_") for s in sources if s):
        return MEDICAL_ABSTRACTS_CITATION
    return None


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v).lower() if isinstance(v, bool) else "-"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) >= 1e-4 or v == 0 else f"{v:.3g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v)) or "-"
    return str(v)


def _setting(v: Any) -> str:
    """A config value as written in the config (2e-05, not 0.0000)."""
    return f"{v:g}" if isinstance(v, float) else _fmt(v)


def _table(header: list[str], rows: list[list[Any]], fmt=None) -> str:
    def cell(x: Any) -> str:
        return (fmt or _fmt)(x).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def _recipe_section(config: ProjectConfig, role: str):
    return config.teacher if role == "teacher" else config.distill


def _is_onnx(role: str, folder: Path | None) -> bool:
    return "onnx" in role or (folder is not None and folder.is_dir() and any(folder.glob("*.onnx")))


def _front_matter(*, role: str, config: ProjectConfig, metrics: dict, base_hub: str | None, dataset_name: str,
                  onnx: bool) -> str:
    from huggingface_hub import EvalResult, ModelCardData

    tags = ["text-classification", "medical", "clinical-text", "ntmm", role]
    if role != "teacher":
        tags.append("knowledge-distillation")
    if onnx:
        tags.append("onnx")
    if "int8" in role:
        tags.append("int8")
    results = []
    for split in ("test", "validation"):
        m = metrics.get(split) or {}
        for key, mtype, name, args in (("accuracy", "accuracy", "Accuracy", None),
                                       ("macro_f1", "f1", "Macro F1", {"average": "macro"})):
            if isinstance(m.get(key), (int, float)):
                results.append(EvalResult(task_type="text-classification", task_name="Text Classification",
                                          dataset_type=dataset_name, dataset_name=dataset_name, dataset_split=split,
                                          metric_type=mtype, metric_value=round(float(m[key]), 4), metric_name=name,
                                          metric_args=args))
    data = ModelCardData(library_name="transformers", pipeline_tag="text-classification", tags=tags, base_model=base_hub,
                         metrics=["accuracy", "f1"], model_name=f"{config.name}-{role}",
                         eval_results=results or None)
    return data.to_yaml()


def render_model_card(*, role: str, config: ProjectConfig, metrics: dict[str, dict[str, Any]], base_model: str,
                      construction: str, data_report: dict | None = None, benchmark_row: dict | None = None,
                      machine: dict | None = None, citation: str | None = None, parameters: int | None = None,
                      folder: str | Path | None = None, classical: dict[str, dict[str, Any]] | None = None,
                      warning: str = "", calibration: Calibration | None = None) -> str:
    """The text of a model card (front matter + Markdown); ``classical``: the classical baseline's metrics per split,
    shown beside this model's; ``warning``: why the model may not be better than it; ``calibration``: its temperature
    and ECE/Brier/NLL before and after it."""
    folder = Path(folder) if folder is not None else None
    where = str(folder) if folder is not None else "path/to/model"
    report = data_report or {}
    label_names = list(report.get("label_names") or [])
    if not label_names:
        for m in metrics.values():
            if isinstance(m, dict) and m.get("per_class"):
                label_names = [c["label"] for c in m["per_class"]]
                break
    train_src = (report.get("sources") or {}).get("train") or config.data.train
    dataset_name = Path(str(train_src)).name or "custom"
    onnx = _is_onnx(role, folder)
    base_hub = hub_base_model(base_model, config.base_dir)
    citation = citation or data_citation(config, report)
    max_length = config.data.max_length

    out = ["---", _front_matter(role=role, config=config, metrics=metrics, base_hub=base_hub,
                                dataset_name=dataset_name, onnx=onnx).rstrip(), "---", ""]
    out += [f"# {config.name}: {role}", "",
            f"A {len(label_names) or 'multi'}-class medical text classifier trained with NTMM. This is "
            f"{ROLE_TEXT.get(role, f'the **{role}** variant of the distilled student')}.", ""]

    # -- model description
    out += ["## Model description", "",
            f"- **Base model:** {base_model}" + (f" (Hugging Face: `{base_hub}`)" if base_hub and base_hub != base_model else ""),
            f"- **How it was built:** {construction}"]
    if parameters:
        out.append(f"- **Parameters:** {parameters:,}")
    out += [f"- **Maximum input length:** {max_length} tokens",
            f"- **Classes:** {', '.join(label_names) if label_names else 'see config.json (id2label)'}", ""]

    # -- data
    out += ["## Training data", ""]
    sources = report.get("sources") or {"train": config.data.train}
    out += [_table(["split", "source"], [[k, v] for k, v in sources.items()]), ""]
    counts = report.get("counts") or {}
    if counts:
        splits = list(counts)
        rows = [[name] + [counts[s].get(name, 0) for s in splits] for name in label_names or list(counts[splits[0]])]
        rows.append(["**total**"] + [sum(counts[s].values()) for s in splits])
        out += ["Examples per class:", "", _table(["class"] + splits, rows), ""]
    aug = report.get("augmentation") or {}
    if aug:
        out += [f"The training split was augmented: {aug.get('added_rows', 0)} rows added ({aug.get('copies')} "
                f"augmented cop{'y' if aug.get('copies') == 1 else 'ies'} per example; operations "
                f"{', '.join(aug.get('ops', []))}; p = {aug.get('p')}). Negations and measurements were never changed; "
                "validation and test were not augmented.", ""]
    if citation:
        out += ["Citation and licence of the data:", "", citation, ""]

    # -- recipe
    recipe = _recipe_section(config, role)
    out += ["## Training recipe", "",
            f"Section `{'teacher' if recipe is config.teacher else 'distill'}` of the project config; seed {config.seed}.", ""]
    out += [_table(["setting", "value"], [[f.name, getattr(recipe, f.name)] for f in dataclasses.fields(recipe)],
                   fmt=_setting), ""]

    # -- metrics
    out += ["## Evaluation", ""]
    splits = [s for s in ("validation", "test") if isinstance(metrics.get(s), dict)] + \
             [s for s in metrics if s not in ("validation", "test") and isinstance(metrics[s], dict)]
    if not splits:
        out += ["No evaluation metrics were recorded for this model.", ""]
    else:
        rows = []
        for s in splits:
            m = metrics[s]
            rows.append([s, "this model", _scored(m, "accuracy"), _scored(m, "macro_f1"), m.get("loss")])
            c = (classical or {}).get(s)
            if c:
                rows.append([s, "classical baseline (TF-IDF + logistic regression)", _scored(c, "accuracy"),
                             _scored(c, "macro_f1"), None])
        out += [_table(["split", "model", "accuracy (95% interval)", "macro-F1 (95% interval)", "loss"], rows), "",
                "Intervals: percentile bootstrap over the split's texts, 1,000 resamples. The classical baseline is "
                "trained on the same training texts and scored on the same splits.", ""]
        if warning:
            out += [f"**Warning:** {warning}", ""]
        for s in splits:
            pc = metrics[s].get("per_class") or []
            if pc:
                out += [f"Per class ({s}):", "",
                        _table(["class", "precision", "recall", "F1", "support"],
                               [[c.get("label"), c.get("precision"), c.get("recall"), c.get("f1"), c.get("support")] for c in pc]), ""]

    # -- calibration
    out += _calibration_section(calibration)

    # -- benchmark
    if benchmark_row:
        out += ["## Speed and size", ""]
        if machine:
            out.append(f"Measured on: {_machine_text(machine)}.")
            out.append("")
        flat = [[k, v] for k, v in benchmark_row.items() if not isinstance(v, (dict, list))]
        out += [_table(["measure", "value"], flat), ""]

    # -- intended use
    out += ["## Intended use", "",
            "Research and engineering work on classifying medical text into the classes above, for example sorting "
            "notes or abstracts for review by people, and comparing the speed and accuracy of small models.", "",
            "## Limitations", "", LIMITATIONS.format(max_length=max_length, calibration=_calibration_limit(calibration)), ""]
    worst = _weakest_classes(metrics)
    if worst:
        out += [f"Weakest classes on the {worst[0]} split (F1): " + ", ".join(f"{n} {f:.4f}" for n, f in worst[1]) + ".", ""]

    # -- how to use
    out += ["## How to use", ""]
    if onnx:
        onnx_file = next((p.name for p in sorted(folder.glob("*.onnx"))), "model.onnx") if folder and folder.is_dir() else "model.onnx"
        out += ["With ONNX Runtime (no PyTorch needed):", "", "```python",
                "import numpy as np, onnxruntime as ort",
                "from transformers import AutoTokenizer", "",
                f'tok = AutoTokenizer.from_pretrained("{where}")',
                f'sess = ort.InferenceSession("{where}/{onnx_file}", providers=["CPUExecutionProvider"])',
                f'enc = tok(["58 yo with crushing chest pain"], truncation=True, max_length={max_length}, return_tensors="np")',
                "names = {i.name for i in sess.get_inputs()}",
                "logits = sess.run(None, {k: v for k, v in enc.items() if k in names})[0]",
                "print(np.argmax(logits, axis=-1))", "```", "",
                "Or through Optimum: `ORTModelForSequenceClassification.from_pretrained(folder)` in a "
                "`transformers.pipeline(\"text-classification\", ...)`.", ""]
    elif "int8" in role:
        out += ["These are dynamically quantized INT8 PyTorch weights; load them with NTMM (see below).", ""]
    else:
        out += ["With the transformers pipeline:", "", "```python", "from transformers import pipeline", "",
                f'clf = pipeline("text-classification", model="{where}", truncation=True, max_length={max_length})',
                'print(clf("58 yo with crushing chest pain radiating to the left arm"))', "```", ""]
    out += ["With the NTMM command line:", "", "```bash",
            f'ntmm predict --model "{where}" "58 yo with crushing chest pain radiating to the left arm"', "```", ""]
    return "\n".join(out)


def _calibration_section(c: Calibration | None) -> list[str]:
    if c is None or not c.splits:
        return []
    rows = []
    for split in [s for s in ("validation", "test") if s in c.splits]:
        raw, cal = c.scores(split, False), c.scores(split, True)
        if raw is not None and cal is not None:
            rows.append([split, f"{raw.ece:.4f} → {cal.ece:.4f}", f"{raw.brier:.4f} → {cal.brier:.4f}",
                         f"{raw.nll:.4f} → {cal.nll:.4f}"])
    how = ("fitted on the validation split by minimising the negative log-likelihood" if c.fitted_on == "validation"
           else "the model's stored temperature")
    return ["## Calibration", "",
            f"Probabilities are temperature-scaled: the logits are divided by **T = {c.temperature:.4f}** ({how}) before "
            "the softmax, by NTMM's predictors and the deployable bundle alike. This changes no label, only how sure the "
            "probabilities are. Before → after temperature scaling (ECE: 15 equal-width bins on the top probability; "
            "Brier: summed over classes; NLL: mean negative log-probability of the true class):", "",
            _table(["split", "ECE", "Brier", "NLL"], rows, fmt=str), ""]


def _calibration_limit(c: Calibration | None) -> str:
    """The limitation line on calibration: measured when NTMM calibrated the model, a warning otherwise."""
    cal = c.scores("test", True) if c is not None else None
    if c is None or cal is None:
        return "Scores were not calibrated for this model; check calibration before thresholding them."
    raw = c.scores("test", False)
    return (f"Probabilities are calibrated on the validation split only (temperature {c.temperature:.3f}; test ECE "
            f"{raw.ece:.3f} before, {cal.ece:.3f} after): on other data they can again be over- or under-confident, so "
            "check calibration on your own data before thresholding them.")


def _machine_text(machine: dict) -> str:
    parts = [str(machine.get("cpu") or machine.get("processor") or "unknown CPU")]
    if machine.get("cpu_count"):
        parts.append(f"{machine['cpu_count']} logical cores")
    if machine.get("gpu"):
        parts.append(f"GPU {machine['gpu']}")
    if machine.get("platform"):
        parts.append(str(machine["platform"]))
    pk = machine.get("packages") or {}
    libs = [f"{k} {pk[k]}" for k in ("torch", "onnxruntime") if k in pk]
    if libs:
        parts.append(", ".join(libs))
    return "; ".join(parts)


def _scored(m: dict[str, Any], key: str) -> str:
    return format_score(m.get(key), m.get(f"{key}_ci"), digits=4) if isinstance(m.get(key), (int, float)) else "-"


def _weakest_classes(metrics: dict, k: int = 2):
    for split in ("test", "validation"):
        pc = (metrics.get(split) or {}).get("per_class") or []
        if len(pc) > 1:
            ranked = sorted(((c["label"], float(c["f1"])) for c in pc), key=lambda x: x[1])
            return split, ranked[:k]
    return None


def write_model_card(folder: str | Path, *, role: str, config: ProjectConfig, metrics: dict[str, dict[str, Any]],
                     base_model: str, construction: str, data_report: dict | None = None,
                     benchmark_row: dict | None = None, machine: dict | None = None, citation: str | None = None,
                     parameters: int | None = None, classical: dict[str, dict[str, Any]] | None = None,
                     calibration: Calibration | None = None) -> Path:
    """Write ``folder/README.md`` atomically; returns its path."""
    folder = Path(folder)
    text = render_model_card(role=role, config=config, metrics=metrics, base_model=base_model, construction=construction,
                             data_report=data_report, benchmark_row=benchmark_row, machine=machine, citation=citation,
                             parameters=parameters, folder=folder, classical=classical, calibration=calibration)
    path = folder / "README.md"
    atomic_write_text(path, text)
    return path


SPEED_HEADING = "## Speed and size"


VARIANT_TEXT = {
    "torch_int8": "PyTorch dynamic INT8 (nn.Linear weights as qint8, re-quantized from the fp32 weights when loaded)",
    "onnx": "ONNX export (fp32) for ONNX Runtime",
    "onnx_int8": "ONNX Runtime dynamic INT8 quantization (MatMul and Gather, word embeddings included; on the graph fused by "
                 "ONNX Runtime's transformer optimizer when optimize.fuse is on)",
    "onnx_int8_unfused": "ONNX Runtime dynamic INT8 quantization of the plain (unfused) graph",
    "onnx_int8_pruned": "ONNX Runtime dynamic INT8 after vocabulary pruning (only the word pieces of the training texts, "
                        "the special tokens and single characters kept; every training text tokenizes as before)",
    "static": "A static-embedding student distilled from the teacher in {source} (one vector per word piece from its "
              "encoder, mean pooling, a head trained on its logits and the labels)",
}


def write_variant_card(folder: str | Path, *, variant: str, config: ProjectConfig, source: str,
                       test_metrics: dict[str, Any], parameters: int | None = None,
                       classical_test: dict[str, Any] | None = None, calibration: Calibration | None = None) -> Path:
    """The card of an optimized variant: its parity metrics on the test split (beside the classical baseline's) and
    its own calibration."""
    what = VARIANT_TEXT.get(variant, variant)
    return write_model_card(folder, role=f"student, {variant}", config=config, metrics={"test": test_metrics},
                            base_model=source,
                            construction=what.format(source=source) if "{source}" in what else f"{what} of the student in {source}",
                            data_report={"label_names": [c["label"] for c in test_metrics.get("per_class", [])]},
                            parameters=parameters, classical={"test": classical_test} if classical_test else None,
                            calibration=calibration)


def add_benchmark_section(folder: str | Path, row: dict[str, Any], machine: dict | None) -> None:
    """Put (or replace) the benchmark figures of this variant into its existing model card."""
    folder = Path(folder)
    if folder.is_file():
        folder = folder.parent
    card = folder / "README.md"
    if not card.is_file():
        return
    text = card.read_text(encoding="utf-8")
    section = [SPEED_HEADING, ""]
    if machine:
        section += [f"Measured on: {_machine_text(machine)}.", ""]
    flat = [[k, v] for k, v in row.items() if not isinstance(v, (dict, list)) and k not in ("path",)]
    section += [_table(["measure", "value"], flat), ""]
    start = text.find(SPEED_HEADING)
    if start >= 0:  # replace the previous figures up to the next section
        end = text.find("\n## ", start + len(SPEED_HEADING))
        text = text[:start] + "\n".join(section) + (text[end + 1:] if end >= 0 else "")
    else:
        anchor = text.find("## Intended use")
        text = (text[:anchor] + "\n".join(section) + "\n" + text[anchor:]) if anchor >= 0 else text + "\n" + "\n".join(section)
    atomic_write_text(card, text)
