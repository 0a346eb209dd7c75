"""Screenshots of every step of the NTMM window: ``docs/screenshots/<step>.png``.

    python scripts/screenshots.py [PROJECT.yaml] [--out docs/screenshots] [--size 1280x820] [--scale 2]

Runs on the offscreen platform unless QT_QPA_PLATFORM is set, with a
throw-away settings file (your real settings are not touched). Without a
project the demo project is used. Each page is shown, background reads
(data preview and report, model loading) are waited for, then grabbed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("project", nargs="?", help="project file (default: the demo project)")
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    p.add_argument("--size", default="1280x820", help="window size WxH in device-independent pixels")
    p.add_argument("--scale", type=float, default=None, help="QT_SCALE_FACTOR (2 = 200%% scaling); adds a suffix")
    p.add_argument("--lr-find", action="store_true",
                   help="run the learning-rate test for its screenshot (else the project's last saved curve is shown)")
    p.add_argument("--wait", type=float, default=60.0, help="seconds to wait for background work per page")
    p.add_argument("--text", default="72 yo male c/o crushing central chest pain radiating to the left arm, "
                                      "diaphoretic. ECG: ST elevation.", help="text typed on the Predict page")
    args = p.parse_args(argv)

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if args.scale:
        os.environ["QT_SCALE_FACTOR"] = str(args.scale)
    tmp = tempfile.mkdtemp(prefix="ntmm-shots-")
    os.environ["NTMM_SETTINGS_FILE"] = str(Path(tmp) / "settings.ini")

    from PySide6.QtCore import QCoreApplication, QElapsedTimer

    from ntmm_app import workers
    from ntmm_app.app import create_application
    from ntmm_app.main_window import MainWindow

    app = create_application(["ntmm-screenshots"])
    win = MainWindow()
    w, h = (int(x) for x in args.size.lower().split("x"))
    win.resize(w, h)
    ok = win.open_project(args.project) if args.project else win.open_demo()
    if not ok:
        print("could not open the project", file=sys.stderr)
        return 1
    win.show()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = f"@{args.scale:g}x" if args.scale else ""

    def settle(seconds: float) -> None:
        timer = QElapsedTimer()
        timer.start()
        while not win.is_idle() and timer.elapsed() < seconds * 1000:
            QCoreApplication.processEvents()
            time.sleep(0.02)
        for _ in range(20):
            QCoreApplication.processEvents()
            time.sleep(0.01)

    for i, page in enumerate(win.pages):
        win.go_to(i)
        if page.key == "predict" and args.text:
            settle(args.wait)
            page.text.setPlainText(args.text)
            time.sleep(0.4)
            page.confidence.use_target()  # a threshold from the target accuracy, as a user would set it
        settle(args.wait)
        for live in page.findChildren(type(getattr(win.page("teacher"), "live"))):
            live.flush()
        QCoreApplication.processEvents()
        path = out / f"{page.key}{suffix}.png"
        win.grab().save(str(path))
        print(f"wrote {path}")
        for name, tabs, tab in _extra_tabs(page):  # calibration, agreement: tabs of their own
            tabs.setCurrentWidget(tab)
            settle(args.wait)
            extra = out / f"{page.key}-{name}{suffix}.png"
            win.grab().save(str(extra))
            print(f"wrote {extra}")
            tabs.setCurrentIndex(0)
        if page.key == "data":  # the augmentation preview tab
            page.tabs.setCurrentWidget(page.augment_preview)
            settle(args.wait)
            extra = out / f"data-augmentation{suffix}.png"
            win.grab().save(str(extra))
            print(f"wrote {extra}")
            page.tabs.setCurrentIndex(0)
        if page.key == "teacher":  # the learning-rate finder dialog
            dlg = page.open_lr_finder()
            dlg.resize(760, 620)
            if args.lr_find:
                dlg.run_test()
                win.runner.wait(30 * 60 * 1000)
            settle(args.wait)
            extra = out / f"teacher-lr-finder{suffix}.png"
            dlg.grab().save(str(extra))
            print(f"wrote {extra}")
            dlg.hide()
    win.project._set_dirty(False)  # never ask to save in a script
    win.close()
    workers.wait_all(30000)
    del app
    return 0


def _extra_tabs(page) -> list:
    """(name, tab widget, tab) of the result tabs shot besides each page's first view."""
    if page.key in ("optimize", "benchmark"):
        out = [("calibration", page.tabs, page.calibration)]
        return out + ([("agreement", page.tabs, page.agreement)] if page.key == "optimize" else [])
    if page.key == "distill":
        return [("agreement", page.live.tabs, page.agreement)]
    return []


if __name__ == "__main__":
    sys.exit(main())
