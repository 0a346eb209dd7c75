"""What one redraw of the live training curves costs on the UI thread, by grid style.

    python bench/plot_redraw.py [--redraws 40]

Feeds TrainLog events into the Teacher page's live view (loss, validation
metrics, learning rate), and after each one redraws the curves and lets Qt
paint them, timing the whole step on the UI thread. Once with the app's grid
(opaque light lines under the data, ``live_plot.show_grid``) and once with
pyqtgraph's ``showGrid(alpha=0.15)`` (translucent lines), in the same
process. Writes bench/results/plot_redraw.json and .md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def time_redraws(grid: str, redraws: int) -> list[float]:
    """Milliseconds per redraw-and-paint of a 1000x700 live view, after each of ``redraws`` events."""
    from PySide6.QtWidgets import QApplication

    from ntmm_app.widgets.live_plot import LiveTrainingView
    from ntmm_engine.core.events import TrainLog

    view = LiveTrainingView(("teacher",))
    if grid == "translucent":
        for plot in view.plots:
            for name in ("left", "bottom"):  # back to pyqtgraph's own grid
                plot.getAxis(name).setTickPen()  # the default pen
                plot.getAxis(name).setStyle(tickAlpha=None, maxTickLevel=2)
            plot.showGrid(x=True, y=True, alpha=0.15)
    view.resize(1000, 700)
    view.show()
    QApplication.processEvents()
    times = []
    for step in range(1, redraws + 1):
        view.handle_event(TrainLog("teacher", step=step * 10, max_steps=redraws * 10, epoch=step / 10,
                                   loss=1 / step ** 0.3, learning_rate=1e-4 * (1 - step / (redraws + 1)),
                                   samples_per_second=30.0, eta_seconds=100.0))
        t0 = time.perf_counter()
        view.flush()
        QApplication.processEvents()  # the paint
        times.append((time.perf_counter() - t0) * 1000)
    view.close()
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--redraws", type=int, default=40)
    args = p.parse_args()

    from ntmm_app.app import create_application

    app = create_application(["bench"])
    time_redraws("opaque", 5)  # warm-up: fonts, first layout
    rows = {}
    for grid in ("translucent", "opaque", "translucent", "opaque"):  # interleaved: drift hits both alike
        rows.setdefault(grid, []).extend(time_redraws(grid, args.redraws))
    stats = {g: {"median_ms": round(float(np.median(t)), 2), "p95_ms": round(float(np.percentile(t, 95)), 2),
                 "max_ms": round(float(np.max(t)), 2), "redraws": len(t)} for g, t in rows.items()}
    ratio = round(stats["translucent"]["median_ms"] / stats["opaque"]["median_ms"], 2)
    table = "\n".join([
        "| grid | redraws | median ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|",
        *(f"| {g} | {s['redraws']} | {s['median_ms']} | {s['p95_ms']} | {s['max_ms']} |" for g, s in stats.items()),
        "",
        f"Translucent / opaque, median: **{ratio}x**. One redraw = new points into the three curves of the Teacher "
        "page's live view (1000x700) and Qt's paint of them, on the UI thread. Qt platform "
        f"`{os.environ.get('QT_QPA_PLATFORM')}`.",
    ])
    from common import save
    save("plot_redraw", {"stats": stats, "translucent_over_opaque": ratio, "settings": vars(args)}, table)
    del app


if __name__ == "__main__":
    main()
