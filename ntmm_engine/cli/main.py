"""``ntmm`` command line: the same engine jobs the desktop app runs, through :mod:`ntmm_engine.api`.

Ctrl+C once cancels the running job at its next step (a resumable
checkpoint is kept); a second Ctrl+C aborts at once.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from typing import Any, Callable

from .. import api
from ..core.config import ProjectConfig, load_config
from ..core.errors import Cancelled, NTMMError
from ..core.events import CancelToken
from .console import ConsoleView
from .predict import predict_cli


# ---------------------------------------------------------------- helpers
def _load(args) -> ProjectConfig:
    cfg = load_config(args.config)
    for item in args.set or []:
        if "=" not in item:
            raise NTMMError(f"--set {item}: expected section.key=value")
        key, value = item.split("=", 1)
        cfg.set_value(key.strip(), value.strip())
    return cfg


def _install_sigint(cancel: CancelToken) -> None:
    def handler(signum, frame):
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()
        print("\nCancelling at the next step (Ctrl+C again to abort now)...", file=sys.stderr)
    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not in the main thread (tests)
        pass


# --------------------------------------------------------------- commands
def cmd_init(args) -> int:
    path = api.write_starter(args.path, demo=args.demo, force=args.force)
    print(f"Wrote {path}")
    return 0


def cmd_data(args) -> int:
    cfg = _load(args)
    cfg.require_data()
    report = api.analyse_data(cfg.data, cfg.seed, cfg.base_dir, cfg.teacher.base_model,  # what the Data step shows
                              run_dir=str(cfg.run_path)).report
    classical = api.classical_preview(cfg)
    teacher = api.teacher_plan(cfg, measure=not args.no_estimate)
    distill = api.student_plan(cfg.distill, teacher.examples, report.unlabelled.used if report.unlabelled else 0)
    if args.json:
        print(json.dumps({"report": report.to_dict(), "classical": classical.to_dict(), "teacher_plan": teacher.to_dict(),
                          "distill_plan": distill.to_dict()}, indent=2))
        return 0
    print(report.to_text())
    print(f"Teacher: {teacher.summary()} ({teacher.rule})")
    print(f"Student: {distill.summary()}")
    print(classical.summary_text())
    print("A transformer is worth its cost only where it beats this baseline clearly.")
    return 0


def _run_job(args, job, cfg: ProjectConfig | None = None, **kwargs: Any):
    """Run one engine job with console progress; Ctrl+C cancels it at its next step."""
    cfg = cfg or _load(args)
    cancel = CancelToken()
    _install_sigint(cancel)
    return job(cfg, ConsoleView(args.quiet), cancel, **kwargs)


def cmd_teacher(args) -> int:
    result = _run_job(args, api.run_teacher, resume=args.resume)
    print(result.summary_text())
    return 130 if result.status == "cancelled" else 0


def cmd_distill(args) -> int:
    cfg = _load(args)
    if args.teacher:
        cfg.distill.teacher = args.teacher
    if args.seeds is not None:
        cfg.set_value("distill.seeds", str(args.seeds))
    result = _run_job(args, api.run_distill, cfg, resume=args.resume)
    if result.status == "cancelled":
        print("Cancelled. Resume with --resume.")
        return 130
    print(result.summary_text())
    return 0


def cmd_optimize(args) -> int:
    print(_run_job(args, api.run_optimize).summary_text())
    return 0


BUDGET_OPTIONS = (("max_latency_ms", "benchmark.budget_max_latency_ms"), ("min_macro_f1", "benchmark.budget_min_macro_f1"),
                  ("max_size_mb", "benchmark.budget_max_size_mb"), ("max_peak_ram_mb", "benchmark.budget_max_peak_ram_mb"))


def _budget(args, cfg: ProjectConfig) -> ProjectConfig:
    for attr, key in BUDGET_OPTIONS:
        if getattr(args, attr, None) is not None:
            cfg.set_value(key, str(getattr(args, attr)))
    return cfg


def cmd_benchmark(args) -> int:
    result = _run_job(args, api.run_benchmark, _budget(args, _load(args)))
    print(result.summary_text())
    return 130 if result.status == "cancelled" else 0


def cmd_recommend(args) -> int:
    """The finished benchmark's choice under a budget (the project's, or the one given here): nothing is measured."""
    cfg = _budget(args, _load(args))
    rec = api.RunState(cfg).recommendation()
    if rec is None:
        raise NTMMError(f"No finished benchmark in {cfg.run_path}.", hint="run 'ntmm benchmark' first")
    print(f"Budget: {rec.budget.text()}")
    print(("Recommended: " if rec.variant else "") + rec.reason)
    if rec.variant in api.VARIANTS:
        print(f"Model: {api.RunLayout(cfg.run_path).variant_dir(rec.variant)}")
    return 0 if rec.variant else 1


def cmd_pipeline(args) -> int:
    cfg = _load(args)
    if args.dry_run:
        plan = api.plan(cfg, args.force)
        for stage, action in plan.items():
            print(f"{stage:>10}: {action}")
        replaced = api.replaced_by(cfg, plan)
        if replaced:
            print(f"Finished results that would be replaced: {', '.join(replaced)}")
        return 0
    result = _run_job(args, lambda c, on_event, cancel: api.Pipeline(c, on_event, cancel).run(force=args.force), cfg)
    print(result.summary_text())
    final = api.RunState(cfg).summary_text()
    if final:
        print("\n" + final)
    return 130 if result.status == "cancelled" else 0


def cmd_lr_find(args) -> int:
    result = _run_job(args, api.find_lr, start_lr=args.start_lr, end_lr=args.end_lr, num_steps=args.steps)
    print(result.summary_text())
    return 0


def cmd_predict(args) -> int:
    return predict_cli(args)


def cmd_export(args) -> int:
    result = api.export_bundle(args.model, args.out, opset=args.opset,
                               on_progress=None if args.quiet else lambda m: print(f"{m}...", file=sys.stderr))
    print(result.summary_text())
    return 0


COMMANDS: dict[str, tuple[Callable, str]] = {
    "init": (cmd_init, "write a starter project config"),
    "data": (cmd_data, "check the data: report, training plan and time, classical baseline scores"),
    "teacher": (cmd_teacher, "fine-tune the teacher"),
    "distill": (cmd_distill, "distil the teacher into a small student"),
    "optimize": (cmd_optimize, "build INT8 and ONNX variants of the student and check parity"),
    "benchmark": (cmd_benchmark, "measure every variant side by side, in interleaved rounds, and recommend one under the budget"),
    "recommend": (cmd_recommend, "the benchmarked variant that fits a budget (latency, macro-F1, size, peak RAM), without measuring again"),
    "pipeline": (cmd_pipeline, "run teacher -> distill -> optimize -> benchmark, skipping what is up to date"),
    "lr-find": (cmd_lr_find, "learning-rate range test on the teacher: suggests teacher.learning_rate"),
    "predict": (cmd_predict, "predict labels for texts with any NTMM model"),
    "export": (cmd_export, "write a deployable bundle: ONNX model, tokenizer, predict.py needing only onnxruntime"),
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ntmm", description="Train, distil, optimize and benchmark small medical text classifiers.")
    p.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (fn, help_) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(func=fn)
        if name == "init":
            sp.add_argument("path", nargs="?", default="ntmm.yaml", help="config file or folder (default ntmm.yaml)")
            sp.add_argument("--demo", action="store_true", help="use the built-in demo data and settings")
            sp.add_argument("--force", action="store_true", help="overwrite an existing file")
            continue
        if name == "predict":
            sp.add_argument("texts", nargs="*", help="texts to classify")
            sp.add_argument("--model", required=True, help="model folder or .onnx file")
            sp.add_argument("--file", help="CSV/TSV/TXT (one text a line, or a table), JSON/JSONL or Excel/ODS file of texts, "
                                           "plain or compressed (.gz, .bz2, .zip)")
            sp.add_argument("--column", help="text column of the file (default: the model's, else detected)")
            sp.add_argument("--sheet", help="sheet of an Excel/ODS file (default: the first)")
            sp.add_argument("--out", help="write every input column plus the predictions to a .csv, .tsv, .xlsx, .jsonl or .json file")
            sp.add_argument("--batch-size", type=int, default=32)
            sp.add_argument("--allow-pickle", action="store_true", help="allow loading pickled weights with weights_only=True")
            sp.add_argument("--min-confidence", type=float, metavar="P",
                            help="mark predictions whose top probability is below P as 'uncertain — review' (a pred_uncertain "
                                 "column with --out); default: predict.min_confidence of --config, else off")
            sp.add_argument("--target-accuracy", type=float, metavar="A",
                            help="choose --min-confidence from the model's risk-coverage curve on validation: the lowest "
                                 "threshold whose kept predictions reach accuracy A (e.g. 0.95)")
            sp.add_argument("--explain", action="store_true",
                            help="print the words that pushed each prediction (a pred_explanation column with --out)")
            sp.add_argument("--config", "-c", help="project config to read predict.min_confidence from (optional)")
            continue
        if name == "export":
            sp.add_argument("--model", required=True, help="model folder or .onnx file (ONNX, or a PyTorch folder to export)")
            sp.add_argument("--out", required=True, help="the bundle folder to write (new, empty, or an earlier bundle)")
            sp.add_argument("--opset", type=int, default=17, help="ONNX opset when a PyTorch model is exported (default 17)")
            sp.add_argument("--quiet", "-q", action="store_true", help="print only the result")
            continue
        sp.add_argument("--config", "-c", required=True, help="project config (YAML or JSON)")
        sp.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help="override one setting (repeatable)")
        sp.add_argument("--quiet", "-q", action="store_true", help="print only the final result")
        if name in ("teacher", "distill"):
            sp.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
        if name == "distill":
            sp.add_argument("--teacher", help="teacher model folder (default: the project's teacher)")
            sp.add_argument("--seeds", type=int, metavar="N",
                            help="train the student and the baseline with N seeds and report mean ± sd (distill.seeds)")
        if name == "pipeline":
            sp.add_argument("--force", metavar="STAGE", help="redo this stage (teacher, distill, optimize, benchmark) and all after it")
            sp.add_argument("--dry-run", action="store_true", help="only show what would run, resume or be skipped")
        if name == "lr-find":
            sp.add_argument("--start-lr", type=float, default=1e-7, help="first learning rate (default 1e-7)")
            sp.add_argument("--end-lr", type=float, default=1.0, help="last learning rate (default 1)")
            sp.add_argument("--steps", type=int, default=100, help="optimizer steps at most (default 100)")
        if name in ("benchmark", "recommend"):
            for attr, key in BUDGET_OPTIONS:
                sp.add_argument("--" + attr.replace("_", "-"), type=float, metavar="X", dest=attr,
                                help=f"budget: {api.field_help('benchmark', key.split('.')[1]).split(': ', 1)[1]} ({key})")
        if name == "data":
            sp.add_argument("--json", action="store_true", help="print the report as JSON")
            sp.add_argument("--no-estimate", action="store_true",
                            help="skip timing a few teacher steps (the training-time estimate)")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not api.is_main_process():  # under torchrun/accelerate only rank 0 reports results
        sys.stdout = open(os.devnull, "w")
    try:
        return int(args.func(args) or 0)
    except NTMMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (Cancelled, KeyboardInterrupt):
        print("aborted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: short message here, the traceback in the log
        if args.debug:
            raise
        log = api.log_dir() / f"crash-{time.strftime('%Y%m%d-%H%M%S')}.log"
        log.write_text(traceback.format_exc(), encoding="utf-8")
        print(f"error: unexpected {type(exc).__name__}: {exc}\n  details: {log}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
