"""Run all never fails open into a destructive rerun; a failed start keeps finished steps; resume only when possible."""

from __future__ import annotations

import json

from PySide6.QtWidgets import QMessageBox

from ntmm_engine import api
from ntmm_engine.core.errors import NTMMError
from ntmm_engine.core.runfolder import RunFolder, atomic_write_json


def _finished_teacher(config, fingerprint: str = "an-older-one") -> RunFolder:
    """The manifest and result.json of a finished teacher, made from settings older than today's."""
    run = RunFolder(config.run_path)
    atomic_write_json(config.run_path / "teacher" / "result.json",
                      api.TrainResult(job="teacher", status="completed", run_dir=str(config.run_path)).to_dict())
    run.update_stage("teacher", status="completed", fingerprint=fingerprint)
    return run


def test_a_plan_that_cannot_be_made_is_shown_not_taken_as_run_everything(make_window, tiny_project, dialogs,
                                                                          monkeypatch, wait_idle):
    w = make_window(tiny_project)
    wait_idle(w)

    def broken(*_a, **_k):
        raise NTMMError("cannot read the manifest")

    monkeypatch.setattr(api, "plan", broken)
    assert not w.run_all()
    assert not w.runner.busy
    assert "cannot tell which steps are done" in dialogs.errors[-1][1] and "manifest" in dialogs.errors[-1][1]


def test_finished_steps_are_replaced_only_after_asking(make_window, tiny_config, tmp_path, dialogs, wait_idle):
    _finished_teacher(tiny_config)  # finished, but out of date: Run all would train it again
    tiny_config.save(tmp_path / "p.yaml")
    w = make_window(tmp_path / "p.yaml")
    wait_idle(w)
    assert w.page("teacher").status_text() == "out of date"
    dialogs.answers.append(QMessageBox.StandardButton.No)
    assert not w.run_all()
    assert not w.runner.busy and "Replace finished steps" in dialogs.questions[-1][0]
    assert "Teacher" in dialogs.questions[-1][1]
    assert w.project.stage_status("teacher") == "completed"
    dialogs.answers.append(QMessageBox.StandardButton.Yes)
    assert w.run_all() and w.runner.current == "data"
    w.runner.cancel()
    w.runner.wait(60000)
    wait_idle(w)


def test_run_all_with_unreadable_data_stops_before_any_step(make_window, tiny_config, tmp_path, dialogs, qtbot,
                                                            wait_idle):
    bad = tmp_path / "header_only.csv"
    bad.write_text("text,label\n")
    tiny_config.data.train = str(bad)
    run = _finished_teacher(tiny_config)
    tiny_config.save(tmp_path / "p.yaml")
    w = make_window(tmp_path / "p.yaml")
    wait_idle(w)
    dialogs.answers.append(QMessageBox.StandardButton.Yes)  # replace the finished teacher: yes
    with qtbot.waitSignal(w.runner.queue_done, timeout=60000) as sig:
        assert w.run_all()
    assert sig.args == [False]
    title, text, _ = dialogs.errors[-1]
    assert title == "Data check failed" and "header but no data" in text
    assert w.current_page.key == "data"
    entry = run.stage_entry("teacher")
    assert entry["status"] == "completed" and "attempt" not in entry  # the teacher was never started
    assert w.page("distill").needs() == ""  # and distillation can still use it
    wait_idle(w)


def test_resume_is_offered_only_when_it_can_work(make_window, tiny_config, tmp_path, wait_idle):
    run = RunFolder(tiny_config.run_path)
    run.update_stage("teacher", status="cancelled")
    ckpt = tiny_config.run_path / "teacher" / "checkpoints" / "checkpoint-3"
    ckpt.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth"):
        (ckpt / name).write_text("{}")  # killed before trainer_state.json was written: the engine cannot resume
    tiny_config.save(tmp_path / "p.yaml")
    w = make_window(tmp_path / "p.yaml")
    page = w.page("teacher")
    assert not page.can_resume() and not page.controls.resume.isEnabled()
    (ckpt / "trainer_state.json").write_text(json.dumps({"global_step": 3}))
    page.refresh_state()
    assert page.can_resume() and page.controls.resume.isEnabled()
    wait_idle(w)
