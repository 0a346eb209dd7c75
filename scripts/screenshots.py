"""Screenshots of every step of the NTMM window: ``docs/screenshots/<step>.png``.

    python scripts/screenshots.py [PROJECT.yaml] [--out docs/screenshots] [--size 1280x820] [--scale 2]
    python scripts/screenshots.py --xvfb --run-chain --sizes 1024x700,1280x720,1920x1080

Runs on the offscreen platform unless QT_QPA_PLATFORM is set (``--xvfb``: on a real X server, Xvfb,
started for the run), with a throw-away settings file (your real settings are not touched). Without a
project the demo project is used (``--run-chain``: a fresh copy of it, run through the whole chain with
*Run all* first, as a first-time user would). Each page is shown, background reads (data preview and
report, model loading) are waited for, then grabbed. With ``--sizes`` the window is shot at each size into
``<out>/<W>x<H>/``; every shot is checked for clipped text and cut-off charts
(:func:`ntmm_app.diagnostics.clipped_widgets`), and what was found is printed and written to
``<out>/<W>x<H>/clipping.txt``; the exit status is 2 when anything is clipped.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
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
    p.add_argument("--sizes", default="", help="comma-separated window sizes, each shot into <out>/<W>x<H>/")
    p.add_argument("--xvfb", action="store_true", help="start Xvfb and use the xcb platform (a real X server)")
    p.add_argument("--run-chain", action="store_true",
                   help="a fresh demo project, run through every step (Run all) before the shots")
    p.add_argument("--chain-timeout", type=float, default=3600.0, help="seconds to wait for --run-chain")
    p.add_argument("--text", default="72 yo male c/o crushing central chest pain radiating to the left arm, "
                                      "diaphoretic. ECG: ST elevation.", help="text typed on the Predict page")
    args = p.parse_args(argv)

    xvfb = _start_xvfb() if args.xvfb else None
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if args.scale:
        os.environ["QT_SCALE_FACTOR"] = str(args.scale)
    tmp = tempfile.mkdtemp(prefix="ntmm-shots-")
    os.environ["NTMM_SETTINGS_FILE"] = str(Path(tmp) / "settings.ini")
    if args.run_chain and not args.project:
        os.environ["NTMM_HOME"] = str(Path(tmp) / "home")  # a demo project of its own, from scratch

    from PySide6.QtCore import QCoreApplication, QElapsedTimer

    from ntmm_app import workers
    from ntmm_app.app import create_application
    from ntmm_app.diagnostics import clipped_widgets
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

    if args.run_chain:
        if not win.run_all():
            print("Run all did not start", file=sys.stderr)
            return 1
        timer = QElapsedTimer()
        timer.start()
        while (win.runner.busy or not win.is_idle()) and timer.elapsed() < args.chain_timeout * 1000:
            QCoreApplication.processEvents()
            time.sleep(0.05)
        print(f"chain finished in {timer.elapsed() / 1000:.0f} s")

    def shoot_all(folder: Path) -> list[str]:
        """Every page (and its extra tabs) into ``folder``; returns what was found clipped."""
        folder.mkdir(parents=True, exist_ok=True)
        found: list[str] = []
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
            path = folder / f"{page.key}{suffix}.png"
            win.grab().save(str(path))
            found += [f"{path.name}: {c}" for c in clipped_widgets(win)]
            print(f"wrote {path}")
            for name, tabs, tab in _extra_tabs(page):  # calibration, agreement: tabs of their own
                tabs.setCurrentWidget(tab)
                area = _scrolled_to(tabs)  # a panel that scrolls (1024x700): the tab in view, not the top
                settle(args.wait)
                extra = folder / f"{page.key}-{name}{suffix}.png"
                win.grab().save(str(extra))
                found += [f"{extra.name}: {c}" for c in clipped_widgets(win)]
                print(f"wrote {extra}")
                tabs.setCurrentIndex(0)
                if area is not None:
                    area.verticalScrollBar().setValue(0)
            if page.key == "data":  # the augmentation preview tab
                page.tabs.setCurrentWidget(page.augment_preview)
                settle(args.wait)
                extra = folder / f"data-augmentation{suffix}.png"
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
                extra = folder / f"teacher-lr-finder{suffix}.png"
                dlg.grab().save(str(extra))
                print(f"wrote {extra}")
                dlg.hide()
        return found

    sizes = [x for x in args.sizes.split(",") if x] if args.sizes else []
    status = 0
    if not sizes:
        shoot_all(out)
    for size in sizes:
        sw, sh = (int(x) for x in size.lower().split("x"))
        win.resize(sw, sh)
        settle(1.0)
        found = shoot_all(out / f"{sw}x{sh}")
        report = out / f"{sw}x{sh}" / "clipping.txt"
        report.write_text("\n".join(found) + ("\n" if found else "nothing clipped\n"), encoding="utf-8")
        print(f"{sw}x{sh}: {len(found)} clipped item(s); see {report}")
        for line in found:
            print("  " + line)
        status = status or (2 if found else 0)
    win.project._set_dirty(False)  # never ask to save in a script
    win.close()
    workers.wait_all(30000)
    del app
    if xvfb is not None:
        xvfb.terminate()
    return status


def _start_xvfb() -> subprocess.Popen:
    """An Xvfb server on a free display number, large enough for the biggest size; DISPLAY set to it."""
    if shutil.which("Xvfb") is None:
        sys.exit("Xvfb is not installed (apt-get install xvfb)")
    for display in range(99, 120):
        if not Path(f"/tmp/.X11-unix/X{display}").exists():
            break
    proc = subprocess.Popen(["Xvfb", f":{display}", "-screen", "0", "2200x1400x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        if Path(f"/tmp/.X11-unix/X{display}").exists():
            break
        time.sleep(0.1)
    os.environ["DISPLAY"] = f":{display}"
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    return proc


def _scrolled_to(widget):
    """Scroll the nearest scroll area around ``widget`` so that its top part is in view; returns the area."""
    from PySide6.QtWidgets import QScrollArea

    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QScrollArea):
        parent = parent.parentWidget()
    if parent is not None and parent.verticalScrollBar().maximum() > 0:
        top = widget.mapTo(parent.widget(), widget.rect().topLeft()).y()
        parent.verticalScrollBar().setValue(top)  # clamped to the bar's maximum
    return parent


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
