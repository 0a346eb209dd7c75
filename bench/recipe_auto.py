"""The ``auto`` training recipe against the old fixed default and a grid, on Medical Abstracts at three sizes.

    python bench/recipe_auto.py [--sizes 0.2 0.5 1.0] [--recipes auto old grid] [--large-seeds 3] [--max-length 128] [--plan]

For each training size (the full train split, a stratified 50 % and 20 %):
* ``auto``: epochs auto, gradient accumulation auto (the new default),
* ``old``: the old fixed default, 4 epochs at batch 16 x accumulation 4, early stopping on the loss,
  evaluated once per epoch,
* a grid: epochs x accumulation x learning rate (18 points on 20 %, fewer on the larger sizes),
and the classical TF-IDF baseline. On 20 %, ``auto``, ``old`` and the best grid point are repeated
with 3 seeds (``auto`` and ``old`` on the larger sizes with ``--large-seeds``, 1 by default). Every run is a teacher (the bundled MiniLM) trained with NTMM's own job; scores are
test macro-F1 (and accuracy) with 95 % bootstrap intervals; wall and CPU seconds per run.

The data stay in ../shared (the subsets are written to a temporary folder). ``--max-length 128``
(default) halves the cost per step on 2 CPU cores; all runs use the same length, so the recipes
compare fairly, but absolute scores are below those at 256 tokens. Results accumulate in
bench/results/recipe_auto.json as runs finish, so an interrupted benchmark continues where it
stopped when started again.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
import time
from pathlib import Path

from common import CITATION, MEDICAL, RESULTS, md_table, medical_config, save

NAME = "recipe_auto"
SEEDS = (42, 43, 44)
GRID_20 = [dict(epochs=e, gradient_accumulation_steps=a, learning_rate=lr)
           for e in (4, 12, 28) for a in (1, 4) for lr in (1e-4, 2e-4, 4e-4)]
GRID_LARGE = [dict(epochs=3, gradient_accumulation_steps=1, learning_rate=2e-4),
              dict(epochs=10, gradient_accumulation_steps=1, learning_rate=2e-4),
              dict(epochs="auto", gradient_accumulation_steps="auto", learning_rate=1e-4),
              dict(epochs="auto", gradient_accumulation_steps="auto", learning_rate=4e-4)]
RECIPES = {
    "auto": dict(epochs="auto", gradient_accumulation_steps="auto"),
    # the recipe NTMM shipped before auto: 4 epochs of batch 16 x 4, early stopping on the loss, one evaluation per epoch
    "old": dict(epochs=4, gradient_accumulation_steps=4, learning_rate=2e-4, early_stopping_metric="loss", evaluations=4),
}


def subset(size: float, folder: Path) -> Path:
    """A stratified share of the training split as a CSV in ``folder`` (the full file for 1.0)."""
    src = MEDICAL / "train.csv"
    if size >= 1.0:
        return src
    from sklearn.model_selection import train_test_split

    rows = list(csv.DictReader(open(src, encoding="utf-8")))
    keep, _ = train_test_split(rows, train_size=size, stratify=[r["condition_label"] for r in rows], random_state=0)
    out = folder / f"train_{int(size * 100)}.csv"
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(keep)
    return out


def run_key(size: float, name: str, recipe: dict, seed: int) -> str:
    return json.dumps({"size": size, "name": name, "recipe": recipe, "seed": seed}, sort_keys=True)


def one_run(size: float, train: Path, name: str, recipe: dict, seed: int, max_length: int, work: Path) -> dict:
    from ntmm_engine.api import run_teacher

    cfg = medical_config(work / f"run_{abs(hash(run_key(size, name, recipe, seed)))}")
    cfg.data.train = str(train)
    cfg.data.max_length = max_length
    cfg.seed = seed
    t = cfg.teacher
    t.logging_steps = 50
    t.save_total_limit = 1
    for k, v in recipe.items():
        setattr(t, k, v)
    wall, cpu = time.monotonic(), time.process_time()
    r = run_teacher(cfg)
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    test, val = r.metrics["test"], r.metrics["validation"]
    out = {"size": size, "name": name, "recipe": recipe, "seed": seed, "examples": r.plan.examples,
           "steps_planned": r.plan.max_steps, "steps_done": r.steps_done, "best_step": r.best_step,
           "batch": r.plan.batch_size, "accumulation": r.plan.gradient_accumulation_steps, "epochs": round(r.plan.epochs, 2),
           "test_macro_f1": test["macro_f1"], "test_macro_f1_ci": test["macro_f1_ci"], "test_accuracy": test["accuracy"],
           "val_macro_f1": val["macro_f1"], "classical_test_macro_f1": r.classical["test"]["macro_f1"],
           "classical_test_macro_f1_ci": r.classical["test"]["macro_f1_ci"], "wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}
    import shutil
    shutil.rmtree(cfg.run_path, ignore_errors=True)  # checkpoints of 22M-parameter models add up
    return out


def schedule(sizes: list[float], large_seeds: int = 1) -> list[tuple[float, str, dict, int]]:
    """The runs, cheapest-first within each size; the best grid point's extra seeds are added later.

    ``auto`` and ``old`` run with 3 seeds on 20 % and ``large_seeds`` on the larger sizes."""
    plan = []
    for size in sizes:
        grid = GRID_20 if size <= 0.2 else GRID_LARGE
        seeds = SEEDS if size <= 0.2 else SEEDS[:large_seeds]
        for seed in seeds:
            plan += [(size, "auto", RECIPES["auto"], seed), (size, "old", RECIPES["old"], seed)]
        # cheapest first (fewest passes over the data: accumulation changes the steps, not the compute), so an
        # interrupted session leaves the most points done
        by_cost = sorted(grid, key=lambda g: g["epochs"] if g["epochs"] != "auto" else float("inf"))
        plan += [(size, "grid", g, SEEDS[0]) for g in by_cost]
    return plan


def best_grid(results: list[dict], size: float) -> dict | None:
    grid = [r for r in results if r["size"] == size and r["name"] == "grid" and r["seed"] == SEEDS[0]]
    return max(grid, key=lambda r: r["val_macro_f1"])["recipe"] if grid else None  # chosen on validation


def summarise(results: list[dict], sizes: list[float]) -> tuple[list[dict], list[str]]:
    rows, verdicts = [], []
    for size in sizes:
        rs = [r for r in results if r["size"] == size]
        if not rs:
            continue

        def agg(sel):
            vals = [r["test_macro_f1"] for r in sel]
            return (statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0, len(vals)) if vals else None
        best = best_grid(results, size)
        groups = {"auto": [r for r in rs if r["name"] == "auto"], "old default": [r for r in rs if r["name"] == "old"],
                  "best grid point": [r for r in rs if r["name"] in ("grid", "best") and r["recipe"] == best]}
        for label, sel in groups.items():
            a = agg(sel)
            if a is None:
                continue
            rows.append({"train share": f"{int(size * 100)} %", "recipe": label, "test macro-F1 mean": round(a[0], 4),
                         "sd": round(a[1], 4), "seeds": a[2],
                         "steps": ", ".join(sorted({str(r["steps_done"]) for r in sel})),
                         "recipe detail": _describe(sel[0]), "wall s (mean)": round(statistics.mean(r["wall_s"] for r in sel))})
        a, o, b = agg(groups["auto"]), agg(groups["old default"]), agg(groups["best grid point"])
        planned = len(GRID_20 if size <= 0.2 else GRID_LARGE)
        ran = len({json.dumps(r["recipe"], sort_keys=True) for r in rs if r["name"] == "grid"})
        if b and ran < planned:  # the best of a partial grid is no yardstick yet: say how far it got
            verdicts.append(f"{int(size * 100)} %: auto {a[0]:.3f} vs old default {o[0]:.3f} ({(a[0] - o[0]) * 100:+.1f} "
                            f"points; target: not below the old default {'met' if a[0] >= o[0] else 'MISSED'}); grid: "
                            f"{ran} of {planned} points run so far (best on validation so far: test {b[0]:.3f}), "
                            "not judged yet" if a and o else f"{int(size * 100)} %: grid {ran} of {planned} points run")
            rows = [r for r in rows if not (r["train share"] == f"{int(size * 100)} %" and r["recipe"] == "best grid point")]
            continue
        if a and o and not b:
            verdicts.append(f"{int(size * 100)} %: auto {a[0]:.3f} vs old default {o[0]:.3f} ({(a[0] - o[0]) * 100:+.1f} points; "
                            f"target: not below the old default {'met' if a[0] >= o[0] else 'MISSED'}); grid not run yet")
        if a and o and b:
            verdicts.append(f"{int(size * 100)} %: auto {a[0]:.3f} vs old default {o[0]:.3f} ({(a[0] - o[0]) * 100:+.1f} points) "
                            f"and best grid point {b[0]:.3f} ({(a[0] - b[0]) * 100:+.1f} points; target: not below the old "
                            f"default {'met' if a[0] >= o[0] else 'MISSED'}, within 1 point of the best grid point "
                            f"{'met' if a[0] >= b[0] - 0.01 else 'MISSED'})")
    return rows, verdicts


def grid_table(results: list[dict], size: float) -> list[dict]:
    """The grid points run at ``size`` (seed 42) as rows of epochs x accumulation with one column per learning rate:
    "validation / test macro-F1 (steps run)", so a reader sees which way each setting pulls."""
    grid = GRID_20 if size <= 0.2 else GRID_LARGE
    rates = sorted({g["learning_rate"] for g in grid})
    done = {run_key(size, "grid", r["recipe"], r["seed"]): r for r in results if r["name"] == "grid"}
    rows = []
    for epochs, acc in dict.fromkeys((g["epochs"], g["gradient_accumulation_steps"]) for g in grid):
        row = {"epochs x accumulation": f"{epochs} x {acc}"}
        for lr in rates:
            g = {"epochs": epochs, "gradient_accumulation_steps": acc, "learning_rate": lr}
            r = done.get(run_key(size, "grid", g, SEEDS[0])) if g in grid else None
            row[f"lr {lr:g}"] = (f"{r['val_macro_f1']:.3f} / {r['test_macro_f1']:.3f} ({r['steps_done']})" if r
                                 else "not run" if g in grid else "")
        rows.append(row)
    return rows if any(r["name"] == "grid" and r["size"] == size for r in results) else []


def _describe(r: dict) -> str:
    rec = r["recipe"]
    return (f"{r['steps_planned']} steps planned, batch {r['batch']} x {r['accumulation']}, "
            f"lr {rec.get('learning_rate', 2e-4):g}" + (f", epochs {rec['epochs']}" if rec.get("epochs") != "auto" else ", epochs auto"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=float, nargs="+", default=[0.2, 0.5, 1.0])
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--recipes", nargs="+", choices=["auto", "old", "grid"], default=["auto", "old", "grid"],
                   help="which runs of the schedule to do now (the rest stay to do; e.g. auto old first)")
    p.add_argument("--large-seeds", type=int, choices=(1, 2, 3), default=1,
                   help="seeds of auto and old on the sizes above 20 %% (3 on 20 %%)")
    p.add_argument("--rewrite", action="store_true", help="rewrite the JSON and Markdown from the runs done, and stop")
    p.add_argument("--plan", action="store_true", help="print the runs that are still to do, and stop")
    args = p.parse_args()
    path = RESULTS / f"{NAME}.json"
    results: list[dict] = json.loads(path.read_text())["runs"] if path.is_file() else []
    done = {run_key(r["size"], r["name"], r["recipe"], r["seed"]) for r in results}
    work = Path(tempfile.mkdtemp(prefix="ntmm-recipe-"))
    todo = [s for s in schedule(args.sizes, args.large_seeds) if run_key(*s) not in done and s[1] in args.recipes]
    if args.plan:
        for s in todo:
            print(s)
        return
    trains = {size: subset(size, work) for size in args.sizes}

    def record(r: dict | None) -> None:
        if r is not None:
            results.append(r)
        sizes_run = sorted({x["size"] for x in results})
        rows, verdicts = summarise(results, sizes_run)  # every size run so far
        grids = {str(size): g for size in sizes_run if (g := grid_table(results, size))}
        grid_md = "".join(f"\n\nGrid at {int(float(size) * 100)} % (seed {SEEDS[0]}; validation / test macro-F1, "
                          f"steps run in brackets):\n\n" + md_table(g, list(g[0])) for size, g in grids.items())
        save(NAME, {"runs": results, "summary": rows, "verdicts": verdicts, "grids": grids, "max_length": args.max_length,
                    "data": CITATION},
             md_table(rows, ["train share", "recipe", "test macro-F1 mean", "sd", "seeds", "steps", "recipe detail",
                             "wall s (mean)"])
             + "\n\n" + "\n".join(f"- {v}" for v in verdicts) + grid_md
             + "\n\nEvery run:\n\n" + md_table(results, ["size", "name", "seed", "steps_planned", "steps_done",
                                                          "accumulation", "epochs", "test_macro_f1", "val_macro_f1",
                                                          "classical_test_macro_f1", "wall_s", "cpu_s"])
             + f"\n\nTeacher: bundled all-MiniLM-L6-v2, max_length {args.max_length}, test split of 288 abstracts. "
               "Classical = TF-IDF + logistic regression on the same training texts.")

    if args.rewrite:
        record(None)
        return
    for size, name, recipe, seed in todo:
        print(f"== {int(size * 100)} % {name} {recipe} seed {seed}", flush=True)
        record(one_run(size, trains[size], name, recipe, seed, args.max_length, work))
    for size in (args.sizes if "grid" in args.recipes else ()):  # the best grid point (chosen on validation), other seeds
        best = best_grid(results, size)
        for seed in (SEEDS[1:] if size <= 0.2 and best else ()):
            if run_key(size, "best", best, seed) not in {run_key(r["size"], r["name"], r["recipe"], r["seed"]) for r in results}:
                print(f"== {int(size * 100)} % best grid point {best} seed {seed}", flush=True)
                record(one_run(size, trains[size], "best", best, seed, args.max_length, work))


if __name__ == "__main__":
    main()
