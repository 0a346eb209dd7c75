"""The Runs view: run folders of the project's folder and added ones, key figures side by side."""

from __future__ import annotations

import json
import shutil

from ntmm_engine.core.runfolder import RunFolder, atomic_write_json


def _fake_run(folder, project: str, f1: float, latency: float | None = None):
    """A run folder with a finished teacher (and a benchmark when ``latency`` is given)."""
    from ntmm_engine.api import BenchmarkResult, TrainResult, VariantBenchmark

    run = RunFolder(folder)
    run.ensure_writable()
    run.set_top(project=project)
    teacher = TrainResult(job="teacher", status="completed", run_dir=str(folder),
                          metrics={"test": {"macro_f1": f1, "accuracy": f1 + 0.05}})
    atomic_write_json(folder / "teacher" / "result.json", teacher.to_dict())
    run.update_stage("teacher", status="completed", finished="2030-05-06T07:08:09")
    if latency is not None:
        bench = BenchmarkResult(run_dir=str(folder), rows=[VariantBenchmark(variant="student_onnx_int8",
                                                                            latency_ms_median=latency, macro_f1=0.7,
                                                                            size_bytes=3 * 2**20)])
        atomic_write_json(folder / "benchmark" / "result.json", bench.to_dict())
        run.update_stage("benchmark", status="completed", finished="2030-05-06T08:00:00")


def test_runs_view_lists_the_project_runs_and_added_ones(make_window, tiny_project, tiny_config, tmp_path, qtbot, wait_idle,
                                                         monkeypatch):
    from ntmm_app.widgets import runs_view

    _fake_run(tiny_config.run_path, "tiny", 0.81, latency=1.5)
    _fake_run(tmp_path / "runs-lr1e-4", "tiny", 0.77)
    elsewhere = tmp_path.parent / f"{tmp_path.name}-other" / "project" / "runs"
    _fake_run(elsewhere, "other", 0.66, latency=0.9)
    w = make_window(tiny_project)
    assert w.page("benchmark").runs_button.text() == "Compare r&uns…"
    action = next(a for a in w.menuBar().actions()[0].menu().actions() if a.text() == "Compare r&uns…")
    action.trigger()  # File -> Compare runs (the Benchmark step's button opens the same view)
    dialog = w._runs_dialog
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 2, timeout=10000)
    t = dialog.table
    first = [t.item(0, j).text() for j in range(t.columnCount())]
    assert first[0].endswith("runs  (this project)") and t.item(0, 0).font().bold()
    assert first[4] == "0.810" and first[7] == "student_onnx_int8" and first[8] == "1.50" and first[10] == "3.0" and first[11] == "2/5"
    assert "runs-lr1e-4" in t.item(1, 0).text() and t.item(1, 4).text() == "0.770" and t.item(1, 7).text() == "-"
    monkeypatch.setattr(runs_view.QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(elsewhere.parent)))
    assert dialog.add_folder()  # a project folder: its run folders are found
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 3, timeout=10000)
    assert json.loads(w.settings.value(runs_view.EXTRA_KEY)) == [str(elsewhere.resolve())]
    assert {dialog.table.item(i, 1).text() for i in range(3)} == {"tiny", "other"}
    assert not dialog.add_folder(str(tmp_path / "empty-dir-not-a-run"))
    assert "holds no NTMM run folder" in dialog.status.text()
    row = next(i for i in range(3) if dialog.table.item(i, 1).text() == "other")
    dialog.table.selectRow(row)
    dialog.remove_selected()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 2, timeout=10000)
    assert json.loads(w.settings.value(runs_view.EXTRA_KEY)) == []
    shutil.rmtree(elsewhere.parent.parent, ignore_errors=True)
    dialog.close()
    wait_idle(w)
