"""Optimize job: INT8 and ONNX variants of the student, each checked on the real test split.

``run_optimize(config, on_event, cancel)`` builds, for the fp32 student
(``optimize.model`` or ``run/distill/student``):

* ``student_torch_int8/`` - PyTorch dynamic INT8 (fp32 safetensors stored, re-quantized on load)
* ``student_onnx/``       - ONNX fp32 (optimum exporter, dynamic batch/sequence axes)
* ``student_onnx_int8/``  - ONNX Runtime dynamic INT8 of MatMul and Gather, on the fused graph (``optimize.fuse``)
* ``student_onnx_int8_unfused/`` - the same on the plain graph, to compare
* ``student_onnx_int8_pruned/``  - INT8 after vocabulary pruning (:mod:`~ntmm_engine.distill.vocab`)
* ``student_static/``     - the static-embedding student, distilled from the teacher (:mod:`~ntmm_engine.distill.static`)

Each variant is built in a staging folder, loaded on its own with
:func:`~ntmm_engine.inference.predictors.load_predictor` and compared with the fp32
student on the test split (accuracy, macro-F1, agreement overall and per
class, logit differences, the examples whose label changed) before the
folder is renamed into place. Results go to ``parity.json`` and ``result.json``.
"""

from __future__ import annotations

import gc
import json
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..classical.job import classical_reference, eval_fingerprint
from ..core.config import OPTIMIZE_VARIANTS, ProjectConfig
from ..core.environment import environment_info
from ..core.errors import Cancelled, DataError, ModelError, NTMMError
from ..core.events import CancelToken, Evaluation, EventCallback, JobStarted, Progress, ProgressReporter
from ..core.jobframe import JobContext, finish_stage, job_frame
from ..core.layout import CLASSICAL, REFERENCE, RunLayout
from ..core.models import count_parameters, load_classifier, load_tokenizer, model_identity
from ..core.results import Record
from ..core.runfolder import atomic_write_json, read_json, staging_dir
from ..data.prepare import prepare_data
from ..data.unlabelled import read_unlabelled
from ..distill import static as static_student
from ..distill.job import DistillResult, teacher_source
from ..distill.vocab import bounded_tokenizer, check_same_ids, choose_vocabulary, prune_vocabulary, pruned_tokenizer
from ..inference.predictors import is_generic_labels, label_order, load_predictor
from ..inference.torch_int8 import TorchInt8Unavailable, quantize_dynamic_int8, state_dict_bytes
from ..reports.calibration import Calibration, calibrate
from ..reports.intervals import format_difference, paired_difference
from ..reports.metrics import agreement, classification_metrics
from ..reports.model_card import write_variant_card
from . import onnx as onnx_export  # called through the module, so tests can replace its functions
from .parity import VariantParity, parity_report, teacher_comparison

STAGE = "optimize"


def source_model_dir(config: ProjectConfig) -> Path:
    """The fp32 model to optimize: ``optimize.model`` or the project's distilled student."""
    if config.optimize.model:
        p = config.resolve(config.optimize.model)
        if not p.exists():
            raise NTMMError(f"optimize.model: folder not found: {p}")
        return p
    p = RunLayout(config.run_path).student_model
    if not (p / "config.json").is_file():
        raise NTMMError(f"No distilled student in {p}: distil a student first (ntmm distill), or set optimize.model to a model folder.")
    return p


# ------------------------------------------------------------------ result
@dataclass
class OptimizeResult(Record):
    job: str = "optimize"
    status: str = "completed"  # completed | cancelled
    run_dir: str = ""
    source_model: str = ""
    agreement_threshold: float = 0.99
    test_examples: int = 0
    reference: VariantParity | None = None  # the fp32 student on the test split
    classical: VariantParity | None = None  # the classical baseline on the same texts (agreement: with the fp32 student)
    variants: dict[str, VariantParity] = field(default_factory=dict)  # optimize.variants name -> parity
    flagged: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    environment: dict[str, Any] = field(default_factory=dict)

    def summary_text(self) -> str:
        lines = [f"Optimize {self.status}: {self.source_model} ({self.test_examples} test texts, "
                 f"flag below agreement {self.agreement_threshold:.2f})"]
        head = (f"{'variant':<18} {'status':<12} {'size':>9} {'accuracy':>9} {'macro-F1':>9} {'agreement':>10} {'max|dlogit|':>12} "
                f"{'test ECE raw → calibrated':>26}")
        lines.append(head)
        ref = self.reference
        if ref:
            lines.append(f"{'fp32':<18} {'reference':<12} {_mb(ref.size_bytes):>9} {_f(ref.accuracy):>9} "
                         f"{_f(ref.macro_f1):>9} {'1.0000':>10} {'0':>12} {_ece(ref):>26}")
        if self.classical:
            c = self.classical
            lines.append(f"{'classical':<18} {'baseline':<12} {'-':>9} {_f(c.accuracy):>9} {_f(c.macro_f1):>9} "
                         f"{_f(c.agreement):>10} {'-':>12} {_ece(c):>26}")
        for name, v in self.variants.items():
            status = v.status + (" (!)" if v.flagged else "")
            lines.append(f"{name:<18} {status:<12} {_mb(v.size_bytes):>9} {_f(v.accuracy):>9} "
                         f"{_f(v.macro_f1):>9} {_f(v.agreement):>10} {_f(v.max_abs_logit_diff, 5):>12} {_ece(v):>26}")
            if v.status in ("unavailable", "failed") and v.message:
                lines.append(f"{'':<18} {v.message}")
        for name, v in self.variants.items():
            if v.difference:
                lines.append(f"{name} minus fp32, test macro-F1 (paired): {format_difference(v.difference)}")
        if self.classical and self.classical.difference:
            lines.append(f"classical minus fp32 student, test macro-F1 (paired): {format_difference(self.classical.difference)}")
        if self.flagged:
            lines.append(f"Flagged (agreement below {self.agreement_threshold:.2f}): {', '.join(self.flagged)}")
        lines.append(f"Done in {self.wall_seconds:.0f} s; details in {RunLayout(self.run_dir).parity_file}")
        return "\n".join(lines)


def _f(x: Any, digits: int = 4) -> str:
    return f"{x:.{digits}f}" if isinstance(x, (int, float)) else "-"


def _ece(v: VariantParity) -> str:
    return v.calibration.ece_text("test") if v.calibration is not None else "-"


def _mb(n: Any) -> str:
    return f"{n / 1e6:.2f} MB" if isinstance(n, (int, float)) else "-"


# ------------------------------------------------------------------ job
def run_optimize(config: ProjectConfig, on_event: EventCallback | None = None,
                 cancel: CancelToken | None = None) -> OptimizeResult:
    """Build the configured variants and check them on the test split; never raises on cancel."""
    config.require_data()
    ctx = JobContext("optimize", config, on_event, cancel, stage=STAGE)
    with job_frame(ctx):
        return _Optimizer(ctx).run()


class _Optimizer:
    def __init__(self, ctx: JobContext):
        self.ctx, self.cfg = ctx, ctx.config
        self.variants = [v for v in OPTIMIZE_VARIANTS if v in self.cfg.optimize.variants]  # fixed order: onnx before onnx_int8
        self.variant_logits: dict[str, np.ndarray] = {}  # test logits of the variants built so far (agreement between them)
        self.static_teacher = ""  # the teacher the static student was distilled from
        self._vocab_texts: list[str] | None = None  # the texts pruning keeps the word pieces of (read once)
        self.total = 2 + 2 * len(self.variants)
        self.done = 0
        self.result = OptimizeResult(run_dir=str(ctx.run.root), agreement_threshold=self.cfg.optimize.agreement_threshold,
                                     environment=environment_info())

    # -- events
    def step(self, phase: str, message: str = "") -> None:
        self.ctx.cancel.raise_if_cancelled()
        self.ctx.emit(Progress(self.ctx.job, phase=phase, done=self.done, total=self.total, message=message))
        self.done += 1

    def run(self) -> OptimizeResult:
        ctx, res = self.ctx, self.result
        source = source_model_dir(self.cfg)
        res.source_model = str(source)
        ctx.emit(JobStarted(ctx.job, total_steps=self.total, device="cpu", precision="int8/fp32", run_dir=str(ctx.run.root)))
        try:
            self._prepare(source)
            # The data and the reference are ready: only now are the previous variants replaced.
            ctx.begin_replacing()
            for i, variant in enumerate(self.variants):
                self._one_variant(variant)
                self.done = 2 + 2 * (i + 1)  # whatever happened inside, the next variant starts here
        except Cancelled:
            res.status = "cancelled"
            ctx.log(f"Cancelled; finished variants: {', '.join(res.variants) or 'none'}")
        res.flagged = [n for n, v in res.variants.items() if v.flagged]
        res.wall_seconds = time.monotonic() - ctx.t0
        if res.status == "completed":
            self._write_parity()
        finish_stage(ctx, res, source_model=res.source_model, variants={n: v.status for n, v in res.variants.items()})
        return res

    def _prepare(self, source: Path) -> None:
        ctx, cfg = self.ctx, self.cfg
        self.step("loading data")
        prepared = prepare_data(cfg.data, seed=cfg.seed, base_dir=cfg.base_dir,
                                on_progress=lambda m: ctx.emit(Progress(ctx.job, phase=m, done=self.done, total=self.total)))
        test = prepared.splits["test"] if "test" in prepared.splits else None
        if test is None or len(test) == 0:
            raise DataError("The test split is empty: parity needs real test texts.", hint="set data.test or data.test_ratio")
        self.texts, self.labels = list(test["text"]), np.asarray(test["label"], dtype=np.int64)
        # every variant is calibrated on its own outputs for the validation texts
        val = prepared.splits["validation"]
        self.val_texts, self.val_labels = list(val["text"]), np.asarray(val["label"], dtype=np.int64)
        self.label_names = prepared.label_names
        self.prepared = prepared
        self.result.test_examples = len(self.texts)
        self.teacher_preds = _teacher_predictions(self.ctx.layout, prepared, len(self.texts))

        self.step("reference fp32", f"running the fp32 model on {len(self.texts)} test texts")
        ref = load_predictor(source)
        if ref.kind != "pytorch":
            raise ModelError(f"{source} is a {ref.kind} model; optimize needs the fp32 PyTorch model folder.",
                             hint="point optimize.model at the student folder, not at a variant")
        self.order = label_order(ref.label_names, self.label_names, model=str(source))
        # Variants keep the model's output order; generic LABEL_i names take the data's names.
        self.model_labels = list(self.label_names) if is_generic_labels(ref.label_names) else list(ref.label_names)
        self.max_length, self.parameters = ref.max_length, ref.parameter_count()
        self.source_info = {**ref.info, "source": str(source), "source_identity": model_identity(source),
                            "max_length": ref.max_length, "label_names": self.model_labels, "parameters": self.parameters}
        self.source = source
        self.ref_logits = self._logits(ref, "fp32 on the test texts")
        m = classification_metrics(self.labels, self.ref_logits.argmax(-1), self.label_names, intervals=True)
        # the fp32 model keeps its own temperature (distill fitted it): scored here, not refitted
        stored = ref.temperature if "temperature" in ref.info else None
        self.result.reference = VariantParity(variant=REFERENCE, path=str(source), kind="pytorch", accuracy=m["accuracy"],
                                              macro_f1=m["macro_f1"], metrics=m, size_bytes=ref.weights_bytes(),
                                              parameters=self.parameters, agreement=1.0, max_abs_logit_diff=0.0,
                                              mean_abs_logit_diff=0.0,
                                              calibration=self._calibration(ref, self.ref_logits, temperature=stored),
                                              **self._against_teacher(self.ref_logits))
        ctx.emit(Evaluation(ctx.job, split="parity_fp32", metrics={"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}))
        classical = classical_reference(ctx, prepared)
        c_preds = np.asarray(classical.predictions["test"])
        cm = classical.metrics["test"]
        self.result.classical = VariantParity(variant=CLASSICAL, kind="classical", accuracy=cm["accuracy"],
                                              macro_f1=cm["macro_f1"], metrics=cm, parameters=classical.parameters,
                                              calibration=classical.calibration,
                                              agreement=agreement(self.ref_logits.argmax(-1), c_preds),
                                              difference=paired_difference(self.labels, c_preds, self.ref_logits.argmax(-1),
                                                                           len(self.label_names)))
        self.ref_model, self.tokenizer = ref.model, ref.tokenizer

    def _logits(self, predictor, phase: str, texts: list[str] | None = None, order: list[int] | None = None) -> np.ndarray:
        """Logits in the data's label order (or ``order``), for the test texts (or ``texts``)."""
        batch = 32
        texts = self.texts if texts is None else texts
        n_batches = (len(texts) + batch - 1) // batch
        rep = ProgressReporter(self.ctx.job, phase, n_batches, self.ctx.emit, self.ctx.cancel)
        logits = predictor.logits(texts, batch_size=batch, on_progress=lambda d, t: rep.advance())
        return logits[:, self.order if order is None else order]

    def _calibration(self, predictor, test_logits: np.ndarray, temperature: float | None = None) -> Calibration:
        """Temperature fitted on the model's own validation logits (or ``temperature`` scored), ECE/Brier/NLL on both splits."""
        val_logits = self._logits(predictor, f"{predictor.kind} on the validation texts", self.val_texts)
        return calibrate({"validation": (val_logits, self.val_labels), "test": (test_logits, self.labels)},
                         temperature=temperature)

    def _against_teacher(self, logits: np.ndarray) -> dict[str, Any]:
        if self.teacher_preds is None:
            return {}
        return teacher_comparison(self.teacher_preds, logits, self.labels, self.texts, self.label_names)

    # -- variants
    def _one_variant(self, variant: str) -> None:
        ctx = self.ctx
        ctx.cancel.raise_if_cancelled()
        out = self.ctx.layout.variant_dir(variant)
        started = time.monotonic()
        entry: dict[str, Any] = {"variant": variant, "path": str(out), "status": "ok", "message": ""}
        try:
            logits, info = getattr(self, f"_build_{variant}")(out)
        except Cancelled:
            raise
        except NTMMError as exc:
            entry.update(status="failed", message=str(exc))
            ctx.log(f"{variant}: {exc}", level="error")
        except Exception as exc:  # a library failure on one variant must not lose the others
            entry.update(status="failed", message=f"{type(exc).__name__}: {exc}")
            ctx.log(f"{variant} failed: {type(exc).__name__}: {exc}\n{traceback.format_exc()}", level="error")
        else:
            if logits is None:  # not available in this environment
                entry.update(status="unavailable", message=info["message"], path="")
                ctx.log(f"{variant}: {info['message']}", level="warning")
            else:
                entry.update(info)
                entry.update(parity_report(self.ref_logits, logits, self.labels, self.texts, self.label_names,
                                           self.cfg.optimize.agreement_threshold))
                entry.update(self._against_teacher(logits))
                self.variant_logits[variant] = logits
                if variant == "static":  # a model of its own: its agreement with the student is information, not a check
                    entry["flagged"] = False
                if variant == "onnx_int8_pruned" and "onnx_int8" in self.variant_logits:
                    entry["agreement_with"] = {"onnx_int8": agreement(self.variant_logits["onnx_int8"].argmax(-1), logits.argmax(-1))}
                if entry["flagged"]:
                    entry["status"] = "flagged"
                    ctx.log(f"{variant}: agreement {entry['agreement']:.4f} is below {self.cfg.optimize.agreement_threshold}; "
                            f"{entry['changed_count']} test label(s) changed", level="warning")
                ctx.emit(Evaluation(ctx.job, split=f"parity_{variant}", metrics={
                    k: entry[k] for k in ("accuracy", "macro_f1", "agreement", "max_abs_logit_diff", "mean_abs_logit_diff",
                                          "changed_count", "flagged", "size_bytes")}))
                self._card(variant, out, entry)
                ctx.log(f"{variant}: {entry['size_bytes'] / 1e6:.2f} MB, agreement {entry['agreement']:.4f}, "
                        f"macro-F1 {entry['macro_f1']:.4f}, max |logit diff| {entry['max_abs_logit_diff']:.4g}; "
                        f"calibration {entry['calibration'].summary()}")
        entry["build_seconds"] = round(time.monotonic() - started, 3)
        self.result.variants[variant] = VariantParity(**entry)
        self._write_parity()

    def _card(self, variant: str, out: Path, entry: dict[str, Any]) -> None:
        """README.md model card with the parity metrics; a failure only logs."""
        try:
            source = self.static_teacher if variant == "static" else str(self.source)
            write_variant_card(out, variant=variant, config=self.cfg, source=source, test_metrics=entry["metrics"],
                               parameters=self.parameters,
                               classical_test=self.result.classical.metrics if self.result.classical else None,
                               calibration=entry.get("calibration"))
        except Exception as exc:  # noqa: BLE001
            self.ctx.log(f"{variant}: could not write the model card: {type(exc).__name__}: {exc}", level="warning")

    def _ntmm_json(self, variant: str, **extra: Any) -> dict[str, Any]:
        return {**self.source_info, "variant": variant, "created": time.strftime("%Y-%m-%dT%H:%M:%S"), **extra}

    def _check_folder(self, tmp: Path, variant: str, **extra: Any) -> tuple[np.ndarray, Calibration]:
        """Write labels + ntmm.json into ``tmp``, load it on its own, run the test and validation splits and
        store its own temperature (fitted on its validation outputs) in its ntmm.json.

        Runs before the staging folder is renamed, so a variant that does not
        load never appears as a finished folder.
        """
        _write_labels(tmp / "config.json", self.model_labels)
        info = self._ntmm_json(variant, **extra)
        for key in ("temperature", "calibration"):  # the student's own: this variant is calibrated afresh below
            info.pop(key, None)
        atomic_write_json(tmp / "ntmm.json", info)
        self.step(f"parity {variant}")
        pred = load_predictor(tmp)
        logits = self._logits(pred, f"{variant} on the test texts")
        calibration = self._calibration(pred, logits)
        atomic_write_json(tmp / "ntmm.json", {**info, **calibration.model_info()})
        del pred
        gc.collect()  # release memory-mapped weights before the folder is renamed (Windows)
        return logits, calibration

    def _build_torch_int8(self, out: Path):
        self.step("quantizing torch_int8")
        try:
            quantized = quantize_dynamic_int8(self.ref_model)  # a quantized copy; the fp32 model stays intact
        except TorchInt8Unavailable as exc:
            return None, {"message": str(exc)}
        size = state_dict_bytes(quantized)
        del quantized
        with staging_dir(out) as tmp:
            # No pickles: the folder keeps fp32 safetensors and load_predictor re-quantizes (about a second).
            self.ref_model.save_pretrained(tmp, safe_serialization=True)
            self.tokenizer.save_pretrained(tmp)
            logits, calibration = self._check_folder(tmp, "torch_int8", quantization={
                "api": "torch.ao.quantization.quantize_dynamic", "modules": ["nn.Linear"], "dtype": "qint8",
                "stored": "fp32 safetensors, re-quantized on load"})
        return logits, {"kind": "torch_int8", "size_bytes": size, "calibration": calibration,
                        "size_note": "quantized state_dict measured in memory (torch.save to a buffer); "
                                     "the folder stores fp32 safetensors and re-quantizes on load",
                        "folder_bytes": _folder_bytes(out)}

    def _build_onnx(self, out: Path):
        self.step("exporting onnx")
        opset = self.cfg.optimize.opset
        with staging_dir(out) as tmp:
            onnx_export.export_onnx(self.source, tmp, opset=opset)
            logits, calibration = self._check_folder(tmp, "onnx", onnx={
                "opset": opset, "exporter": "optimum.exporters.onnx.main_export", "dynamic_axes": ["batch_size", "sequence_length"]})
        return logits, {"kind": "onnx", "size_bytes": _weights_bytes(out), "size_note": "model.onnx on disk", "calibration": calibration,
                        "folder_bytes": _folder_bytes(out), "opset": opset}

    def _build_onnx_int8(self, out: Path):
        return self._int8(out, "onnx_int8", fuse=self.cfg.optimize.fuse)

    def _build_onnx_int8_unfused(self, out: Path):
        return self._int8(out, "onnx_int8_unfused", fuse=False)

    def _int8(self, out: Path, variant: str, *, fuse: bool, source: Path | None = None,
              edit: Callable[[Path], None] | None = None, **extra: Any):
        """Dynamic INT8 of the fp32 ONNX graph (the onnx variant's, else exported here from ``source``), fused first if
        asked; ``edit`` changes the quantized model.onnx before it is checked."""
        import shutil

        self.step(f"quantizing {variant}")
        opset = self.cfg.optimize.opset
        fp32_dir = self.ctx.layout.variant_dir("onnx")
        built = self.result.variants.get("onnx")
        reuse = source is None and built is not None and built.status in ("ok", "flagged") and (fp32_dir / "model.onnx").is_file()
        with staging_dir(out) as tmp:
            if reuse:
                src_dir = fp32_dir
            else:  # the fp32 ONNX was not built in this run (or this is another model): export a private copy
                src_dir = tmp / "_fp32"
                src_dir.mkdir()
                self.ctx.emit(Progress(self.ctx.job, phase=f"exporting onnx (for {variant})", done=self.done, total=self.total))
                onnx_export.export_onnx(source or self.source, src_dir, opset=opset)
            self.ctx.cancel.raise_if_cancelled()
            if fuse:
                self.ctx.emit(Progress(self.ctx.job, phase=f"fusing {variant}", done=self.done, total=self.total))
            settings = onnx_export.int8_onnx(src_dir / "model.onnx", tmp / "model.onnx", fuse=fuse,
                                             per_channel=self.cfg.optimize.per_channel)
            if fuse and not settings["fusion"]["fused"]:
                self.ctx.log(f"{variant}: ONNX Runtime found nothing to fuse in this graph; quantized it as it is", level="warning")
            if edit is not None:
                edit(tmp / "model.onnx")
            shutil.copy2(src_dir / "config.json", tmp / "config.json")
            onnx_export.copy_tokenizer_files(source or src_dir, tmp)
            if not reuse:
                shutil.rmtree(src_dir)
            logits, calibration = self._check_folder(tmp, variant, quantization=settings, onnx={"opset": opset}, **extra)
        return logits, {"kind": "onnx", "size_bytes": _weights_bytes(out), "size_note": "model.onnx on disk", "calibration": calibration,
                        "folder_bytes": _folder_bytes(out), "quantization": settings}

    def _train_texts(self) -> list[str]:
        """The texts whose word pieces pruning keeps: the training split and the unlabelled texts (data.unlabelled),
        a sample of what the deployed model will read that the student was also trained on."""
        if self._vocab_texts is None:
            texts = list(self.prepared.splits["train"]["text"])
            if self.cfg.data.unlabelled:
                texts += read_unlabelled(self.cfg.data, self.prepared, base_dir=self.cfg.base_dir, exclude=self.cfg.run_path)
            self._vocab_texts = texts
        return self._vocab_texts

    def _build_onnx_int8_pruned(self, out: Path):
        import tempfile

        self.step("pruning the vocabulary")
        pruned, table, vocab = prune_vocabulary(self.ref_model, self.tokenizer, self._train_texts(), self.max_length)
        self.ctx.log(f"onnx_int8_pruned: kept {len(vocab.kept)} of {vocab.original_size} word pieces (those of "
                     f"{vocab.texts_checked} training texts); the other pieces read the nearest kept embedding")
        with tempfile.TemporaryDirectory(prefix="ntmm-pruned-") as tmp:  # the pruned fp32 model, exported from here
            pruned.save_pretrained(tmp, safe_serialization=True)
            # the student's own tokenizer (the graph maps its ids through the table), stopping where the positions stop
            bounded_tokenizer(self.tokenizer, self.max_length).save_pretrained(tmp)
            _write_labels(Path(tmp) / "config.json", self.model_labels)
            del pruned
            logits, info = self._int8(out, "onnx_int8_pruned", fuse=self.cfg.optimize.fuse, source=Path(tmp),
                                      edit=lambda graph: onnx_export.add_input_id_table(graph, table.tolist()),
                                      vocabulary=vocab.describe(), parameters=count_parameters_of(Path(tmp)))
        info["vocabulary"] = vocab.describe()
        return logits, info

    def _build_static(self, out: Path):
        """The static-embedding student, distilled from the teacher (see :mod:`~ntmm_engine.distill.static`)."""
        o, ctx = self.cfg.optimize, self.ctx
        self.step("static student: token vectors")
        t_dir = self.static_teacher = teacher_source(self.cfg)
        teacher, t_tok = load_classifier(t_dir), load_tokenizer(t_dir)
        train = self.prepared.splits["train"]
        texts, train_labels = list(train["text"]), np.asarray(train["label"], dtype=np.int64)
        # 0 = data.max_length. Longer texts cost it microseconds, but on Medical Abstracts (median 270 pieces) reading
        # 512 instead of 128 was no gain on the full split (bench/results/speed_frontier-static512.md: 0.528 vs 0.540).
        length = max(o.static_max_length, self.max_length)
        vocab = choose_vocabulary(t_tok, self._train_texts(), length)
        tokenizer = pruned_tokenizer(t_tok, vocab, length)
        check_same_ids(t_tok, tokenizer, vocab, self._train_texts(), length)
        rep = ProgressReporter(ctx.job, "static student: token vectors", len(vocab.kept), ctx.emit, ctx.cancel)
        vectors = static_student.token_vectors(teacher, t_tok, vocab.kept, on_progress=lambda d, t: rep.advance(d - rep.done))
        emb = static_student.reduce_dim(vectors, o.static_dim, self.cfg.seed)
        ctx.cancel.raise_if_cancelled()
        self.step("static student: teacher logits")
        t_pred = load_predictor(t_dir)
        soft = self._logits(t_pred, "static student: teacher logits on the training texts", texts=texts,
                            order=label_order(t_pred.label_names, self.label_names, model=str(t_dir)))
        del t_pred, teacher
        # The student's outputs follow the fp32 student's order (model_labels), like every variant's.
        to_model = np.asarray(self.order)  # data label id -> model output index
        soft_model = np.empty_like(soft)
        soft_model[:, to_model] = soft
        enc = lambda ts: {k: np.asarray(v, dtype=np.int64) for k, v in tokenizer(  # noqa: E731
            list(ts), truncation=True, max_length=length, padding=True, return_tensors="np").items()
            if k in ("input_ids", "attention_mask")}
        val = self.prepared.splits["validation"]
        d = self.cfg.distill
        settings = static_student.StaticSettings(dim=emb.shape[1], hidden=o.static_hidden, epochs=o.static_epochs,
                                                 temperature=d.temperature, alpha=d.alpha, seed=self.cfg.seed)
        n_labels = len(self.label_names)
        macro = lambda y, p: classification_metrics(y, p, [str(i) for i in range(n_labels)])["macro_f1"]  # noqa: E731
        self.step("static student: training")
        reporters: list[ProgressReporter] = []  # made at the first epoch, which knows how many epochs are planned

        def on_epoch(epoch: int, epochs: int, f1: float) -> None:
            if not reporters:
                reporters.append(ProgressReporter(ctx.job, "static student: training", epochs, ctx.emit, ctx.cancel))
            reporters[0].advance(1, message=f"validation macro-F1 {f1:.3f}")
        weights, summary = static_student.train_static(
            emb, {**enc(texts), "labels": to_model[train_labels]},
            {**enc(val["text"]), "labels": to_model[np.asarray(val["label"], dtype=np.int64)]}, n_labels, settings,
            teacher_logits=soft_model, metric=macro, on_epoch=on_epoch)
        params = int(sum(v.size for v in weights.values()))
        info = {"teacher": t_dir, "vocabulary": vocab.describe(), "training": summary,
                "settings": {"dim": settings.dim, "hidden": settings.hidden, "temperature": settings.temperature,
                             "alpha": settings.alpha, "epochs": settings.epochs, "max_length": length}}
        with staging_dir(out) as tmp:
            static_student.save_static(tmp, weights, tokenizer, {"label_names": self.model_labels, **info})
            logits, calibration = self._check_folder(tmp, "static", static=info, role="static", source=t_dir,
                                                     source_identity=model_identity(t_dir), parameters=params,
                                                     max_length=length)
        return logits, {"kind": "onnx", "size_bytes": _weights_bytes(out, (".onnx",)), "size_note": "model.onnx on disk",
                        "calibration": calibration,
                        "folder_bytes": _folder_bytes(out), "parameters": params, "quantization": {}}

    def _write_parity(self) -> None:
        res = self.result
        atomic_write_json(self.ctx.layout.parity_file, {
            "source_model": res.source_model, "test_examples": res.test_examples,
            "agreement_threshold": res.agreement_threshold, "label_names": getattr(self, "label_names", []),
            "reference": res.reference.to_dict() if res.reference else None,
            "variants": {n: v.to_dict() for n, v in res.variants.items()}, "environment": res.environment,
            "complete": res.status == "completed" and len(res.variants) == len(self.variants)})


def _teacher_predictions(layout: RunLayout, prepared, n_test: int) -> list[int] | None:
    """The teacher's test labels as the distill stage recorded them, when they are of these very texts."""
    try:
        distill = DistillResult.from_dict(read_json(layout.result_file("distill")))
    except (OSError, ValueError, TypeError):
        return None
    preds = distill.teacher_predictions.get("test")
    if not preds or len(preds) != n_test or distill.eval_fingerprint != eval_fingerprint(prepared):
        return None
    return [int(p) for p in preds]


def _write_labels(config_json: Path, names: list[str]) -> None:
    """Put the label names into config.json (id2label/label2id) so any HF tool shows them."""
    if not config_json.is_file():
        return
    data = json.loads(config_json.read_text(encoding="utf-8"))
    data["id2label"] = {str(i): n for i, n in enumerate(names)}
    data["label2id"] = {n: i for i, n in enumerate(names)}
    atomic_write_json(config_json, data)


def _weights_bytes(folder: Path, suffixes: tuple[str, ...] = (".onnx", ".onnx_data", ".safetensors")) -> int:
    return int(sum(f.stat().st_size for f in folder.iterdir() if f.suffix in suffixes))


def count_parameters_of(folder: Path) -> int:
    return count_parameters(load_classifier(str(folder)))


def _folder_bytes(folder: Path) -> int:
    return int(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()))
