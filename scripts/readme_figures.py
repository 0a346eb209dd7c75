"""Regenerate the benchmark figures in README.md from the committed results in bench/results/.

Every figure the README quotes from a bench script sits in a region

    <!-- figures:NAME -->generated text<!-- /figures -->

and is written by the function registered here under NAME, from the JSON
results it names. A region whose opening marker ends its line is a block
(paragraphs or a table between the marker lines); otherwise it is inline,
inside a hand-written sentence.

    python scripts/readme_figures.py          # rewrite README.md in place
    python scripts/readme_figures.py --check  # exit 1 and print a diff if README.md is out of date
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import textwrap
from pathlib import Path
from statistics import mean

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RESULTS = ROOT / "bench" / "results"

CLOSE = "<!-- /figures -->"
REGION = re.compile(r"<!-- figures:(?P<name>[\w-]+) -->(?P<body>.*?)" + re.escape(CLOSE), re.DOTALL)
MARKER = re.compile(r"<!-- /?figures(:[\w-]+)? -->")
# A generated line must not start like this: inside a paragraph, Markdown would read it as the start
# of an HTML block (so the rest of the line would not be Markdown), a list item or a heading.
BAD_LINE_START = re.compile(r"\s*(<!--|[-+*]\s|\d+[.)]\s|#{1,6}\s)")
WIDTH = 100  # the README's hand-written prose is wrapped at this width


class FiguresError(Exception):
    """The README's markers and the registered figures do not fit together."""


# name -> (function, result files it reads); a function gets the parsed files in that order
FIGURES: dict[str, tuple] = {}


def figure(name: str, *sources: str):
    def register(fn):
        FIGURES[name] = (fn, sources)
        return fn
    return register


# ------------------------------------------------------------------ number formats
def ms(x: float) -> str:
    """Milliseconds as the README writes them: whole numbers from 10 ms, one decimal below."""
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def span(values, fmt=ms, unit: str = "") -> str:
    """'lo–hi' (en dash), or one value when both ends print the same."""
    lo, hi = fmt(min(values)), fmt(max(values))
    return f"{lo}{unit}" if lo == hi else f"{lo}–{hi}{unit}"


def listing(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def count_word(n: int) -> str:
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    return words[n] if 0 <= n < len(words) else str(n)


def lr(x: float) -> str:
    """A learning rate in the config's style: 8.9e-4, 2e-4."""
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa.removesuffix('.0')}e{int(exponent)}"


def f1(x: float) -> str:
    return f"{x:.3f}"


def wrap(text: str, first_column: int = 0, indent: str = "", tail: int = 0) -> str:
    """Wrap like the hand-written prose: never inside a word, at a hyphen or inside a `code span`.

    ``first_column`` is where the text starts on its first line (an inline
    region continues a hand-written line), ``indent`` starts the others, and
    ``tail`` characters (the closing marker) follow the last word.
    """
    glued = re.sub(r"`[^`]*`", lambda m: m[0].replace(" ", "\0"), " ".join(text.split()))
    # The tail is glued to the last word so that it never starts a line of its own.
    out = textwrap.fill(glued + "\1" * tail, WIDTH, initial_indent=" " * first_column, subsequent_indent=indent,
                        break_long_words=False, break_on_hyphens=False)
    return out[first_column:].replace("\0", " ").replace("\1", "")


def cores(data: dict) -> str:
    return f"{data['machine']['cpu_count']}-core CPU"


# ------------------------------------------------------------------ the figures
@figure("teacher_params", "distill_medical.json")
def teacher_params(distill: dict) -> str:
    return f"{distill['result']['parameters']['teacher'] / 1e6:.1f}M"


@figure("gui_startup", "gui_startup.json")
def gui_startup(startup: dict) -> str:
    s = startup["summary"]
    return wrap(f"Start-up (`python bench/gui_startup.py`, {cores(startup)}): the window is shown in "
                f"{s['median_s']:.2f} s (median of {len(startup['runs'])} starts).")


def _command(settings: dict) -> str:
    """The responsiveness bench's command line, rebuilt from the settings it recorded."""
    args = ["python bench/gui_responsiveness.py"]
    if settings.get("real"):
        args.append("--real")
    args.append(f"--runs {settings['runs']}")
    if settings.get("job_nice") is not None:
        args.append(f"--job-nice {settings['job_nice']}")
    if settings.get("tag"):
        args.append(f"--tag {settings['tag']}")
    return " ".join(args)


@figure("gui_responsiveness_real", "gui_responsiveness-real.json")
def gui_responsiveness_real(real: dict) -> str:
    runs = real["runs"]
    gaps = listing([ms(r["largest_gap_ms"]) for r in sorted(runs, key=lambda r: r["largest_gap_ms"])])
    return wrap(f"During a real teacher run on the demo project (`{_command(real['settings'])}`, {cores(real)}), "
                f"the longest gap between ticks was {gaps} ms in {count_word(len(runs))} runs, and 99% of ticks "
                f"were less than {max(r['tick_lateness_ms_p99'] for r in runs):.1f} ms late.")


@figure("gui_responsiveness_synthetic", "gui_responsiveness.json")
def gui_responsiveness_synthetic(synthetic: dict) -> str:
    runs = synthetic["runs"]
    return wrap(f"A synthetic job flooding the Distill page with {synthetic['settings']['rate']:,.0f} events/s "
                f"(`{_command(synthetic['settings'])}`): longest gap "
                f"{span([r['largest_gap_ms'] for r in runs], unit=' ms')} in {count_word(len(runs))} runs.")


@figure("plot_redraw", "plot_redraw.json")
def plot_redraw(redraw: dict) -> str:
    s = redraw["stats"]
    return (f"{ms(s['translucent']['median_ms'])} ms against {ms(s['opaque']['median_ms'])} ms (median of "
            f"{s['opaque']['redraws']} redraws, `python bench/plot_redraw.py`: {redraw['translucent_over_opaque']:.2f}x)")


@figure("job_nice", "gui_responsiveness-real.json", "gui_responsiveness-real-nice0.json")
def job_nice(nice: dict, equal: dict) -> str:
    """The default job priority (nice 10) against equal priority: two runs of the same bench."""
    def p99(d):
        return span([r["tick_lateness_ms_p99"] for r in d["runs"]], fmt=lambda x: f"{x:.1f}")

    def gaps(d):
        return span([r["largest_gap_ms"] for r in d["runs"]])

    def job_seconds(d):
        return f"{mean(r['seconds'] for r in d['runs']):.1f}"

    return (f"99th-percentile tick lateness {p99(nice)} ms, against {p99(equal)} ms at equal priority "
            f"(`--job-nice {equal['settings']['job_nice']} --tag {equal['settings']['tag']}`, "
            f"{count_word(len(equal['runs']))} runs); the longest gaps were {gaps(nice)} ms against {gaps(equal)} ms. "
            f"The teacher run took {job_seconds(nice)} s on average against {job_seconds(equal)} s at equal priority")


@figure("warmup_stall", "gui_responsiveness-real.json")
def warmup_stall(real: dict) -> str:
    return span([r["warmup"]["largest_gap_ms"] / 1000 for r in real["runs"]], fmt=lambda x: f"{x:.2f}", unit=" s")


@figure("lr_find", "lr_find_medical.json")
def lr_find(found: dict) -> str:
    res, settings = found["result"], found["settings"]
    diverged = res["stopped_reason"].startswith("diverged")
    at = found["teacher_at_suggestion"]
    return (f"a range test of {settings['steps']} steps from {lr(settings['start_lr'])} to {settings['end_lr']:g} "
            f"suggests **{lr(res['suggestion'])}**: "
            f"{found['suggestion_over_chosen']:.1f}x the recipe default of {lr(found['chosen_lr'])} that the reference "
            f"teacher was trained with. The lowest smoothed loss is at {lr(res['min_loss_lr'])}"
            + (f", and the test diverged at {res['lrs'][-1]:.2g}" if diverged else "") + ". "
            f"The teacher trained at {lr(at['learning_rate'])} reaches test macro-F1 {f1(at['metrics']['test']['macro_f1'])}")


@figure("teacher_medical", "teacher_medical.json")
def teacher_medical(teacher: dict) -> str:
    t = teacher["teacher"]
    return f"{f1(t['metrics']['test']['macro_f1'])} at {lr(t['recipe']['learning_rate'])}"


@figure("recipe_auto", "recipe_auto.json")
def recipe_auto(bench: dict) -> str:
    """The summary table of bench/recipe_auto.py and its verdicts against the issue's target."""
    head = ["train share", "recipe", "test macro-F1 (mean of seeds)", "sd", "seeds", "steps run", "wall s per run"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in bench["summary"]:
        rows.append(f"| {r['train share']} | {r['recipe']} | {f1(r['test macro-F1 mean'])} | {r['sd']:.3f} | "
                    f"{r['seeds']} | {r['steps']} | {r['wall s (mean)']} |")
    sizes = sorted({r["size"] for r in bench["runs"]})
    text = (f"`python bench/recipe_auto.py` ({bench['machine']['cpu']}, max_length {bench['max_length']}, "
            f"{len(bench['runs'])} teacher runs over training shares {listing([f'{int(s * 100)} %' for s in sizes])}; "
            "the best grid point is chosen on validation):")
    verdicts = "\n".join(wrap(v) for v in bench["verdicts"]) if bench["verdicts"] else "No size has all three recipes yet."
    grids = ""
    for size, grid in (bench.get("grids") or {}).items():  # rows as bench/recipe_auto.py wrote them
        cols = list(grid[0])
        grids += (f"\n\nThe grid at {int(float(size) * 100)} % (seed 42; validation / test macro-F1, steps run in "
                  "brackets):\n\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
                  + "\n".join("| " + " | ".join(g[c] for c in cols) + " |" for g in grid))
    return "\n" + wrap(text) + "\n\n" + "\n".join(rows) + "\n\n" + verdicts + grids + "\n"


@figure("distill_aug", "distill_medical-aug.json", "distill_medical.json")
def distill_aug(aug: dict, plain: dict) -> str:
    """Augmented against plain distillation: the same bench without the augmentation override."""
    def test_f1(d, model):
        return d["result"][model]["metrics"]["test"]["macro_f1"]

    deltas = [test_f1(aug, m) - test_f1(plain, m) for m in ("student", "baseline")]
    # The verdict follows the numbers, so that a new result cannot leave a stale claim behind.
    size = "slightly " if max(abs(d) for d in deltas) < 0.02 else ""
    verdict = (f"it {size}hurts both students" if all(d < 0 for d in deltas)
               else f"it {size}helps both students" if all(d > 0 for d in deltas) else "it helps one student and hurts the other")
    return (f"{verdict}. Test macro-F1 with vs without it: "
            f"distilled student {f1(test_f1(aug, 'student'))} vs {f1(test_f1(plain, 'student'))}, "
            f"hard-label baseline {f1(test_f1(aug, 'baseline'))} vs {f1(test_f1(plain, 'baseline'))}")


@figure("calibration_medical", "calibration_medical-20pct-len128.json")
def calibration_medical(bench: dict) -> str:
    """ECE before and after temperature scaling per model, and the verdict against the issue's target."""
    floor = all("ece_noise_floor" in r for r in bench["rows"])
    head = (["model", "kind", "T", "test accuracy", "test ECE before", "after"]
            + (["perfectly calibrated: 95th pct"] if floor else []) + ["Brier before", "after", "NLL before", "after"])
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in bench["rows"]:
        rows.append(f"| {r['variant']} | {r['kind']} | {r['temperature']:.2f} | {r['test_accuracy']:.3f} | {r['ece_before']:.3f} | "
                    f"{r['ece_after']:.3f} | " + (f"{r['ece_noise_floor']['p95']:.3f} | " if floor else "")
                    + f"{r['brier_before']:.3f} | {r['brier_after']:.3f} | {r['nll_before']:.3f} | {r['nll_after']:.3f} |")
    lowered = sum(r["ece_after"] < r["ece_before"] for r in bench["rows"])
    text = (f"`python bench/calibration_medical.py --config PROJECT --tag 20pct-len128` ({bench['machine']['cpu']}; "
            "one `ntmm pipeline` run whose teacher, students and variants were trained on a stratified 20 % of the "
            f"training split at max_length 128; {bench['rows'][0]['test_examples']} test texts):")
    verdict = (f"Temperature scaling lowers the test ECE of {lowered} of {len(bench['rows'])} models. "
               f"{bench['note']}")
    return "\n" + wrap(text) + "\n\n" + "\n".join(rows) + "\n\n" + wrap(verdict) + "\n"


@figure("explain_latency", "explain_latency.json")
def explain_latency(bench: dict) -> str:
    """Median seconds of one explanation per model on 100-word texts."""
    parts = [f"{r['model']} {r['median_s']:.2g} s" for r in bench["rows"]]
    return (f"median time of one explanation of a {bench['words']}-word test text ({bench['machine']['cpu']}, "
            f"{len(bench['rows'])} models): {listing(parts)}")


@figure("speed_frontier", "speed_frontier.json")
def speed_frontier(bench: dict) -> str:
    """The frontier run's set-up, its reliability verdict and the issue's three targets."""
    t = bench["targets"]
    b = bench["benchmark"]
    close, static, pruned = t["10x_within_1_point"], t["static_100x"], t["pruned_int8_8mb_99pct"]
    tfidf = t["static_5_points_above_tfidf"]
    diff = tfidf["paired_difference"]
    text = [f"{bench['machine']['cpu']}, {bench['machine']['cpu_count']} cores; teacher and students trained on "
            f"{Path(bench['train']).name if bench.get('train') else 'the training split'}, max_length {bench['max_length']}; "
            f"{len(b['rows'])} models in one benchmark of interleaved rounds."
            + ("" if b["reliable"] else f" The benchmark judged its own timings unreliable ({b['unreliable_reason']}),"
               " so the ratios below are indicative, not publishable."),
            f"Fastest variant within a point of the teacher: {close['variant']} at {close['speedup']:.1f}x "
            f"(target 10x: {'met' if close['met'] else 'not met'}).",
            f"Static student: {static['speedup']:.0f}x the teacher's speed (target 100x: {'met' if static['met'] else 'not met'}), "
            f"macro-F1 {f1(static['macro_f1'])} against TF-IDF's {f1(tfidf['classical'])}, a paired difference of "
            f"{diff['difference'] * 100:+.1f} points ({diff['interval'][0] * 100:+.1f} to {diff['interval'][1] * 100:+.1f}; "
            f"target +5: {'met' if tfidf['met'] else 'not met'}).",
            f"Vocabulary-pruned ONNX INT8: {pruned['size_bytes'] / 1e6:.1f} MB, {pruned['vocabulary']['kept']} of "
            f"{pruned['vocabulary']['original']} word pieces, agreement with the unpruned INT8 "
            f"{pruned['agreement_with_unpruned_int8']:.1%} (target 8 MB and 99 %: {'met' if pruned['met'] else 'not met'})."]
    return "\n" + "\n".join(wrap(x) for x in text) + "\n"


@figure("vocab_pruning", "vocab_pruning-20pct-len128.json", "vocab_pruning-full-train-len128.json")
def vocab_pruning(small: dict, full: dict) -> str:
    """The two ways of pruning the vocabulary, measured on two students: pieces from 346 and from 1,733 texts."""
    text = []
    for bench, who in ((small, "the 20 % chain's 2-layer student"),
                       (full, "the 2-layer student distilled with the unlabelled texts from the full-split teacher")):
        old, new = bench["rows"]
        text.append(f"On {who} ({old['pieces kept']} of {old['of']} word pieces kept, from {bench['vocab_texts']} "
                    f"training texts), agreement with the unpruned INT8 on {bench['test_texts']} test texts: "
                    f"{old['INT8 agreement']:.1%} ({old['INT8 changed']} changed) with a smaller tokenizer, "
                    f"{new['INT8 agreement']:.1%} ({new['INT8 changed']} changed) with the id table; model.onnx "
                    f"{old['INT8 MB']:.2f} and {new['INT8 MB']:.2f} MB (in fp32: {old['fp32 agreement']:.1%} and "
                    f"{new['fp32 agreement']:.1%}).")
    new = full["rows"][1]
    met = new["INT8 agreement"] >= 0.99 and new["INT8 MB"] <= 8
    text.append(f"Target 8 MB and 99 %: {'met' if met else 'not met'} with the full split's pieces; "
                f"{'met' if small['rows'][1]['INT8 agreement'] >= 0.99 else 'not met'} with 346 texts' pieces.")
    return "\n" + "\n".join(wrap(x) for x in text) + "\n"


@figure("unlabelled_distill", "unlabelled_distill.json")
def unlabelled_distill(bench: dict) -> str:
    """The transfer-set benchmark: its table of means over seeds and its verdicts on the targets
    (the per-seed paired differences, ``paired``, stay in bench/results/unlabelled_distill.md)."""
    lines = ["", "| model | teacher (its test macro-F1) | test macro-F1, mean ± sd | seeds | per seed (95 % interval) | wall s (mean) |",
             "|---|---|---|---|---|---|"]
    for r in bench["summary"]:
        mean = "" if r["test macro-F1 mean"] is None else f"{r['test macro-F1 mean']:.3f}" + (
            f" ± {r['sd']:.3f}" if r["seeds"] > 1 else "")
        lines.append(f"| {r['model']} | {r['teacher']} | {mean} | {r['seeds']} | {r['per seed (95 % interval)']} | "
                     f"{'' if r['wall s (mean)'] is None else r['wall s (mean)']} |")
    for v in bench["verdicts"]:
        lines += ["", wrap(v[:1].upper() + v[1:].rstrip(".") + ".")]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ the README
def _indent_at(text: str, pos: int) -> str:
    """Indentation for continuation lines of an inline region opening at ``pos`` (inside a list item: 2 more)."""
    line = text[text.rfind("\n", 0, pos) + 1:pos]
    indent = line[:len(line) - len(line.lstrip())]
    return indent + "  " if line.lstrip().startswith(("- ", "* ")) else indent


def render(text: str, results: Path = RESULTS) -> str:
    """``text`` (the README) with every figure region regenerated from ``results``."""
    cache: dict[str, dict] = {}

    def load(name: str) -> dict:
        if name not in cache:
            path = results / name
            if not path.is_file():
                raise FiguresError(f"{path} is missing")
            cache[name] = json.loads(path.read_text(encoding="utf-8"))
        return cache[name]

    seen: list[str] = []

    def regenerate(m: re.Match) -> str:
        name, body = m["name"], m["body"]
        if name not in FIGURES:
            raise FiguresError(f"README.md has a region 'figures:{name}' that {Path(__file__).name} does not know")
        if MARKER.search(body):
            raise FiguresError(f"region 'figures:{name}' is not closed before the next marker")
        seen.append(name)
        fn, sources = FIGURES[name]
        out = fn(*(load(s) for s in sources)).strip("\n")
        block = body.startswith("\n")
        if not block:
            line = text[text.rfind("\n", 0, m.start()) + 1:m.start()]
            if line.strip() in ("", "-", "*"):  # a comment opening a line would make the whole line raw HTML
                raise FiguresError(f"inline region 'figures:{name}' must not open a line: put text before it")
            # wrapped from where the region starts; continuation lines indented like the text around them
            out = wrap(out, len(line) + len(f"<!-- figures:{name} -->"), _indent_at(text, m.start()), len(CLOSE))
        # An inline region's first line continues a hand-written one; a table block's rows start with '|'.
        lines = out.split("\n") if block and not out.startswith("|") else out.split("\n")[1:]
        bad = [line for line in lines if BAD_LINE_START.match(line)]
        if bad:
            raise FiguresError(f"figures:{name} would start a line with Markdown syntax: {bad[0]!r}")
        return f"<!-- figures:{name} -->" + (f"\n{out}\n" if block else out) + CLOSE

    new = REGION.sub(regenerate, text)
    stray = MARKER.findall(REGION.sub("", text))
    if stray:
        raise FiguresError(f"README.md has {len(stray)} unpaired figures marker(s)")
    missing = sorted(set(FIGURES) - set(seen))
    if missing:
        raise FiguresError(f"README.md has no region for: {', '.join(missing)}")
    return new


def check(readme: Path = README, results: Path = RESULTS) -> str:
    """A unified diff from README.md to what the results say ('' when they agree)."""
    old = readme.read_text(encoding="utf-8")
    new = render(old, results)
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=f"{readme.name} (committed)", tofile=f"{readme.name} (from bench/results)"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="do not write; exit 1 and print a diff if README.md is out of date")
    ap.add_argument("--readme", type=Path, default=README)
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    try:
        if args.check:
            diff = check(args.readme, args.results)
            if diff:
                sys.stdout.write(diff)
                print(f"\n{args.readme} is out of date: run python scripts/readme_figures.py", file=sys.stderr)
                return 1
            return 0
        old = args.readme.read_text(encoding="utf-8")
        new = render(old, args.results)
        if new != old:
            args.readme.write_text(new, encoding="utf-8")
            print(f"updated {args.readme}")
        return 0
    except FiguresError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
