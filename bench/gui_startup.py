"""Time from process start to the NTMM window shown (target: under 2 s).

    python bench/gui_startup.py [--runs 5] [--platform offscreen]

Starts ``python -m ntmm_app --demo`` several times in fresh processes with a
throw-away settings file and home folder. The app writes the wall-clock time
at which its window was shown (``NTMM_STARTUP_PROBE``); this script measures
from just before it launched the process, so interpreter start-up and every
import are included. Writes bench/results/gui_startup.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGET_S = 2.0
HEAVY = ("torch", "transformers", "datasets", "onnxruntime", "sklearn", "pandas")


def one_run(platform: str, home: Path) -> dict:
    probe = home / f"probe-{time.monotonic_ns()}.json"
    env = {**os.environ, "NTMM_STARTUP_PROBE": str(probe), "NTMM_HOME": str(home / "home"),
           "NTMM_SETTINGS_FILE": str(home / "settings.ini"), "QT_QPA_PLATFORM": platform}
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "ntmm_app", "--demo"], env=env, capture_output=True, text=True, timeout=120)
    ended = time.time()
    if proc.returncode != 0 or not probe.is_file():
        raise SystemExit(f"the app did not start (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    data = json.loads(probe.read_text())
    return {"shown_s": data["shown"] - t0, "python_and_imports_before_main_s": data["module_t0"] - t0,
            "process_total_s": ended - t0, "heavy_modules_loaded": data.get("heavy", [])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--platform", default=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
                   help="Qt platform plugin (offscreen works without a display; xcb/wayland/windows/cocoa measure a real window)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="ntmm-startup-") as tmp:
        home = Path(tmp)
        one_run(args.platform, home)  # warm the OS file cache and create the demo project (first-start work)
        runs = [one_run(args.platform, home) for _ in range(args.runs)]
    shown = [r["shown_s"] for r in runs]
    summary = {"median_s": statistics.median(shown), "min_s": min(shown), "max_s": max(shown),
               "target_s": TARGET_S, "meets_target": statistics.median(shown) < TARGET_S,
               "heavy_modules_at_show": sorted({m for r in runs for m in r["heavy_modules_loaded"]})}
    data = {"what": "process start -> NTMM main window shown (python -m ntmm_app --demo)", "platform": args.platform,
            "runs": runs, "summary": summary}
    table = "\n".join([
        "| runs | median s | min s | max s | target s | meets target | heavy modules loaded at show |",
        "|---:|---:|---:|---:|---:|---|---|",
        f"| {len(runs)} | {summary['median_s']:.2f} | {summary['min_s']:.2f} | {summary['max_s']:.2f} | {TARGET_S:.1f} | "
        f"{'yes' if summary['meets_target'] else 'NO'} | {', '.join(summary['heavy_modules_at_show']) or 'none'} |",
        "",
        f"Measured from just before launching `python -m ntmm_app --demo` to the window being shown, "
        f"Qt platform `{args.platform}`, after one warm-up run (the first start also writes the demo project). "
        "torch, transformers and datasets load later, on worker threads.",
    ])
    from common import save
    save("gui_startup", data, table)


if __name__ == "__main__":
    main()
