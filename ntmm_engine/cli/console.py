"""How the command line shows a job's events: tqdm bars for steps and phases, metrics as they come."""

from __future__ import annotations

import sys

from ..core.events import Evaluation, Event, JobFailed, JobFinished, JobStarted, LogMessage, Progress, TrainLog


# ------------------------------------------------------------- console view
class ConsoleView:
    """Prints events: a tqdm bar for training and phases, metrics as they come."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.bar = None
        self.bar_key: tuple | None = None

    def __call__(self, ev: Event) -> None:
        if self.quiet and not isinstance(ev, (JobFailed,)):
            return
        if isinstance(ev, JobStarted):
            self._close()
            self._print(f"[{ev.job}] started: {ev.total_steps} steps on {ev.device} ({ev.precision})"
                        + (f", resuming {ev.resumed_from}" if ev.resumed_from else ""))
            self._bar((ev.job, "train"), ev.total_steps, f"{ev.job}")
        elif isinstance(ev, TrainLog):
            # a job that also reports the same steps as a Progress phase (the LR range test) keeps one bar
            same = self.bar is not None and self.bar_key[0] == ev.job and self.bar.total == ev.max_steps
            bar = self.bar if same else self._bar((ev.job, "train"), ev.max_steps, ev.job)
            bar.n = ev.step
            post = {"loss": f"{ev.loss:.4f}" if ev.loss is not None else "-",
                    "lr": f"{ev.learning_rate:.2e}" if ev.learning_rate is not None else "-", "ep": f"{ev.epoch:.2f}"}
            if ev.samples_per_second:
                post["samples/s"] = f"{ev.samples_per_second:.1f}"
            bar.set_postfix(post, refresh=False)
            bar.refresh()
        elif isinstance(ev, Progress):
            if ev.total and ev.total > 1 and ev.phase not in ("starting training",):
                bar = self._bar((ev.job, ev.phase), ev.total, f"{ev.job}: {ev.phase}")
                bar.n = ev.done
                bar.refresh()
                if ev.done >= ev.total:
                    self._close()
        elif isinstance(ev, Evaluation):
            m = ev.metrics
            parts = [f"{k} {m[k]:.4f}" for k in ("loss", "accuracy", "macro_f1") if isinstance(m.get(k), (int, float))]
            self._print(f"[{ev.job}] {ev.split} @ step {ev.step}: " + ", ".join(parts))
        elif isinstance(ev, LogMessage):
            if ev.level != "debug":
                self._print(f"[{ev.job}] {ev.text}")
        elif isinstance(ev, JobFinished):
            self._close()
            self._print(f"[{ev.job}] {ev.status}")
        elif isinstance(ev, JobFailed):
            self._close()

    def _bar(self, key: tuple, total: int, desc: str):
        from tqdm import tqdm
        if self.bar_key != key:
            self._close()
            self.bar = tqdm(total=total, desc=desc, unit="step", dynamic_ncols=True, leave=True, file=sys.stderr)
            self.bar_key = key
        return self.bar

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar, self.bar_key = None, None

    def _print(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)
