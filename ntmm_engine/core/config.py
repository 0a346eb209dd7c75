"""The NTMM project configuration: one dataclass tree, saved as YAML (JSON accepted).

Each field carries a one-line ``help`` (shown as a GUI tooltip and in
``ntmm init``) and its allowed range or choices, so validation, the CLI's
``--set`` and the GUI forms all read the same metadata.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from .errors import ConfigError
from .layout import OPTIMIZE_VARIANTS
from .runfolder import atomic_write_text, check_run_dir

BUNDLED_MINILM = "bundled:all-MiniLM-L6-v2"
AUTO = "auto"  # a setting NTMM decides from the data (epochs, gradient accumulation)


def opt(default: Any, help: str, *, min: float | None = None, max: float | None = None,
        min_exclusive: bool = False, max_exclusive: bool = False,
        choices: tuple | None = None, group: str = "", advanced: bool = False, path: bool = False,
        result: bool | Callable[[Any], bool] = True, stage: str = "", requires: str = ""):
    """A config field with help text and constraints in its metadata.

    ``result`` says whether the field changes what its stage produces: False
    for settings such as logging intervals, or a function of the section
    (``lambda d: d.augment_copies > 0``) for settings that matter only when
    another one is on. Stage fingerprints hash only such fields, so editing a
    logging interval never makes a 40-minute teacher out of date.
    ``stage``: a data setting only that stage reads (the unlabelled texts: distill), so it
    changes that stage's fingerprint, not the ones of every stage that reads the data.
    ``requires``: the dotted name of another setting that must be set for this one to matter
    (``distill.unlabelled_weight`` does nothing without ``data.unlabelled``).
    """
    meta = dict(help=help, min=min, max=max, min_exclusive=min_exclusive,
                max_exclusive=max_exclusive, choices=choices, group=group,
                advanced=advanced, path=path, result=result, stage=stage, requires=requires)
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: copy.deepcopy(d), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class DataConfig:
    train: str = opt("", "Training data: a CSV/TSV/TXT (comma, semicolon, tab or pipe), JSON/JSONL, Excel/OpenDocument (.xlsx, .xls, .ods) or Parquet file, plain or compressed (.gz, .bz2, a .zip with one table); a datasets.save_to_disk folder; or a Hugging Face hub dataset name.", path=True)
    validation: str = opt("", "Optional validation file; empty = split it off the training data.", path=True)
    test: str = opt("", "Optional test file; empty = split it off the training data.", path=True)
    sheet: str = opt("", "Sheet of an Excel/OpenDocument file (training, validation and test); empty = the first sheet.")
    text_column: str = opt("", "Column holding the text; empty = detect (longest free-text column).")
    label_column: str = opt("", "Column holding the label; empty = detect (low-cardinality column).")
    label_names: str = opt("", "Optional CSV mapping label ids to names (two columns: id, name).", path=True)
    validation_ratio: float = opt(0.1, "Share of training rows held out for validation when no validation file is given.", min=0.0, max=0.5, min_exclusive=True)
    test_ratio: float = opt(0.1, "Share of training rows held out for test when no test file is given.", min=0.0, max=0.5, min_exclusive=True)
    max_length: int = opt(256, "Longest token sequence; longer texts are truncated.", min=8, max=8192)
    group_by_length: bool = opt(True, "Batch texts of similar length together (less padding, faster).")
    drop_cross_split_duplicates: bool = opt(True, "Drop validation/test rows whose text also appears in training.")
    augment_copies: int = opt(0, "Augmented copies added per training example (medical synonyms, filler phrases, nearby word swaps; negations and measurements are never changed). 0 = off. Validation and test are never augmented.", min=0, max=20)
    augment_p: float = opt(0.15, "Probability that each eligible word is changed by an augmentation operation.", min=0.0, max=1.0, min_exclusive=True, advanced=True,
                           result=lambda d: d.augment_copies > 0)
    augment_ops: list[str] = opt(["synonym", "insert", "swap"], "Augmentation operations: synonym (medical synonym table), insert (clinical filler phrases), swap (nearby words).", advanced=True,
                                 result=lambda d: d.augment_copies > 0)
    unlabelled: list[str] = opt([], "Texts without labels for distillation (the teacher labels them, the student learns from those soft labels): "
                                    "one or more files or folders, read like the training data (a .txt that is not a table holds one text a line). "
                                    "Texts also in validation or test, duplicates and empty texts are dropped. Empty = none.",
                                path=True, stage="distill")
    unlabelled_text_column: str = opt("", "Column of the unlabelled files holding the text; empty = the training data's text column if "
                                          "a file has it, else detect (longest free-text column).", stage="distill")


@dataclass
class RecipeConfig:
    """The training recipe shared by teacher fine-tuning and distillation."""

    epochs: float | str = opt(AUTO, "Training length: auto (optimizer steps sized for the data: at least 600 for small datasets, "
                                    "see the README) or a number of passes over the training data.",
                              min=0.0, min_exclusive=True, max=1000, group="Schedule")
    learning_rate: float = opt(2e-4, "Peak learning rate of AdamW.", min=0.0, min_exclusive=True, max=1.0, group="Optimization")
    batch_size: int = opt(16, "Examples per device per forward pass.", min=1, max=4096, group="Optimization")
    gradient_accumulation_steps: int | str = opt(AUTO, "Forward passes summed per optimizer step (effective batch = batch_size x this x "
                                                       "devices); auto = 1 up to 50,000 training texts, then 2, above 200,000 4.",
                                                 min=1, max=1024, group="Optimization")
    eval_batch_size: int = opt(64, "Examples per forward pass during evaluation.", min=1, max=4096, group="Optimization", advanced=True, result=False)
    weight_decay: float = opt(0.01, "AdamW decoupled weight decay.", min=0.0, max=1.0, group="Regularization")
    adam_beta1: float = opt(0.9, "AdamW beta1.", min=0.0, max=1.0, max_exclusive=True, group="Optimization", advanced=True)
    adam_beta2: float = opt(0.999, "AdamW beta2.", min=0.0, max=1.0, max_exclusive=True, group="Optimization", advanced=True)
    adam_epsilon: float = opt(1e-8, "AdamW epsilon.", min=0.0, min_exclusive=True, max=1.0, group="Optimization", advanced=True)
    warmup_ratio: float = opt(0.1, "Share of steps with linear learning-rate warmup.", min=0.0, max=1.0, max_exclusive=True, group="Schedule")
    lr_scheduler: str = opt("cosine", "Learning-rate decay after warmup.", choices=("cosine", "linear", "constant_with_warmup"), group="Schedule")
    label_smoothing: float = opt(0.1, "Label smoothing of the cross-entropy loss.", min=0.0, max=1.0, max_exclusive=True, group="Regularization")
    max_grad_norm: float = opt(1.0, "Gradient clipping norm (0 disables).", min=0.0, max=1e6, group="Regularization")
    precision: str = opt("auto", "Mixed precision: auto = bf16 on GPUs that support it, else fp16 on CUDA, fp32 on CPU.", choices=("auto", "fp32", "fp16", "bf16"), group="Precision & device")
    device: str = opt("auto", "Where to train: auto = CUDA, then MPS, then CPU.", choices=("auto", "cuda", "mps", "cpu"), group="Precision & device")
    early_stopping_patience: int = opt(3, "Evaluations without improvement before stopping (0 disables early stopping).", min=0, max=1000, group="Early stopping")
    early_stopping_metric: str = opt("macro_f1", "Validation metric watched for early stopping and best-checkpoint choice.", choices=("macro_f1", "accuracy", "loss"), group="Early stopping")
    evaluations: int = opt(10, "Evaluations on the validation split per run, evenly spaced in steps, each with a checkpoint; "
                               "early stopping counts them.", min=1, max=10000, group="Early stopping", advanced=True)
    early_stopping_threshold: float = opt(0.0, "Smallest change that counts as an improvement.", min=0.0, max=1.0, group="Early stopping", advanced=True)
    logging_steps: int = opt(5, "Optimizer steps between training-log events.", min=1, max=100000, group="Schedule", advanced=True, result=False)
    save_total_limit: int = opt(2, "Checkpoints kept on disk (the best one is always kept).", min=1, max=100, group="Schedule", advanced=True, result=False)
    report_to: str = opt("none", "Also log the training curves, the distillation loss parts and the final metrics to TensorBoard (<run>/tensorboard) or MLflow (a local file store, <run>/mlruns); both offline. Needs pip install ntmm[tensorboard] or ntmm[mlflow].",
                         choices=("none", "tensorboard", "mlflow"), group="Tracking", result=False)


@dataclass
class TeacherConfig(RecipeConfig):
    base_model: str = opt(BUNDLED_MINILM, "Pretrained encoder: the bundled MiniLM, a local save_pretrained folder, or a hub name.", group="Model")
    trust_remote_code: bool = opt(False, "Allow a hub model to run its own Python code. Only for models you trust.", group="Model", advanced=True, result=False)


@dataclass
class DistillConfig(RecipeConfig):
    teacher: str = opt("", "Teacher model folder; empty = the teacher of this project's run folder.", path=True, group="Model")
    student: str = opt("shrink", "How the student is built: shrink the teacher, another pretrained checkpoint, or a fresh small config.", choices=("shrink", "checkpoint", "fresh"), group="Model")
    num_layers: int = opt(2, "Layers kept when shrinking the teacher (spread evenly).", min=1, max=96, group="Model")
    layer_indices: list[int] = opt([], "Exact teacher layers to keep when shrinking; empty = spread num_layers evenly.", group="Model")
    student_checkpoint: str = opt("", "Pretrained checkpoint (folder or hub name) used when student = checkpoint.", group="Model")
    fresh_layers: int = opt(2, "Layers of a fresh student.", min=1, max=48, group="Model", advanced=True)
    fresh_hidden_size: int = opt(128, "Hidden size of a fresh student.", min=8, max=4096, group="Model", advanced=True)
    fresh_heads: int = opt(2, "Attention heads of a fresh student (must divide the hidden size).", min=1, max=64, group="Model", advanced=True)
    fresh_intermediate_size: int = opt(512, "Feed-forward size of a fresh student.", min=8, max=16384, group="Model", advanced=True)
    temperature: float = opt(3.0, "Softmax temperature of the KL term.", min=1.0, max=10.0, group="Distillation")
    alpha: float = opt(0.5, "Weight of the distillation terms against the hard-label cross-entropy.", min=0.0, max=1.0, group="Distillation")
    cosine_weight: float = opt(0.1, "Weight of the pooled-hidden-state cosine loss (0 disables).", min=0.0, max=100.0, group="Distillation")
    mse_weight: float = opt(0.05, "Weight of the logit MSE loss (0 disables).", min=0.0, max=100.0, group="Distillation")
    cache_teacher: bool = opt(True, "Compute teacher outputs once and reuse them (much faster).", group="Distillation", result=False)
    baseline: bool = opt(True, "Also train the identical student on hard labels only, to show what distillation buys.", group="Distillation")
    unlabelled_weight: float = opt(1.0, "Weight of an unlabelled text's loss (the soft part only: KL·T² + cosine + MSE, no cross-entropy) "
                                        "against a labelled text's full loss.", min=0.0, max=100.0, group="Unlabelled texts",
                                   requires="data.unlabelled")
    unlabelled_per_epoch: int | str = opt(AUTO, "Unlabelled texts mixed into each epoch of the student's training (a different share each "
                                                "epoch when there are more); auto = up to 4 per labelled text, so the labels keep their weight.",
                                          min=1, max=10_000_000, group="Unlabelled texts", requires="data.unlabelled")
    unlabelled_min_confidence: float = opt(0.0, "Use only unlabelled texts on which the teacher's top probability is at least this "
                                                "(0 = all of them).", min=0.0, max=1.0, max_exclusive=True, group="Unlabelled texts",
                                           requires="data.unlabelled")
    seeds: int = opt(1, "Train the student (and the baseline) this many times, with seeds seed, seed+1, ...: tables then show "
                        "mean ± sd, because one seed on a small test split moves by several points. The first seed's models are kept.",
                     min=1, max=20, group="Distillation")
    trust_remote_code: bool = opt(False, "Allow a hub student checkpoint to run its own Python code.", group="Model", advanced=True, result=False)


@dataclass
class OptimizeConfig:
    model: str = opt("", "Model folder to optimize; empty = this project's distilled student.", path=True)
    variants: list[str] = opt(["torch_int8", "onnx", "onnx_int8", "onnx_int8_pruned", "static"],
                              "Variants to build: torch_int8, onnx, onnx_int8 (fused graph, INT8), onnx_int8_unfused (the plain "
                              "graph, INT8, to compare), onnx_int8_pruned (INT8 after vocabulary pruning), static (static-embedding student).")
    opset: int = opt(17, "ONNX opset version.", min=14, max=21)
    per_channel: bool = opt(True, "Per-channel INT8 weights for ONNX: on a narrow 2-layer student this kept 98.5% label agreement where per-tensor kept 94.5%.")
    fuse: bool = opt(True, "Run ONNX Runtime's transformer fusions (attention, SkipLayerNorm, bias-GELU) on the graph before INT8 "
                           "quantization (onnx_int8, onnx_int8_pruned).")
    agreement_threshold: float = opt(0.99, "Flag a variant whose label agreement with the fp32 student is below this.", min=0.0, max=1.0)
    static_dim: int = opt(256, "Width of the static student's token vectors (PCA of the teacher's).", min=8, max=4096,
                          group="Static student", result=lambda o: "static" in o.variants)
    static_hidden: int = opt(0, "Hidden layer of the static student's head; 0 = a linear head.", min=0, max=8192,
                             group="Static student", result=lambda o: "static" in o.variants)
    static_max_length: int = opt(0, "Tokens the static student reads; 0 = data.max_length. A token costs it one row lookup "
                                    "and it has no position limit, so it can read more of a long text than the transformers "
                                    "(never fewer).", min=0, max=8192,
                                 group="Static student", result=lambda o: "static" in o.variants)
    static_epochs: int = opt(40, "Most passes over the training texts for the static student (the best on validation is kept).",
                             min=1, max=1000, group="Static student", result=lambda o: "static" in o.variants)


@dataclass
class BenchmarkConfig:
    variants: list[str] = opt([], "Variants to measure; empty = every model in the run folder. Also a model folder, or NAME=FOLDER to give it a name.")
    num_samples: int = opt(100, "Test texts timed at batch 1 in each round.", min=1, max=100000)
    warmup: int = opt(5, "Untimed warm-up runs before measuring.", min=0, max=1000)
    rounds: int = opt(5, "Interleaved rounds at least: each round times every variant once, one after the other, "
                         "so load that comes and goes hits them alike.", min=1, max=1000, group="Rounds")
    time_budget_s: float = opt(120.0, "Seconds more to repeat rounds while timings are unsteady; after that they are flagged "
                                      "unreliable and no variant is recommended.", min=0.0, max=86400.0, group="Rounds")
    max_spread: float = opt(0.15, "Steady timings: largest spread of a variant's round medians (interquartile range / median).",
                            min=0.0, max=10.0, min_exclusive=True, group="Rounds", advanced=True)
    throughput_batch_size: int = opt(32, "Batch size for the throughput figure.", min=1, max=4096)
    threads: int = opt(0, "Intra-op threads; 0 = all cores.", min=0, max=1024)
    budget_max_latency_ms: float = opt(0.0, "Budget: longest median latency at batch 1, in ms (0 = no limit).", min=0.0, max=1e7,
                                       group="Budget", result=False)
    budget_min_macro_f1: float = opt(0.0, "Budget: lowest test macro-F1 (0 = no limit).", min=0.0, max=1.0, group="Budget", result=False)
    budget_max_size_mb: float = opt(0.0, "Budget: largest model size, in MB (0 = no limit).", min=0.0, max=1e7, group="Budget", result=False)
    budget_max_peak_ram_mb: float = opt(0.0, "Budget: largest peak memory of the measuring process, in MB (0 = no limit).",
                                        min=0.0, max=1e7, group="Budget", result=False)
    sweep: bool = opt(False, "Also sweep threads x batch size x sequence length for one variant.")
    sweep_variant: str = opt("student_onnx_int8", "Variant swept when sweep is on.", result=lambda b: b.sweep)
    sweep_threads: list[int] = opt([1, 2, 0], "Thread counts of the sweep (0 = all cores).", advanced=True, result=lambda b: b.sweep)
    sweep_batch_sizes: list[int] = opt([1, 8, 32], "Batch sizes of the sweep.", advanced=True, result=lambda b: b.sweep)
    sweep_seq_lengths: list[int] = opt([64, 128, 256], "Sequence lengths of the sweep (texts padded/truncated to exactly this many tokens).", advanced=True, result=lambda b: b.sweep)
    isolate: bool = opt(True, "Measure each variant in a warm process of its own: true peak memory and no interference between variants.", advanced=True)


@dataclass
class PredictConfig:
    """How predictions are shown and written (Predict step, ``ntmm predict --config``); no stage depends on it."""

    min_confidence: float = opt(0.0, "Mark predictions whose (calibrated) top probability is below this as “uncertain — review” "
                                     "(the Predict step and batch outputs' pred_uncertain column); 0 = off. The Predict step can "
                                     "choose it from a target accuracy on validation.", min=0.0, max=1.0, result=False)


@dataclass
class ProjectConfig:
    name: str = opt("ntmm-project", "Project name, used in reports and model cards.")
    run_dir: str = opt("runs", "Folder for every artifact of this project (relative to the config file).", path=True)
    seed: int = opt(42, "Random seed for splits, initialisation and data order.", min=0, max=2**32 - 1)
    data: DataConfig = field(default_factory=DataConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    optimize: OptimizeConfig = field(default_factory=OptimizeConfig)
    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)
    predict: PredictConfig = field(default_factory=PredictConfig)
    # Folder relative paths are resolved against (the config file's folder); not saved.
    base_dir: str = field(default=".", compare=False, repr=False, metadata={"internal": True})

    # ---- paths -------------------------------------------------------------
    def resolve(self, value: str) -> Path:
        """Resolve a path field against the config file's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else (Path(self.base_dir) / p).resolve()

    @property
    def run_path(self) -> Path:
        return self.resolve(self.run_dir)

    # ---- (de)serialisation ---------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("base_dir")
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], base_dir: str | Path = ".") -> "ProjectConfig":
        cfg = _build(cls, data or {}, "")
        cfg.base_dir = str(Path(base_dir).resolve())
        cfg.validate()
        return cfg

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        text = (json.dumps(self.to_dict(), indent=2) if path.suffix.lower() == ".json"
                else yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True))
        atomic_write_text(path, text)
        return path

    def rebase(self, new_dir: str | Path) -> None:
        """Move the project file's folder to ``new_dir`` (Save As) keeping every input path on the same file.

        Relative paths to existing files or folders become absolute; ``run_dir`` stays relative on
        purpose, so the copy gets its own run folder.
        """
        for section in (getattr(self, s) for s in SECTIONS):
            for f in fields_of(section):
                if f.metadata.get("path"):
                    value = getattr(section, f.name)
                    setattr(section, f.name, [self._absolute(v) for v in value] if isinstance(value, list) else self._absolute(value))
        self.base_dir = str(Path(new_dir).resolve())

    def _absolute(self, value: str) -> str:
        """``value`` as an absolute path when it is a relative path to something that exists; else as it is."""
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute() and self.resolve(value).exists():
            return str(self.resolve(value))
        return value

    def copy(self, **overrides: Any) -> "ProjectConfig":
        return copy.deepcopy(self)

    def validate(self) -> None:
        for section_name, obj in [("", self)] + [(f.name, getattr(self, f.name)) for f in fields_of(self) if dataclasses.is_dataclass(getattr(self, f.name))]:
            for f in fields_of(obj):
                if dataclasses.is_dataclass(getattr(obj, f.name)) or f.metadata.get("internal"):
                    continue
                _check_value(f"{section_name}.{f.name}" if section_name else f.name, getattr(obj, f.name), f)
        if self.data.validation == "" and self.data.test == "" and self.data.validation_ratio + self.data.test_ratio >= 0.9:
            raise ConfigError("data.validation_ratio", "validation_ratio + test_ratio must leave at least 10% of rows for training")
        if self.distill.student == "checkpoint" and not self.distill.student_checkpoint:
            raise ConfigError("distill.student_checkpoint", "is empty, but distill.student is 'checkpoint'",
                              hint="name a local folder or hub model, or choose student: shrink")
        if self.distill.fresh_hidden_size % self.distill.fresh_heads:
            raise ConfigError("distill.fresh_heads", f"{self.distill.fresh_heads} does not divide fresh_hidden_size {self.distill.fresh_hidden_size}")
        bad_ops = [v for v in self.data.augment_ops if v not in AUGMENT_OPS]
        if bad_ops:
            raise ConfigError("data.augment_ops", f"unknown operation(s) {bad_ops}; allowed: {list(AUGMENT_OPS)}")
        if self.data.augment_copies > 0 and not self.data.augment_ops:
            raise ConfigError("data.augment_ops", "is empty, but data.augment_copies is above 0",
                              hint="list at least one of synonym, insert, swap, or set augment_copies: 0")
        bad = [v for v in self.optimize.variants if v not in OPTIMIZE_VARIANTS]
        if bad:
            raise ConfigError("optimize.variants", f"unknown variant(s) {bad}; allowed: {list(OPTIMIZE_VARIANTS)}")
        self.check_run_dir()

    def check_run_dir(self) -> None:
        """Refuse a run_dir that is the file-system root, the home folder, the project's own folder
        (a job writes config.yaml into the run folder) or the folder of an input file."""
        inputs = [self.resolve(v) for v in (self.data.train, self.data.validation, self.data.test, self.data.label_names,
                                            *self.data.unlabelled) if v]
        check_run_dir(self.run_path, inputs)
        if self.run_path == Path(self.base_dir).resolve():
            raise ConfigError("run_dir", f"{self.run_path} is the project's own folder; each job writes config.yaml "
                                         "and more into the run folder, which could overwrite the project's files.",
                              hint="use a subfolder such as runs")

    def require_data(self) -> None:
        """Checks a job that reads data makes before starting."""
        if not self.data.train:
            raise ConfigError("data.train", "is empty", hint="set it to a CSV/JSON/Parquet file, a save_to_disk folder or a hub dataset name")
        self.check_run_dir()  # configs built in code skip validate(); every job passes here

    def set_value(self, dotted: str, raw: str) -> None:
        """Apply one ``section.key=value`` override (value parsed as YAML), then re-validate."""
        parts = dotted.split(".")
        obj: Any = self
        for p in parts[:-1]:
            if not any(f.name == p for f in fields_of(obj)) or not dataclasses.is_dataclass(getattr(obj, p)):
                raise ConfigError(dotted, f"unknown section '{p}'")
            obj = getattr(obj, p)
        name = parts[-1]
        fld = next((f for f in fields_of(obj) if f.name == name and not f.metadata.get("internal")), None)
        if fld is None or dataclasses.is_dataclass(getattr(obj, name)):
            raise ConfigError(dotted, "unknown setting", hint=_known_keys_hint(obj))
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        hints = typing.get_type_hints(type(obj))
        if hints[name] is str and value is not None and not isinstance(value, str):
            value = raw  # "--set name=123" means the string "123"
        setattr(obj, name, _coerce(dotted, value, hints[name]))
        self.validate()




AUGMENT_OPS = ("synonym", "insert", "swap")


SECTIONS = ("data", "teacher", "distill", "optimize", "benchmark", "predict")


def fields_of(obj: Any) -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(obj)


def field_help(section: str, name: str) -> str:
    """The help text of ``section.name`` (section "" for top-level fields)."""
    cls = type(getattr(ProjectConfig(), section)) if section else ProjectConfig
    return next(f.metadata.get("help", "") for f in dataclasses.fields(cls) if f.name == name)


def load_config(path: str | Path) -> ProjectConfig:
    """Load a YAML or JSON project file; relative paths resolve against its folder."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("config", f"file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("config", f"cannot read {path}: {exc}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ConfigError("config", f"{path}, line {exc.lineno}: not valid JSON ({exc.msg}).") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = " ".join(str(x) for x in (getattr(exc, "context", None), getattr(exc, "problem", None)) if x) or str(exc)
        raise ConfigError("config", f"{path}{where}: not valid YAML ({what}).") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("config", f"{path} must hold a mapping of sections, not {type(data).__name__}")
    return ProjectConfig.from_dict(data, base_dir=path.parent)


# ---------------------------------------------------------------- internals
def _known_keys_hint(obj: Any) -> str:
    return "known keys: " + ", ".join(f.name for f in fields_of(obj) if not f.metadata.get("internal"))


def _build(cls: type, data: Any, prefix: str) -> Any:
    where = prefix.rstrip(".") or "config"
    if not isinstance(data, dict):
        raise ConfigError(where, f"must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    for key in data:
        if key not in known:
            raise ConfigError(f"{prefix}{key}", "unknown setting", hint=_known_keys_hint(cls))
    kwargs = {}
    for name, value in data.items():
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = _build(tp, value if value is not None else {}, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(f"{prefix}{name}", value, tp)
    return cls(**kwargs)


def _coerce(name: str, value: Any, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):  # a number or "auto" (epochs, gradient_accumulation_steps)
        if isinstance(value, str) and value.strip().lower() == AUTO:
            return AUTO
        number = next(a for a in typing.get_args(tp) if a is not str)
        try:
            return _coerce(name, value, number)
        except ConfigError:
            kind = "a whole number" if number is int else "a number"
            raise ConfigError(name, f"must be {kind} or auto, got {value!r}") from None
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if value is None:
            return []
        if isinstance(value, str) and item_tp is str:  # "unlabelled: notes.csv" means a list of one
            return [value] if value.strip() else []
        if not isinstance(value, list):
            raise ConfigError(name, f"must be a list of {item_tp.__name__}, got {value!r}")
        return [_coerce(f"{name}[{i}]", v, item_tp) for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(name, f"must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise ConfigError(name, f"must be a whole number, got {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, str):
            try:  # YAML 1.1 reads "1e-4" as a string
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(name, f"must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ConfigError(name, f"must be text, got {value!r}")
        return value
    return value


def _check_value(name: str, value: Any, f: dataclasses.Field) -> None:
    m = f.metadata
    if value == AUTO and (m.get("min") is not None or m.get("max") is not None):
        return  # a number-or-auto field set to auto: there is no range to check
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(name, f"must be a finite number, got {value}")
    lo, hi = m.get("min"), m.get("max")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and (lo is not None or hi is not None):
        too_low = lo is not None and (value <= lo if m.get("min_exclusive") else value < lo)
        too_high = hi is not None and (value >= hi if m.get("max_exclusive") else value > hi)
        if too_low or too_high:
            left = "(" if m.get("min_exclusive") else "["
            right = ")" if m.get("max_exclusive") else "]"
            raise ConfigError(name, f"{value} is out of range; allowed {left}{lo}, {hi}{right}")
    choices = m.get("choices")
    if choices and value not in choices:
        raise ConfigError(name, f"{value!r} is not allowed; choose one of {', '.join(map(str, choices))}")
