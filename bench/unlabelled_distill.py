"""Distillation with unlabelled texts (data.unlabelled) on Medical Abstracts: does the transfer set pay?

    python bench/unlabelled_distill.py [--max-length 128] [--seeds 42 43 44] [--teacher PATH] [--teacher-20 RUN_DIR]
                                       [--no-sweep] [--no-full] [--b-settings JSON] [--teacher-20-name NAME] [--plan]
    python bench/unlabelled_distill.py --smoke      # minutes, on synthetic data and a tiny random model

A stratified 20 % of the shared training split is the labelled set (its labels); the other 80 % is
the unlabelled set (its texts only, labels dropped). The teacher (the bundled MiniLM, NTMM's recipe)
is trained on the labelled 20 %, then the 2-layer student is distilled
  (a) on the labelled set only,
  (b) on the labelled set plus the unlabelled set (the teacher labels it; soft loss only),
and the no-distillation baseline (the same student on the labelled set's hard labels) is trained,
each with 3 seeds. Scores are test macro-F1 with 95 % bootstrap intervals, mean ± sd over seeds, and
paired-bootstrap differences (b) − (a) and (b) − teacher per seed. Target: (b) >= (a) + 2 points and
within 1 point of its teacher. Once, (b) is also distilled from a teacher trained on the full labelled
split ("good teacher, few labels for the student"); ``--teacher PATH`` reuses such a teacher folder
(e.g. bench/results/runs/medical/teacher/model) instead of training one, and ``--teacher-20 RUN_DIR``
reuses the teacher of a project run on the same labelled 20 % (e.g. one built from ``recipe_auto.subset(0.2)``,
which draws the same stratified share) at the same max_length and seed 42. Unless ``--no-sweep``,
(b) is run once more (seed 42) with other settings of distill.unlabelled_weight and
distill.unlabelled_min_confidence, the best chosen on validation, for the defaults. ``--b-settings JSON``
repeats (b) over every seed with other distill settings (e.g. ``{"early_stopping_patience": 0}``), as a row of its own.
Teachers are not interchangeable (the project run reused with ``--teacher-20`` scored 0.530, this script's own
training 0.545, the same on two machines), so each teacher has a name (``--teacher-20-name``, default "20"; a new
name trains a new one) and (b) is compared only with the (a) and the teacher of the same name. The no-KD baseline
needs no teacher: it is trained once per seed.

The data stay in ../shared (the two subsets are written to a temporary folder). ``--max-length 128``
(default) halves the cost per step on 2 CPU cores; every model uses the same length. Results
accumulate in bench/results/unlabelled_distill.json as runs finish (with the wall time of each), so
an interrupted benchmark continues where it stopped when started again; the teachers stay in
bench/results/runs/unlabelled_distill/. ``--smoke`` writes unlabelled_distill-smoke.* (not to commit).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from common import CITATION, MEDICAL, RESULTS, md_table, medical_config, save

NAME = "unlabelled_distill"
TEXT, LABEL = "medical_abstract", "condition_label"
LABELLED_SHARE = 0.2
SWEEP = [{"unlabelled_weight": 0.5}, {"unlabelled_weight": 2.0}, {"unlabelled_min_confidence": 0.5}]


# ------------------------------------------------------------------ data
def split_train(src: Path, folder: Path, share: float, label: str, text: str) -> tuple[Path, Path, int, int]:
    """A stratified ``share`` of ``src`` with its labels, and the rest as texts only (labels dropped)."""
    from sklearn.model_selection import train_test_split

    rows = list(csv.DictReader(open(src, encoding="utf-8")))
    labelled, rest = train_test_split(rows, train_size=share, stratify=[r[label] for r in rows], random_state=0)
    lab, unl = folder / "labelled.csv", folder / "unlabelled.csv"
    with open(lab, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(labelled)
    with open(unl, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=[text])
        w.writeheader()
        w.writerows({text: r[text]} for r in rest)
    return lab, unl, len(labelled), len(rest)


SMOKE_WORDS = {"cardio": ["heart", "chest", "cardiac", "artery"], "neuro": ["brain", "headache", "seizure", "nerve"],
               "gastro": ["stomach", "liver", "bowel", "colon"]}
SMOKE_FILLER = ["patient", "reports", "with", "the", "mild", "severe", "days", "history", "of", "noted", "today"]


def smoke_data(folder: Path) -> dict[str, Path]:
    """Synthetic train/validation/test files in Medical Abstracts' columns, and a tiny random BERT to start from."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from ntmm_engine.core.models import bundled_minilm_path

    rng = random.Random(0)

    def rows(n: int, offset: int) -> list[dict]:
        out = []
        for k, (label, words) in enumerate(SMOKE_WORDS.items()):
            for i in range(n):
                toks = [rng.choice(SMOKE_FILLER) for _ in range(rng.randint(4, 9))] + rng.sample(words, 2) + [f"n{offset + i}"]
                rng.shuffle(toks)
                out.append({LABEL: str(k + 1), TEXT: " ".join(toks)})
        rng.shuffle(out)
        return out

    paths = {}
    for split, n, off in (("train", 40, 0), ("validation", 8, 1000), ("test", 8, 2000)):
        paths[split] = folder / f"{split}.csv"
        with open(paths[split], "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=[LABEL, TEXT])
            w.writeheader()
            w.writerows(rows(n, off))
    tok = AutoTokenizer.from_pretrained(bundled_minilm_path())
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                                                     num_attention_heads=2, intermediate_size=64, num_labels=3))
    paths["base"] = folder / "tiny-bert"
    model.save_pretrained(paths["base"])
    tok.save_pretrained(paths["base"])
    return paths


# ------------------------------------------------------------------ runs
def run_key(run: str, teacher: str, seed: int | None, settings: dict | None, max_length: int) -> dict:
    """How a run is found again in the results (a rerun skips the runs it finds)."""
    if run == "teacher":
        return {"run": "teacher", "teacher": teacher, "max_length": max_length}
    return {"run": run, "seed": seed, "teacher": teacher, "max_length": max_length, "settings": settings or {}}


class Bench:
    def __init__(self, args):
        self.args = args
        self.name = NAME + ("-smoke" if args.smoke else "")
        self.path = RESULTS / f"{self.name}.json"
        self.runs: list[dict] = json.loads(self.path.read_text())["runs"] if self.path.is_file() else []
        self.root = RESULTS / "runs" / self.name
        self.work = Path(tempfile.mkdtemp(prefix="ntmm-unlabelled-"))
        if args.smoke:
            self.files = smoke_data(self.work)
        else:
            if not (MEDICAL / "train.csv").is_file():
                raise SystemExit(f"Medical Abstracts not found at {MEDICAL} (set NTMM_MEDICAL_DATA)")
            self.files = {"train": MEDICAL / "train.csv", "validation": MEDICAL / "validation.csv", "test": MEDICAL / "test.csv"}
        self.labelled, self.unlabelled, self.n_labelled, self.n_unlabelled = split_train(
            self.files["train"], self.work, LABELLED_SHARE, LABEL, TEXT)
        self._test: tuple[list[str], list[int]] | None = None
        self._teacher_preds: dict[str, list[int]] = {}

    def config(self, run_dir: Path, train: Path, seed: int):
        cfg = medical_config(run_dir) if not self.args.smoke else self._smoke_config(run_dir)
        cfg.data.train = str(train)
        cfg.data.max_length = self.args.max_length
        cfg.seed = seed
        for section in (cfg.teacher, cfg.distill):
            section.logging_steps = 50 if not self.args.smoke else 5
            section.save_total_limit = 1
        if self.args.smoke:
            for section in (cfg.teacher, cfg.distill):
                section.epochs, section.learning_rate, section.batch_size, section.device = 2, 5e-3, 8, "cpu"
            cfg.distill.num_layers = 1
        return cfg

    def _smoke_config(self, run_dir: Path):
        from ntmm_engine.api import ProjectConfig

        cfg = ProjectConfig(name="unlabelled-smoke", run_dir=str(run_dir))
        cfg.base_dir = str(self.work)
        cfg.data.validation, cfg.data.test = str(self.files["validation"]), str(self.files["test"])
        cfg.data.text_column, cfg.data.label_column = TEXT, LABEL
        cfg.teacher.base_model = str(self.files["base"])
        return cfg

    def done(self, key: dict) -> dict | None:
        return next((r for r in self.runs if r["key"] == key), None)

    def record(self, r: dict) -> None:
        self.runs.append(r)
        self.save()

    # ---- the teacher
    def teacher(self, which: str) -> tuple[str, dict]:
        """The teacher model folder for "full" (the whole split, or --teacher) or a training on the labelled share
        ("20", or the name given by --teacher-20-name: each training of the same recipe is a teacher of its own)."""
        from ntmm_engine.api import run_teacher

        if which == "full" and self.args.teacher:
            return str(Path(self.args.teacher).resolve()), {"key": {"run": "teacher", "teacher": "given"}, "path": self.args.teacher}
        key = run_key("teacher", which, None, None, self.args.max_length)
        if which != "full" and self.args.teacher_20:
            return self._reuse_teacher(Path(self.args.teacher_20), key)
        run_dir = self.root / f"teacher-{which}"
        model = run_dir / "teacher" / "model"
        r = self.done(key)
        if r is not None and (model / "config.json").is_file():
            return str(model), r
        print(f"== teacher {which} on {'the full training split' if which == 'full' else 'the labelled 20 %'}", flush=True)
        cfg = self.config(run_dir, self.files["train"] if which == "full" else self.labelled, 42)
        wall = time.monotonic()
        res = run_teacher(cfg)
        shutil.rmtree(run_dir / "teacher" / "checkpoints", ignore_errors=True)
        test = res.metrics["test"]
        r = {"key": key, "examples": res.plan.examples, "steps": res.steps_done, "test_macro_f1": test["macro_f1"],
             "test_macro_f1_ci": test["macro_f1_ci"], "wall_s": round(time.monotonic() - wall, 1)}
        self.runs = [x for x in self.runs if x["key"] != key]
        self.record(r)
        return str(model), r

    def _reuse_teacher(self, run_dir: Path, key: dict) -> tuple[str, dict]:
        """The teacher of a run folder trained on the same labelled share: checked (examples, max_length, seed), then
        recorded with its own test score and wall time, so the report reads as if this script had trained it."""
        import yaml

        res = json.loads((run_dir / "teacher" / "result.json").read_text())
        # read as plain YAML: the run folder's copy names the run folder itself as run_dir, which load_config refuses
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
        found = (res["plan"]["examples"], cfg["data"]["max_length"], cfg.get("seed", 42))
        wanted = (self.n_labelled, self.args.max_length, 42)
        if found != wanted:
            raise SystemExit(f"--teacher-20 {run_dir}: (examples, max_length, seed) {found}, this benchmark needs {wanted}")
        test = res["metrics"]["test"]
        r = {"key": key, "examples": found[0], "steps": res["steps_done"], "test_macro_f1": test["macro_f1"],
             "test_macro_f1_ci": test["macro_f1_ci"], "wall_s": round(res["wall_seconds"], 1), "reused": str(run_dir)}
        self.runs = [x for x in self.runs if x["key"] != key]
        self.record(r)
        return str(run_dir / "teacher" / "model"), r

    # ---- one distillation
    def distill(self, variant: str, seed: int, teacher: str, teacher_name: str, settings: dict | None = None) -> dict:
        from ntmm_engine.api import load_predictor, run_distill
        from ntmm_engine.core.errors import NTMMError

        settings = settings or {}
        key = run_key(variant, teacher_name, seed, settings, self.args.max_length)
        r = self.done(key)
        if r is not None:
            return r
        print(f"== ({variant}) seed {seed}, teacher {teacher_name} {settings or ''}", flush=True)
        # one run folder per variant and teacher: the teacher's cached outputs are reused across seeds
        run_dir = self.root / f"{variant}-{teacher_name}"
        cfg = self.config(run_dir, self.labelled, seed)
        cfg.distill.teacher = teacher
        # the baseline is labelled-only and needs no teacher: trained once per seed, with the first (a)
        cfg.distill.baseline = variant == "a" and not any(
            x["key"].get("seed") == seed and "baseline" in x for x in self.runs)
        if variant == "b":
            cfg.data.unlabelled = [str(self.unlabelled)]
        for k, v in settings.items():
            setattr(cfg.distill, k, v)
        wall = time.monotonic()
        try:
            res = run_distill(cfg)
        except NTMMError as exc:  # e.g. no text passes a confidence threshold of the sweep: recorded, not retried
            r = {"key": key, "error": str(exc).splitlines()[0], "wall_s": round(time.monotonic() - wall, 1)}
            print(f"   failed: {r['error']}", flush=True)
            self.record(r)
            return r
        wall = time.monotonic() - wall
        texts, labels = self.test_split(cfg)

        def preds(folder):
            return [p.label_id for p in load_predictor(folder).predict(texts)]

        r = {"key": key, "wall_s": round(wall, 1), "labels": labels, "student": self._scores(res.student),
             "student_preds": preds(res.student.model_dir), "teacher_test_macro_f1": res.teacher_metrics["test"]["macro_f1"],
             "teacher_preds": self.teacher_preds(teacher, texts),
             "classical_test_macro_f1": res.classical_metrics["test"]["macro_f1"],
             "classical_test_macro_f1_ci": res.classical_metrics["test"]["macro_f1_ci"]}
        if res.baseline is not None:
            r["baseline"] = self._scores(res.baseline)
            r["baseline_preds"] = preds(res.baseline.model_dir)
        if res.unlabelled is not None:
            u = res.unlabelled
            r["unlabelled"] = {"texts": u.texts, "used": u.confident, "per_epoch": u.per_epoch, "dropped": u.dropped,
                               "shift": u.shift, "mean_confidence": u.mean_confidence,
                               "labelling_s": round(u.cache.get("seconds", 0.0), 1)}
        for part in ("checkpoints", "baseline_checkpoints"):
            shutil.rmtree(run_dir / "distill" / part, ignore_errors=True)
        self.record(r)
        return r

    def test_split(self, cfg) -> tuple[list[str], list[int]]:
        if self._test is None:
            from ntmm_engine.data.prepare import prepare_data

            p = prepare_data(cfg.data, seed=cfg.seed, base_dir=cfg.base_dir)
            self._test = (list(p.splits["test"]["text"]), [int(x) for x in p.splits["test"]["label"]])
        return self._test

    def teacher_preds(self, teacher: str, texts: list[str]) -> list[int]:
        if teacher not in self._teacher_preds:
            from ntmm_engine.api import load_predictor

            self._teacher_preds[teacher] = [p.label_id for p in load_predictor(teacher).predict(texts)]
        return self._teacher_preds[teacher]

    @staticmethod
    def _scores(part) -> dict:
        t, v = part.metrics["test"], part.metrics["validation"]
        return {"test_macro_f1": t["macro_f1"], "test_macro_f1_ci": t["macro_f1_ci"], "test_accuracy": t["accuracy"],
                "val_macro_f1": v["macro_f1"], "steps": part.steps_done, "examples": part.plan.examples if part.plan else None,
                "train_s": round(part.train_seconds or 0.0, 1)}

    # ---- the report
    def save(self) -> None:
        rows, runs_table, verdicts, paired = summarise(self.runs)
        save(self.name, {"runs": self.runs, "summary": rows, "verdicts": verdicts, "paired": paired,
                         "max_length": self.args.max_length,
                         "labelled": self.n_labelled, "unlabelled": self.n_unlabelled, "data": CITATION},
             md_table(rows, ["model", "teacher", "test macro-F1 mean", "sd", "seeds", "per seed (95 % interval)",
                             "wall s (mean)"])
             + "\n\n" + "\n".join(f"- {v}" for v in verdicts) + "\n\nPaired on the test split, per seed:\n\n"
             + "\n".join(f"- {v}" for v in paired)
             + "\n\nEvery run:\n\n" + md_table(runs_table, ["run", "seed", "teacher", "settings", "test macro-F1", "val macro-F1",
                                                            "steps", "examples/epoch", "wall s"])
             + f"\n\nMedical Abstracts: the labelled set is a stratified {LABELLED_SHARE:.0%} of the training split "
               f"({self.n_labelled} abstracts), the unlabelled set the other {self.n_unlabelled} (labels dropped); "
               f"validation and test as shared; max_length {self.args.max_length}; 2-layer student shrunk from the teacher "
               "(bundled all-MiniLM-L6-v2), NTMM's default recipe. Intervals: 95 % bootstrap; differences: paired bootstrap "
               "on the test split.")


def summarise(runs: list[dict]) -> tuple[list[dict], list[dict], list[str], list[str]]:
    """Rows, verdicts and per-seed paired differences per teacher: each (b) is compared with the (a) and the teacher
    of the same name.

    Two teachers on the same labelled share (a reused project run, this script's own training) differ by a point
    or two, so runs are only compared with the (a) and the teacher of the same name.
    """
    from ntmm_engine.reports.intervals import format_difference, format_score, paired_difference

    def sel_all(variant, teacher):
        return [r for r in runs if r["key"].get("run") == variant and r["key"].get("teacher") == teacher and "error" not in r]

    def sel(variant, teacher, settings=None):
        return sorted((r for r in sel_all(variant, teacher) if r["key"].get("settings", {}) == (settings or {})),
                      key=lambda r: r["key"]["seed"])

    def agg(scores):
        vals = [s["test_macro_f1"] for s in scores]
        return (statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0) if vals else (None, None)

    def row(name, teacher, scores, walls):
        m, sd = agg(scores)
        return {"model": name, "teacher": teacher, "test macro-F1 mean": None if m is None else round(m, 4),
                "sd": None if sd is None else round(sd, 4), "seeds": len(scores),
                "per seed (95 % interval)": "; ".join(format_score(s["test_macro_f1"], s["test_macro_f1_ci"]) for s in scores),
                "wall s (mean)": round(statistics.mean(walls)) if walls else None}

    def own_teacher(group):  # the teacher score each run stored for itself
        return statistics.mean(r["teacher_test_macro_f1"] for r in group)

    def b_name(settings):
        return "(b) student + unlabelled 80 %" + (f", {json.dumps(settings)}" if settings else "")

    trainings = [r["key"]["teacher"] for r in runs if r["key"].get("run") == "teacher" and r["key"]["teacher"] != "full"]
    baselines = sorted((r for r in runs if "baseline" in r), key=lambda r: r["key"]["seed"])
    any_a = next((r for r in runs if r["key"].get("run") == "a" and "error" not in r), None)
    rows = []
    if any_a:
        rows.append(row("classical TF-IDF (labelled 20 %)", "-", [{"test_macro_f1": any_a["classical_test_macro_f1"],
                                                                   "test_macro_f1_ci": any_a["classical_test_macro_f1_ci"]}], []))
    if baselines:
        rows.append(row("no-KD baseline (labelled 20 %, hard labels)", "-", [r["baseline"] for r in baselines], []))
    verdicts, paired = [], []
    for t in trainings:
        rec = next(r for r in runs if r["key"].get("run") == "teacher" and r["key"]["teacher"] == t)
        tname = f"{t} ({rec['test_macro_f1']:.3f})"
        how = "reused from a project run" if rec.get("reused") else "trained by this script"
        rows.append(row(f"teacher {t} (fine-tuned on the labelled 20 %, {how})", "-", [rec], [rec["wall_s"]]))
        a = sel("a", t)
        if a:
            rows.append(row("(a) student, labelled 20 % only", tname, [r["student"] for r in a], [r["wall_s"] for r in a]))
        groups: dict[str, list[dict]] = {}  # settings (JSON) -> its (b) runs, the defaults first
        for r in sorted(sel_all("b", t), key=lambda r: (len(r["key"]["settings"]), r["key"]["seed"])):
            groups.setdefault(json.dumps(r["key"]["settings"], sort_keys=True), []).append(r)
        for st, b in groups.items():
            rows.append(row(b_name(json.loads(st)), tname, [r["student"] for r in b], [r["wall_s"] for r in b]))
        pa = agg([r["student"] for r in a])[0] if a else None
        for st, b in groups.items():
            if len(b) < 2 or pa is None:
                continue
            mean, teach = agg([r["student"] for r in b])[0], own_teacher(b)
            gain, gap = mean - pa, mean - teach
            verdicts.append(f"teacher {t}: {b_name(json.loads(st))} ({len(b)} seeds) {mean:.3f} vs (a) {pa:.3f}: "
                            f"{gain * 100:+.1f} points (target >= +2: {'met' if gain >= 0.02 else 'MISSED'}); vs its teacher "
                            f"{teach:.3f}: {gap * 100:+.1f} points (target within 1 point: {'met' if gap >= -0.01 else 'MISSED'})")
        by_seed = {r["key"]["seed"]: r for r in baselines}
        for st, b in groups.items():
            for rb in b if len(b) > 1 else []:  # single-seed sweep runs get no paired line
                ra = next((r for r in a if r["key"]["seed"] == rb["key"]["seed"] and r["labels"] == rb["labels"]), None)
                if ra is None:
                    continue
                n = max(ra["labels"]) + 1
                d_ab = paired_difference(rb["labels"], rb["student_preds"], ra["student_preds"], n)
                d_bt = paired_difference(rb["labels"], rb["student_preds"], rb["teacher_preds"], n)
                kd = by_seed.get(rb["key"]["seed"])
                d_bk = paired_difference(rb["labels"], rb["student_preds"], kd["baseline_preds"], n) if kd else None
                paired.append(f"teacher {t}, {b_name(json.loads(st))}, seed {rb['key']['seed']}: "
                                f"(b) − (a) {format_difference(d_ab)}; (b) − teacher {format_difference(d_bt)}"
                                + (f"; (b) − no-KD baseline {format_difference(d_bk)}" if d_bk else ""))
        base = groups.get(json.dumps({}), [])
        if len(groups) > 1 and base:
            # settings compared on the seeds all of them ran, on validation (the test split only reports)
            seeds = set.intersection(*({r["key"]["seed"] for r in b} for b in groups.values()))
            cands = [(json.loads(st), [r for r in b if r["key"]["seed"] in seeds]) for st, b in groups.items()]

            def mean_of(b, field):
                return statistics.mean(r["student"][field] for r in b)
            best = max(cands, key=lambda c: mean_of(c[1], "val_macro_f1"))
            verdicts.append(f"teacher {t}: settings of (b) (chosen on validation macro-F1, mean over the seeds all of them ran): " + "; ".join(
                f"{json.dumps(st) if st else 'defaults'} ({len(b)} seed{'s' if len(b) > 1 else ''}): val "
                f"{mean_of(b, 'val_macro_f1'):.3f}, test {mean_of(b, 'test_macro_f1'):.3f}" for st, b in cands)
                + f". Best on validation: {json.dumps(best[0]) if best[0] else 'the defaults'}"
                + "".join(f" (tied with {json.dumps(st)}: the same checkpoint)" for st, b in cands
                          if st != best[0] and mean_of(b, "val_macro_f1") == mean_of(best[1], "val_macro_f1")))
    b_full = sel("b", "full") + sel("b", "given")
    if b_full:
        rows.append(row("(b) student + unlabelled 80 %, teacher on the full split", f"full ({own_teacher(b_full):.3f})",
                        [r["student"] for r in b_full], [r["wall_s"] for r in b_full]))
    verdicts += [f"{json.dumps(r['key']['settings'])}: not run ({r['error']})" for r in runs if "error" in r]
    walls = sum(r.get("wall_s", 0.0) for r in runs)
    verdicts.append(f"wall time of all runs: {walls / 60:.0f} min")
    return rows, [_run_row(r) for r in runs], verdicts, paired


def _run_row(r: dict) -> dict:
    """One line of the every-run table (a teacher's scores are at the top of its record, a student's under "student")."""
    s = r.get("student", r)
    return {"run": r["key"]["run"], "seed": r["key"].get("seed", 42), "teacher": r["key"]["teacher"],
            "settings": json.dumps(r["key"].get("settings") or {}), "test macro-F1": s.get("test_macro_f1"),
            "val macro-F1": s.get("val_macro_f1"), "steps": s.get("steps"), "examples/epoch": s.get("examples"),
            "wall s": r.get("wall_s")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    p.add_argument("--teacher", help="a teacher folder trained on the full training split, for the (b)-once run")
    p.add_argument("--teacher-20", help="a project run folder whose teacher was trained on the same labelled 20 %%")
    p.add_argument("--no-sweep", action="store_true", help="skip the settings of (b) tried for the defaults")
    p.add_argument("--no-full", action="store_true", help="skip the (b) run with a teacher trained on the full split")
    p.add_argument("--teacher-20-name", default="20", metavar="NAME",
                   help="name of the teacher training on the labelled 20 %% the runs use (a new name trains a new one, e.g. 20-t3)")
    p.add_argument("--smoke", action="store_true", help="synthetic data and a tiny model: checks the script in minutes")
    p.add_argument("--plan", action="store_true", help="print the runs still to do, and stop")
    p.add_argument("--b-settings", type=json.loads, default=None, metavar="JSON",
                   help='distill settings for (b) repeated over every seed and reported as their own row, e.g. '
                        '\'{"early_stopping_patience": 0}\'')
    args = p.parse_args()
    if args.smoke:
        args.seeds = args.seeds[:2]
    t20 = args.teacher_20_name
    schedule = ([("teacher", t20, None, None)]
                + [(v, t20, s, None) for s in args.seeds for v in ("a", "b")]
                + ([] if args.no_full else [("teacher", "full", None, None), ("b", "full", args.seeds[0], None)])
                + ([] if args.no_sweep else [("b", t20, args.seeds[0], st) for st in SWEEP])
                + ([("b", t20, s, args.b_settings) for s in args.seeds] if args.b_settings else []))
    if args.plan:
        path = RESULTS / f"{NAME}{'-smoke' if args.smoke else ''}.json"
        done = [r["key"] for r in json.loads(path.read_text())["runs"]] if path.is_file() else []
        for run, teacher, seed, settings in schedule:
            name = "given" if teacher == "full" and args.teacher and run != "teacher" else teacher
            if run == "teacher" and name == "full" and args.teacher:
                continue
            key = run_key(run, name, seed, settings, args.max_length)
            print(("done  " if key in done else "to do ") + json.dumps(key))
        return
    bench = Bench(args)
    teachers: dict[str, str] = {}
    for run, teacher, seed, settings in schedule:
        name = "given" if teacher == "full" and args.teacher else teacher
        if run == "teacher":
            # trained (or retrained, its folder being gone) only when a distillation still to do needs it
            needed = any(r != "teacher" and t == teacher and not bench.done(run_key(r, name, sd, st, args.max_length))
                         for r, t, sd, st in schedule)
            if needed or not bench.done(run_key("teacher", teacher, None, None, args.max_length)):
                teachers[teacher], _ = bench.teacher(teacher)
            continue
        if not bench.done(run_key(run, name, seed, settings, args.max_length)):
            bench.distill(run, seed, teachers[teacher], name, settings)
    bench.save()
    shutil.rmtree(bench.work, ignore_errors=True)


if __name__ == "__main__":
    main()
