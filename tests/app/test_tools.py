"""The Teacher page's learning-rate finder and the Data page's augmentation preview."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

from PySide6.QtCore import Qt

from ntmm_app.widgets.augment_preview import ADDED, REMOVED, mark_changes


def weights_hash(folder: Path) -> str:
    return hashlib.sha256(b"".join(f.read_bytes() for f in sorted(Path(folder).glob("*.safetensors")))).hexdigest()


def test_lr_finder_plots_the_curve_and_applies_the_suggestion(make_window, tiny_project, tiny_bert_dir, qtbot,
                                                              wait_idle, dialogs):
    before = weights_hash(tiny_bert_dir)
    w = make_window(tiny_project)
    w.go_to(1)
    wait_idle(w)
    page = w.page("teacher")
    assert page.form.editor("learning_rate").isAncestorOf(page.lr_button)  # next to the field
    qtbot.mouseClick(page.lr_button, Qt.MouseButton.LeftButton)
    dlg = page._lr_dialog
    assert dlg.isVisible() and "Not run yet" in dlg.status.text()
    assert dlg.current_line.isVisible() and dlg.current_line.value() == math.log10(5e-3)
    assert dlg.current_line.label.toPlainText() == "current 5.0e-03"  # with its value (the line was hidden)
    assert not dlg.legend.isVisible()  # no curves yet; the axis spans the range the test will sweep
    low, high = dlg.plot.getViewBox().viewRange()[0]
    assert low < math.log10(1.5e-7) and high > math.log10(0.7)

    # an impossible range is marked and cannot start
    dlg.start_lr.setText("1")
    dlg.start_lr.textEdited.emit("1")
    assert dlg.input_error.isVisible() and not dlg.run_button.isEnabled()
    dlg.start_lr.setText("1e-5")
    dlg.start_lr.textEdited.emit("1e-5")
    dlg.steps.setValue(40)
    assert dlg.run_button.isEnabled() and not dlg.input_error.isVisible()

    with qtbot.waitSignal(w.runner.finished, timeout=120000) as sig:
        qtbot.mouseClick(dlg.run_button, Qt.MouseButton.LeftButton)
        assert w.runner.current == "lr_find" and not page.controls.start.isEnabled()  # one job at a time
    result = sig.args[1]
    assert result.suggestion is not None and 1e-5 < result.suggestion < 1
    # the plot holds every step, drawn live and then from the result
    xs, ys = dlg.smooth_curve.getData()
    assert len(xs) == result.steps == len(dlg.losses)
    assert dlg.suggest_line.isVisible() and dlg.suggest_line.value() == math.log10(result.suggestion)
    assert dlg.suggest_line.label.toPlainText() == f"suggested {result.suggestion:.1e}" and dlg.legend.isVisible()
    assert "Suggested learning rate" in dlg.status.text()
    assert dlg.apply_button.isEnabled() and f"{result.suggestion:.1e}" in dlg.apply_button.text()

    qtbot.mouseClick(dlg.apply_button, Qt.MouseButton.LeftButton)
    applied = float(f"{result.suggestion:.1e}")
    assert w.project.config.teacher.learning_rate == applied
    assert float(page.form.editor("learning_rate").input.text()) == applied
    assert w.isWindowModified()
    assert weights_hash(tiny_bert_dir) == before  # the base model was never trained
    assert dialogs.errors == []

    # closing and reopening shows the saved curve; the remembered range is reused
    dlg.reject()
    assert not dlg.isVisible()
    page.open_lr_finder()
    assert dlg.status.text().startswith("Last test:") and len(dlg.lrs) == result.steps
    assert dlg.start_lr.text() == "1e-5" and dlg.steps.value() == 40
    assert float(w.settings.value("lr_find/start_lr")) == 1e-5 and int(w.settings.value("lr_find/num_steps")) == 40

    # a cancelled test changes nothing
    with qtbot.waitSignal(w.runner.cancelled, timeout=60000):
        dlg.run_test()
        dlg.cancel_test()
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=10000)
    assert "Cancelled" in dlg.status.text() and w.project.config.teacher.learning_rate == applied
    assert page.controls.start.isEnabled()
    dlg.reject()


def test_mark_changes_highlights_changed_words():
    left, right = mark_changes("pt with HTN denies chest pain", "pt reportedly with hypertension denies chest pain")
    assert f'<span style="{ADDED}">reportedly</span>' in right
    assert f'<span style="{ADDED}">hypertension</span>' in right and f'<span style="{REMOVED}">HTN</span>' in left
    assert "denies chest pain" in left and "denies chest pain" in right
    assert mark_changes("a <b> & c", "a <b> & c") == ("a &lt;b&gt; &amp; c", "a &lt;b&gt; &amp; c")


def test_augmentation_preview_follows_the_settings(make_window, tiny_project, qtbot, wait_idle):
    w = make_window(tiny_project)
    page = w.page("data")
    wait_idle(w)
    assert page.augment_preview.pairs == []  # not computed until someone looks
    page.tabs.setCurrentWidget(page.augment_preview)
    qtbot.waitUntil(lambda: len(page.augment_preview.pairs) == 4, timeout=10000)
    texts = page.preview_texts()
    pairs = page.augment_preview.pairs
    assert all(s.original in texts for s in pairs)
    assert any(s.original != s.augmented for s in pairs)
    assert "Augmentation is off" in page.augment_preview.note.text()
    assert "<span" in page.augment_preview.view.toHtml()

    # the preview follows the form: copies, probability, operations
    editor = page.augment_form.editor("augment_copies")
    editor.input.setValue(2)
    qtbot.waitUntil(lambda: "2 augmented copies" in page.augment_preview.note.text(), timeout=10000)
    assert w.project.config.data.augment_copies == 2
    page.augment_form.editor("augment_ops").commit_text("swap")
    wait_idle(w)
    qtbot.waitUntil(lambda: "operations swap," in page.augment_preview.note.text(), timeout=10000)
    for s in page.augment_preview.pairs:  # swaps only: same words, maybe another order, each swap named
        assert sorted(s.original.split()) == sorted(s.augmented.split())
        assert all(c.op == "swap" for c in s.changes)
        if s.changes:
            assert "swap</span>" in page.augment_preview.view.toHtml()

    # "Other examples" shows other texts, reproducibly per click
    first = [s.original for s in page.augment_preview.pairs]
    qtbot.mouseClick(page.augment_preview.other, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: [s.original for s in page.augment_preview.pairs] != first, timeout=10000)
    wait_idle(w)
