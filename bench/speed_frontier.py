"""The speed frontier on Medical Abstracts: every variant built from one teacher, benchmarked in one run.

    python bench/speed_frontier.py --teacher bench/results/runs/medical/teacher/model --max-length 256
    python bench/speed_frontier.py --smoke          # tiny synthetic data and a tiny random teacher: checks the script

Builds, from the given fine-tuned teacher (``--teacher``; without it one is trained first):

* the teacher in ONNX fp32 and ONNX Runtime INT8, on the fused and on the plain graph (run folder ``teacher-opt``),
* the 2-layer student (the shrink path, layers 0 and 5) with ONNX fp32, INT8 fused and unfused, INT8 after
  vocabulary pruning, and the static-embedding student (run folder ``main``), and the classical baseline,
* a 1-layer student from the same shrink path and a narrow fresh student (4 layers, width 256, trained by
  distillation through the loss's width projection), each as fp32 and ONNX INT8 (run folders ``d1``, ``narrow``),

then measures all of them in one benchmark of interleaved rounds (the ``main`` run folder), profiles the fastest
transformer within a point of the teacher (ONNX Runtime's profiler: where the time goes), and writes
``bench/results/speed_frontier.{json,md,png}``: the frontier table, fused vs unfused, the budget's choice for three
example budgets, the pruned INT8 size and agreement, the static student next to the classical baseline, and the
issue's targets with the figures reached. Run it on a quiet machine: the benchmark flags unsteady timings.
It keeps up to 15 models warm at once (about 10 GB of memory).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from common import RESULTS, md_table, run_config, save

SMOKE_CLASSES = {"cardio": ["heart", "chest", "pressure", "cardiac", "artery"],
                 "neuro": ["brain", "headache", "seizure", "nerve", "stroke"],
                 "gastro": ["stomach", "liver", "bowel", "nausea", "colon"]}
EXAMPLE_BUDGETS = [  # (what a user asks for, the budget)
    ("1 ms per note", {"max_latency_ms": 1.0}),
    ("within a point of the teacher, under 5 ms", {"min_macro_f1": None, "max_latency_ms": 5.0}),  # None: teacher - 0.01
    ("8 MB on disk and 500 MB of RAM", {"max_size_mb": 8.0, "max_peak_ram_mb": 500.0}),
]


# ------------------------------------------------------------------ set-up
def smoke_config(root: Path):
    """A tiny synthetic project (three classes of short notes) with a tiny random BERT as the teacher's base."""
    import csv
    import random

    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from ntmm_engine.core.config import ProjectConfig
    from ntmm_engine.core.models import bundled_minilm_path

    rng = random.Random(0)
    filler = "patient reports with the mild severe days history of and noted today".split()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "notes.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        for label, words in SMOKE_CLASSES.items():
            for _ in range(30):
                toks = [rng.choice(filler) for _ in range(rng.randint(4, 10))] + rng.sample(words, 2)
                rng.shuffle(toks)
                w.writerow([" ".join(toks), label])
    tok = AutoTokenizer.from_pretrained(bundled_minilm_path())
    base = root / "base"
    cfg_bert = BertConfig(vocab_size=tok.vocab_size, hidden_size=64, num_hidden_layers=6, num_attention_heads=2,
                          intermediate_size=128, max_position_embeddings=512, num_labels=3)
    BertForSequenceClassification(cfg_bert).save_pretrained(base, safe_serialization=True)
    tok.save_pretrained(base)
    cfg = ProjectConfig(name="speed-frontier-smoke", run_dir=str(root / "runs" / "main"))
    cfg.base_dir = str(root)
    cfg.data.train = str(root / "notes.csv")
    cfg.data.max_length = 32
    cfg.teacher.base_model = str(base)
    for r in (cfg.teacher, cfg.distill):
        r.epochs, r.learning_rate, r.batch_size, r.device, r.early_stopping_patience = 3, 5e-3, 8, "cpu", 0
        r.gradient_accumulation_steps = 1
    cfg.distill.fresh_hidden_size, cfg.distill.fresh_heads, cfg.distill.fresh_intermediate_size = 32, 2, 64
    cfg.optimize.static_dim, cfg.optimize.static_epochs = 16, 5
    b = cfg.benchmark
    b.num_samples, b.warmup, b.rounds, b.time_budget_s, b.throughput_batch_size = 10, 1, 3, 0.0, 8
    return cfg


def with_run(cfg, run: Path):
    c = cfg.copy()
    c.run_dir = str(run)
    return c


# ------------------------------------------------------------------ analysis
def profile_onnx(folder: Path, texts: list[str], n: int = 50, threads: int = 0) -> list[dict]:
    """Where the time of batch-1 inference goes: ONNX Runtime's profiler, summed per operator type."""
    import onnxruntime as ort

    from ntmm_engine.api import load_predictor

    pred = load_predictor(folder)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    so.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        so.profile_file_prefix = str(Path(tmp) / "profile")
        sess = ort.InferenceSession(str(pred.onnx_file), so, providers=["CPUExecutionProvider"])
        names = [i.name for i in sess.get_inputs()]
        for t in texts[:n]:
            enc = pred.encode([t])
            enc.setdefault("token_type_ids", enc["input_ids"] * 0)
            sess.run(None, {k: enc[k] for k in names})
        events = json.loads(Path(sess.end_profiling()).read_text())
    per_op: dict[str, float] = {}
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            op = e.get("args", {}).get("op_name", "?")
            per_op[op] = per_op.get(op, 0.0) + e.get("dur", 0) / 1000.0
    total = sum(per_op.values()) or 1.0
    return [{"op": op, "ms_per_text": ms / n, "share": ms / total} for op, ms in sorted(per_op.items(), key=lambda kv: -kv[1])]


def paired_vs_classical(main_cfg, static_dir: Path, classical_dir: Path) -> dict:
    """The static student's test macro-F1 minus the classical baseline's (paired bootstrap on the same texts)."""
    import numpy as np

    from ntmm_engine.api import load_predictor
    from ntmm_engine.data.prepare import prepare_data
    from ntmm_engine.inference.predictors import label_order
    from ntmm_engine.reports.intervals import paired_difference

    prepared = prepare_data(main_cfg.data, seed=main_cfg.seed, base_dir=main_cfg.base_dir)
    test = prepared.splits["test"]
    texts, labels = list(test["text"]), np.asarray(test["label"])
    preds = []
    for folder in (static_dir, classical_dir):
        p = load_predictor(folder)
        preds.append(p.logits(texts)[:, label_order(p.label_names, prepared.label_names)].argmax(-1))
    return paired_difference(labels, preds[0], preds[1], len(prepared.label_names))


def round_ratio(bench, slow: str, fast: str) -> dict:
    """How many times faster ``fast`` is than ``slow``, round by round (median and range)."""
    import numpy as np

    t = bench.rounds.timings if bench.rounds else {}
    if slow not in t or fast not in t:
        return {}
    pairs = [a / b for a, b in zip(t[slow].round_medians_ms, t[fast].round_medians_ms) if b > 0]
    return {"median": float(np.median(pairs)), "low": min(pairs), "high": max(pairs), "rounds": len(pairs)} if pairs else {}


def frontier_png(bench, path: Path, recommended: str, data: str) -> bool:
    """The frontier chart (matplotlib): log-x latency against macro-F1 with intervals, area ~ size.

    Points are numbered and listed on the right: names would overlap where variants cluster.
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no PNG")
        return False
    import textwrap

    from ntmm_engine.api import pareto_front

    rows = sorted([r for r in bench.rows if r.status == "ok" and r.latency_ms_median and r.macro_f1 is not None],
                  key=lambda r: r.latency_ms_median)
    front = pareto_front([(r.variant, r.latency_ms_median, r.macro_f1) for r in rows])
    fig, ax = plt.subplots(figsize=(12, 6.5), dpi=110)
    fig.subplots_adjust(left=0.07, right=0.72, top=0.86, bottom=0.1)
    top = max((r.size_bytes or 1) for r in rows)
    listing = []
    for i, r in enumerate(rows, start=1):
        color = "#444444" if r.variant.startswith("teacher") else "#8c564b" if r.variant.startswith("classical") else "#1f77b4"
        marker = "^" if r.variant.startswith("teacher") else "s" if r.variant.startswith("classical") else "o"
        lo, hi = (r.macro_f1_ci or [r.macro_f1, r.macro_f1])[:2]
        ax.errorbar(r.latency_ms_median, r.macro_f1, yerr=[[r.macro_f1 - lo], [hi - r.macro_f1]], fmt="none", ecolor="#999999",
                    elinewidth=1, capsize=3, zorder=1)
        ax.scatter(r.latency_ms_median, r.macro_f1, s=40 + 900 * (r.size_bytes or 0) / top, c=color, marker=marker,
                   alpha=0.35 if not bench.reliable else 0.75, edgecolors="#222222", zorder=2)
        rec = r.variant == recommended
        ax.annotate(str(i), (r.latency_ms_median, r.macro_f1), textcoords="offset points", xytext=(7, 3), fontsize=8,
                    color="#d62728" if rec else "#222222", weight="bold" if rec else "normal")
        if rec:
            ax.scatter(r.latency_ms_median, r.macro_f1, s=60 + 1100 * (r.size_bytes or 0) / top, facecolors="none",
                       edgecolors="#d62728", linewidths=2.5, zorder=3)
        size = f"{r.size_bytes / 1e6:.1f} MB" if r.size_bytes else ""
        listing.append(f"{i:>2} {r.variant}{' *' if r.variant in front else ''}{'  (recommended)' if rec else ''}\n"
                       f"    {r.latency_ms_median:.3g} ms, F1 {r.macro_f1:.3f}, {size}")
    by = {r.variant: r for r in rows}
    ax.plot([by[n].latency_ms_median for n in front], [by[n].macro_f1 for n in front], "--", color="#2ca02c", lw=1.5,
            label="frontier (* in the list)", zorder=0)
    ax.set_xscale("log")
    ax.set_xlabel("latency at batch 1, ms (median of the interleaved rounds; log scale)")
    ax.set_ylabel("test macro-F1 (bars: 95 % bootstrap interval)")
    title = f"Speed frontier on {data}: marker area ~ size on disk; red ring: recommended"
    if not bench.reliable:
        title += "\n" + "\n".join(textwrap.wrap(bench.unreliable_reason.upper()[:8] + bench.unreliable_reason[8:], 110)[:3])
    ax.set_title(title, fontsize=9.5, color="#d62728" if not bench.reliable else "black", loc="left")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.text(0.74, 0.86, "\n".join(listing), fontsize=7.2, family="monospace", va="top")
    fig.savefig(path)
    plt.close(fig)
    return True


# ------------------------------------------------------------------ main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--teacher", help="a fine-tuned teacher folder to reuse (default: train one)")
    ap.add_argument("--max-length", type=int, help="data.max_length (use the teacher's)")
    ap.add_argument("--config", help="a project file whose data settings to use (e.g. the teacher's run on a share of "
                                     "the training split); default: the full Medical Abstracts splits")
    ap.add_argument("--smoke", action="store_true", help="tiny synthetic data and models: checks the script in a minute or two")
    ap.add_argument("--work", help="folder for the run folders (default bench/results/runs/speed_frontier, or a temp folder with --smoke)")
    ap.add_argument("--out", help="folder for speed_frontier.{json,md,png} (default bench/results, or the work folder with --smoke)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--time-budget", type=float, default=300.0, help="seconds to repeat rounds while timings are unsteady")
    ap.add_argument("--samples", type=int, default=100, help="test texts timed at batch 1 per round")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()

    from ntmm_engine.api import (
        OptimizeResult,
        RunLayout,
        recommend,
        run_benchmark,
        run_classical,
        run_distill,
        run_optimize,
        run_teacher,
    )
    from ntmm_engine.benchmark.budget import Budget
    from ntmm_engine.benchmark.report import markdown_report
    from ntmm_engine.cli.console import ConsoleView

    t_start = time.monotonic()
    if args.smoke:
        work = Path(args.work or tempfile.mkdtemp(prefix="ntmm-speed-frontier-smoke-"))
        out_dir = Path(args.out or work)
        cfg = smoke_config(work)
    else:
        work = Path(args.work or RESULTS / "runs" / "speed_frontier")
        out_dir = Path(args.out or RESULTS)
        cfg = run_config(args.config, work / "main")
        cfg.run_dir = str((work / "main").resolve())
        b = cfg.benchmark
        b.num_samples, b.rounds, b.time_budget_s, b.threads = args.samples, args.rounds, args.time_budget, args.threads
    if args.max_length:
        cfg.data.max_length = args.max_length
    view = ConsoleView()
    cfg.distill.baseline = False  # the no-KD baseline is the distillation benchmark's subject, not this one's
    cfg.distill.num_layers = 2
    cfg.optimize.variants = ["onnx", "onnx_int8", "onnx_int8_unfused", "onnx_int8_pruned", "static"]

    # the teacher
    if args.teacher:
        teacher = Path(args.teacher).resolve()
        if not (teacher / "config.json").is_file():
            sys.exit(f"--teacher {teacher}: not a model folder")
    else:
        t_cfg = with_run(cfg, work / "teacher")
        print(run_teacher(t_cfg, view).summary_text())
        teacher = RunLayout(t_cfg.run_path).teacher_model
    cfg.distill.teacher = str(teacher)
    steps: dict[str, float] = {}

    def timed(name, fn, *a):
        t0 = time.monotonic()
        r = fn(*a)
        steps[name] = round(time.monotonic() - t0, 1)
        return r

    # 1. the classical baseline, the 2-layer student and its variants (the main run folder)
    timed("classical", run_classical, cfg, view)
    main_distill = timed("distill 2 layers", run_distill, cfg, view)
    print(main_distill.summary_text())
    main_opt: OptimizeResult = timed("optimize 2 layers", run_optimize, cfg, view)
    print(main_opt.summary_text())
    # 2. the teacher's ONNX variants (fused and unfused INT8), parity-checked against the teacher itself
    t_cfg = with_run(cfg, work / "teacher-opt")
    t_cfg.optimize.model = str(teacher)
    t_cfg.optimize.variants = ["onnx", "onnx_int8", "onnx_int8_unfused"]
    teacher_opt = timed("optimize teacher", run_optimize, t_cfg, view)
    print(teacher_opt.summary_text())
    # 3. a 1-layer student from the same shrink path, and a narrow fresh student (width projection in the loss)
    others = {}
    for tag, changes in (("d1", {"num_layers": 1}),
                         ("narrow", {"student": "fresh", "fresh_layers": 4, "fresh_hidden_size": 256, "fresh_heads": 4,
                                     "fresh_intermediate_size": 1024})):
        c = with_run(cfg, work / tag)
        for k, v in changes.items():
            setattr(c.distill, k, v)
        if args.smoke and tag == "narrow":
            c.distill.fresh_hidden_size, c.distill.fresh_heads, c.distill.fresh_intermediate_size = 32, 2, 64
        c.optimize.variants = ["onnx_int8"]
        timed(f"distill {tag}", run_distill, c, view)
        others[tag] = timed(f"optimize {tag}", run_optimize, c, view)
    # 4. one benchmark of every variant, in interleaved rounds
    tl, d1, nar = RunLayout(t_cfg.run_path), RunLayout(work / "d1"), RunLayout(work / "narrow")
    named = {"teacher_onnx": tl.variant_dir("student_onnx"), "teacher_onnx_int8": tl.variant_dir("student_onnx_int8"),
             "teacher_onnx_int8_unfused": tl.variant_dir("student_onnx_int8_unfused"),
             "student_1layer_fp32": d1.student_model, "student_1layer_onnx_int8": d1.variant_dir("student_onnx_int8"),
             "student_narrow_fp32": nar.student_model, "student_narrow_onnx_int8": nar.variant_dir("student_onnx_int8")}
    cfg.benchmark.variants = (["classical", f"teacher_fp32={teacher}", "student", "onnx", "onnx_int8", "onnx_int8_unfused", "onnx_int8_pruned",
                               "student_static"] + [f"{k}={v}" for k, v in named.items()])
    teacher_f1 = main_distill.teacher_metrics["test"]["macro_f1"]
    budgets = []
    for words, spec in EXAMPLE_BUDGETS:
        spec = {k: (round(teacher_f1 - 0.01, 4) if v is None else v) for k, v in spec.items()}
        budgets.append((words, Budget(**spec)))
    second = budgets[1][1]  # the run's own budget: its recommendation is the one ringed in the charts
    cfg.benchmark.budget_max_latency_ms, cfg.benchmark.budget_min_macro_f1 = second.max_latency_ms, second.min_macro_f1
    bench = timed("benchmark", run_benchmark, cfg, view)
    print(bench.summary_text())

    # 5. what the issue asks for
    rows = {r.variant: r for r in bench.rows if r.status == "ok"}
    choices = [{"asks": words, "limits": b.text(), **recommend(bench.rows, b, unreliable=bench.unreliable_reason).to_dict()}
               for words, b in budgets]
    close = [r for r in rows.values() if r.macro_f1 is not None and r.macro_f1 >= teacher_f1 - 0.01 and r.speedup_vs_teacher]
    best_close = max(close, key=lambda r: r.speedup_vs_teacher, default=None)
    static, classical, pruned = rows.get("student_static"), rows.get("classical_tfidf"), main_opt.variants.get("onnx_int8_pruned")
    fused_pairs = [("teacher", "teacher_onnx_int8_unfused", "teacher_onnx_int8"), ("2-layer student", "student_onnx_int8_unfused",
                                                                                   "student_onnx_int8")]
    fused = [{"model": m, "unfused": u, "fused": f, "unfused_ms": getattr(rows.get(u), "latency_ms_median", None),
              "fused_ms": getattr(rows.get(f), "latency_ms_median", None), "fused_speedup_paired": round_ratio(bench, u, f)}
             for m, u, f in fused_pairs]
    profile_target = next((r for r in sorted(close, key=lambda r: -r.speedup_vs_teacher) if r.kind == "onnx" and r.variant != "student_static"), None)
    profile = profile_onnx(Path(profile_target.path), _test_texts(cfg), threads=args.threads) if profile_target else []
    vs_classical = paired_vs_classical(cfg, RunLayout(cfg.run_path).variant_dir("student_static"), RunLayout(cfg.run_path).variant_dir("classical")) if static and classical else {}
    targets = {
        "10x_within_1_point": {"variant": best_close.variant if best_close else None,
                               "speedup": best_close.speedup_vs_teacher if best_close else None,
                               "macro_f1": best_close.macro_f1 if best_close else None, "teacher_macro_f1": teacher_f1,
                               "met": bool(best_close and best_close.speedup_vs_teacher >= 10)},
        "static_100x": {"speedup": static.speedup_vs_teacher if static else None, "macro_f1": static.macro_f1 if static else None,
                        "macro_f1_ci": static.macro_f1_ci if static else None, "met": bool(static and (static.speedup_vs_teacher or 0) >= 100)},
        "static_5_points_above_tfidf": {"static": static.macro_f1 if static else None, "classical": classical.macro_f1 if classical else None,
                                        "classical_ci": classical.macro_f1_ci if classical else None, "paired_difference": vs_classical,
                                        "met": bool(static and classical and static.macro_f1 - classical.macro_f1 >= 0.05)},
        "pruned_int8_8mb_99pct": {"size_bytes": pruned.size_bytes if pruned else None,
                                  "agreement_with_unpruned_int8": (pruned.agreement_with or {}).get("onnx_int8") if pruned else None,
                                  "vocabulary": pruned.vocabulary if pruned else {},
                                  "met": bool(pruned and pruned.size_bytes <= 8e6 and (pruned.agreement_with or {}).get("onnx_int8", 0) >= 0.99)},
    }
    name = "speed_frontier" + ("-smoke" if args.smoke else "")
    png = out_dir / f"{name}.png"
    out_dir.mkdir(parents=True, exist_ok=True)
    has_png = frontier_png(bench, png, bench.recommendation.variant if bench.recommendation else "",
                           "synthetic smoke data" if args.smoke else "Medical Abstracts (test split)")

    # 6. the report
    from ntmm_engine.api import pareto_front
    front = set(pareto_front([(r.variant, r.latency_ms_median, r.macro_f1) for r in rows.values() if r.latency_ms_median]))
    table_rows = [{"variant": r.variant, "median ms": r.latency_ms_median, "round spread": _pct(r.latency_spread),
                   "speed-up vs teacher (rounds)": _x(r), "test macro-F1 (95% CI)": _ci(r), "size MB": _mb(r.size_bytes),
                   "peak RAM MB": _mb(r.peak_rss_bytes), "frontier": "yes" if r.variant in front else ""}
                  for r in sorted(rows.values(), key=lambda r: r.latency_ms_median or 0)]
    lines = [f"Training data (teacher and students): {cfg.data.train}" + (f" (project {args.config})" if args.config else ""), "",
             f"Teacher: {teacher} (test macro-F1 {teacher_f1:.3f}); max_length {cfg.data.max_length}; "
             f"{bench.rounds.rounds if bench.rounds else 0} interleaved rounds of {cfg.benchmark.num_samples} texts at batch 1.", ""]
    if not bench.reliable:
        lines += [f"**{bench.unreliable_reason}** — do not publish these figures.", ""]
    lines += ["## Frontier", "", md_table(table_rows, list(table_rows[0]) if table_rows else []), "",
              f"Chart: {png.name}" if has_png else "", "", "## Fused vs unfused graph (ONNX Runtime INT8, same run)", "",
              md_table([{"model": f["model"], "unfused ms": f["unfused_ms"], "fused ms": f["fused_ms"],
                         "fused speed-up (paired rounds)": _range(f["fused_speedup_paired"])} for f in fused],
                       ["model", "unfused ms", "fused ms", "fused speed-up (paired rounds)"]), "",
              "## The budget's choice", "",
              md_table([{"a user asks for": c["asks"], "limits": c["limits"], "recommended": c["variant"] or "-", "why": c["reason"]}
                        for c in choices], ["a user asks for", "limits", "recommended", "why"]), "",
              "## Targets", ""]
    t = targets
    lines.append("- ≥ 10x faster than the fp32 teacher within 1 point of its macro-F1: "
                 + (f"{t['10x_within_1_point']['variant']} at {t['10x_within_1_point']['speedup']:.1f}x, macro-F1 "
                    f"{t['10x_within_1_point']['macro_f1']:.3f} — {'met' if t['10x_within_1_point']['met'] else 'not met'}"
                    if best_close else "no variant within a point of the teacher"))
    if profile:
        lines.append(f"  Where the time goes in {profile_target.variant} (ONNX Runtime profile, batch 1): "
                     + ", ".join(f"{p['op']} {p['share']:.0%}" for p in profile[:6]))
    if static:
        lines.append(f"- Static student ≥ 100x faster: {static.speedup_vs_teacher:.0f}x — {'met' if t['static_100x']['met'] else 'not met'}; "
                     f"macro-F1 {_ci(static)} against the classical baseline's {_ci(classical) if classical else '-'}"
                     + (f" (paired difference {vs_classical['difference'] * 100:+.1f} points, 95 % "
                        f"{vs_classical['ci'][0] * 100:+.1f} to {vs_classical['ci'][1] * 100:+.1f})" if vs_classical.get("ci") else "")
                     + f" — 5 points above TF-IDF {'met' if t['static_5_points_above_tfidf']['met'] else 'not met'}")
    if pruned:
        agree = (pruned.agreement_with or {}).get("onnx_int8")
        lines.append(f"- Vocabulary-pruned ONNX INT8: {pruned.size_bytes / 1e6:.2f} MB, agreement with the unpruned INT8 "
                     f"{agree:.2%}, {pruned.vocabulary.get('kept')} of {pruned.vocabulary.get('original')} word pieces kept "
                     f"— {'met' if t['pruned_int8_8mb_99pct']['met'] else 'not met'}" if agree is not None else "")
    lines += ["", f"Build and benchmark times (s): {json.dumps(steps)}", "", "## The benchmark", "", markdown_report(bench)]
    save(name, {"teacher": str(teacher), "train": cfg.data.train, "config": args.config, "max_length": cfg.data.max_length, "benchmark": bench.to_dict(),
                "optimize_main": main_opt.to_dict(), "optimize_teacher": teacher_opt.to_dict(),
                "optimize_others": {k: v.to_dict() for k, v in others.items()}, "fused_vs_unfused": fused,
                "budget_choices": choices, "targets": targets, "profile": {"variant": getattr(profile_target, "variant", None), "ops": profile},
                "steps_seconds": steps, "wall_seconds": time.monotonic() - t_start, "smoke": args.smoke},
         "\n".join(lines), folder=out_dir)
    if args.smoke and not args.work:
        print(f"Smoke run folders: {work}")


def _test_texts(cfg) -> list[str]:
    from ntmm_engine.data.prepare import prepare_data

    return list(prepare_data(cfg.data, seed=cfg.seed, base_dir=cfg.base_dir).splits["test"]["text"])


def _pct(v):
    return f"{v:.0%}" if isinstance(v, (int, float)) else "-"


def _mb(v):
    return round(v / 1e6, 2) if isinstance(v, (int, float)) else None


def _ci(r):
    if r is None or r.macro_f1 is None:
        return "-"
    return f"{r.macro_f1:.3f} ({r.macro_f1_ci[0]:.3f}–{r.macro_f1_ci[1]:.3f})" if len(r.macro_f1_ci or []) == 2 else f"{r.macro_f1:.3f}"


def _x(r):
    if r.speedup_vs_teacher is None:
        return "-"
    rng = r.speedup_vs_teacher_range
    return f"{r.speedup_vs_teacher:.1f}x" + (f" ({rng[0]:.1f}–{rng[1]:.1f})" if len(rng or []) == 2 and None not in rng else "")


def _range(d):
    return f"{d['median']:.2f}x ({d['low']:.2f}–{d['high']:.2f}, {d['rounds']} rounds)" if d else "-"


if __name__ == "__main__":
    main()
