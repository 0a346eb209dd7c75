"""``ntmm-gui [PROJECT] [--demo]``: open the NTMM window."""

from __future__ import annotations

import argparse
import os
import sys
import time

_T0 = time.time()  # for the start-up probe (bench/gui_startup.py)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ntmm-gui", description="NTMM desktop app: train, distil, optimize, benchmark, predict.")
    p.add_argument("project", nargs="?", help="project file (YAML or JSON) to open")
    p.add_argument("--demo", action="store_true", help="open the built-in demo project")
    return p


def open_initial_project(window, args) -> None:
    """The project named on the command line, else the demo on first start, else the last one."""
    s = window.settings
    if args.project:
        window.open_project(args.project)
    elif args.demo or (not s.started_before and not s.recent_projects()):
        window.open_demo()
    else:
        for path in s.recent_projects():
            if os.path.exists(path) and window.open_project(path):
                break
        else:
            window.open_demo()
    s.mark_started()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from . import errors
    from .app import create_application

    app = create_application([sys.argv[0]])
    errors.install_excepthook()
    from .main_window import MainWindow

    window = MainWindow()
    open_initial_project(window, args)
    window.show()
    if os.environ.get("NTMM_NO_WARMUP") != "1":
        window.start_warmup()
    probe = os.environ.get("NTMM_STARTUP_PROBE")
    if probe:  # bench/gui_startup.py: record when the window is up, then quit
        from PySide6.QtCore import QTimer

        def record() -> None:
            import json
            shown = time.time()
            heavy = [m for m in ("torch", "transformers", "datasets", "onnxruntime", "sklearn", "pandas") if m in sys.modules]
            with open(probe, "w", encoding="utf-8") as fh:
                json.dump({"module_t0": _T0, "shown": shown, "heavy": heavy}, fh)
            window.tasks.shutdown()
            app.quit()
        QTimer.singleShot(0, record)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
