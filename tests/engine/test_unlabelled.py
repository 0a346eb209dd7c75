"""Distillation with unlabelled texts: reading and leakage removal, the loss mask, the epoch mix, the
teacher's cached labels (reuse, cancel and resume), the fingerprints and the job end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from testdata import make_rows, write_csv

from ntmm_engine.core.errors import Cancelled, DataError, NTMMError
from ntmm_engine.core.events import CancelToken, LogMessage, Progress, TrainLog
from ntmm_engine.core.runfolder import read_json


# ----------------------------------------------------------------- helpers
def _split_files(tmp: Path) -> dict[str, list[dict]]:
    """Train, validation and test files of the easy task, with their rows."""
    rows = {"train": make_rows(12, seed=1), "validation": make_rows(3, seed=2), "test": make_rows(3, seed=3)}
    for split, r in rows.items():
        write_csv(tmp / f"{split}.csv", r)
    return rows


def _config(tiny_config, tmp: Path):
    rows = _split_files(tmp)
    d = tiny_config.data
    d.train, d.validation, d.test = (str(tmp / f"{s}.csv") for s in ("train", "validation", "test"))
    return tiny_config, rows


def _new_texts(n: int, seed: int = 9) -> list[str]:
    return [f"{r['text']} noted on ward {i}" for i, r in enumerate(make_rows(n, seed=seed))]


@pytest.fixture
def project(tiny_config, tiny_bert_factory, tmp_path):
    """Explicit splits, a 2-layer teacher in the run folder, and an unlabelled CSV of new texts."""
    cfg, _ = _config(tiny_config, tmp_path)
    shutil.copytree(tiny_bert_factory(layers=2), cfg.run_path / "teacher" / "model")
    write_csv(tmp_path / "notes.csv", [{"note": t} for t in _new_texts(10)], ("note",))
    cfg.data.unlabelled = [str(tmp_path / "notes.csv")]
    cfg.distill.baseline = False
    return cfg


# ---------------------------------------------------------------- reading
def test_leaked_duplicate_and_empty_texts_are_dropped_and_counted(tiny_config, tmp_path):
    from ntmm_engine.data.prepare import prepare_data
    from ntmm_engine.data.unlabelled import read_unlabelled

    cfg, rows = _config(tiny_config, tmp_path)
    new = _new_texts(2)[:4]
    texts = (new + [rows["validation"][0]["text"], rows["test"][1]["text"], rows["test"][2]["text"],  # leaks
                    rows["train"][0]["text"], new[0], new[1], "", "   "])
    write_csv(tmp_path / "notes.csv", [{"id": i, "note": t, "label": "x"} for i, t in enumerate(texts)], ("id", "note", "label"))
    cfg.data.unlabelled = [str(tmp_path / "notes.csv")]
    prepared = prepare_data(cfg.data, base_dir=cfg.base_dir)
    kept = read_unlabelled(cfg.data, prepared, base_dir=cfg.base_dir)

    assert kept == new  # in file order; nothing of validation or test reaches the student
    held = set(prepared.splits["validation"]["text"]) | set(prepared.splits["test"]["text"])
    assert not held & set(kept) and not set(prepared.splits["train"]["text"]) & set(kept)
    rep = prepared.report.unlabelled
    assert (rep.read, rep.used) == (len(texts), 4)
    assert rep.dropped == {"in validation or test": 3, "duplicate of a training text": 1, "duplicate": 2, "empty text": 2}
    assert rep.text_columns == {str(tmp_path / "notes.csv"): "note"}  # the free text, not the id or the label
    text = prepared.report.to_text()
    assert "Unlabelled texts: 4 used of 12 read from 1 file(s)" in text and "dropped 3 (in validation or test)" in text


def test_folders_plain_text_files_and_the_named_column(tiny_config, tmp_path, tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    from ntmm_engine.data.prepare import prepare_data
    from ntmm_engine.data.unlabelled import read_unlabelled

    cfg, _ = _config(tiny_config, tmp_path)
    folder = tmp_path / "notes"
    (folder / "2024").mkdir(parents=True)
    new = _new_texts(2)
    (folder / "a.txt").write_text("\n".join(new[:2]) + "\n\n", encoding="utf-8")  # one text a line, blank lines skipped
    (folder / "2024" / "b.json").write_text(json.dumps(new[2:4]), encoding="utf-8")  # a JSON list of strings
    write_csv(folder / "c.csv", [{"body": t, "text": "x"} for t in new[4:]], ("body", "text"))
    (folder / "README.md").write_text("not data")
    (folder / ".hidden.csv").write_text("text\nnever read\n")
    cfg.data.unlabelled = [str(folder)]
    cfg.data.unlabelled_text_column = "body"
    with pytest.raises(DataError, match=r"data.unlabelled_text_column: column 'body' is not in .*2024/b.json \(columns: text\)"):
        read_unlabelled(cfg.data, prepare_data(cfg.data, base_dir=cfg.base_dir), base_dir=cfg.base_dir)
    cfg.data.unlabelled = [str(folder / "2024"), str(folder / "a.txt"), str(folder / "c.csv")]
    cfg.data.unlabelled_text_column = ""
    prepared = prepare_data(cfg.data, base_dir=cfg.base_dir)
    kept = read_unlabelled(cfg.data, prepared, base_dir=cfg.base_dir, tokenizer=AutoTokenizer.from_pretrained(tiny_tokenizer_dir))
    # c.csv has the training data's text column ("text"): it wins over detection, as for files to predict
    assert kept == new[2:4] + new[:2] + ["x"]
    rep = prepared.report.unlabelled
    assert rep.dropped == {"duplicate": 1}
    assert rep.formats[str(folder / "a.txt")].startswith("one text a line")
    assert rep.token_lengths["p50"] > 3 and rep.truncated_share is not None


def test_no_usable_text_is_an_error_naming_the_file(tiny_config, tmp_path):
    from ntmm_engine.data.prepare import prepare_data
    from ntmm_engine.data.unlabelled import read_unlabelled

    cfg, rows = _config(tiny_config, tmp_path)
    write_csv(tmp_path / "copy.csv", rows["test"])
    cfg.data.unlabelled = [str(tmp_path / "copy.csv")]
    with pytest.raises(DataError, match=r"none of the 9 texts in .*copy.csv can be used \(9 in validation or test\)"):
        read_unlabelled(cfg.data, prepare_data(cfg.data, base_dir=cfg.base_dir), base_dir=cfg.base_dir)


def test_the_data_check_reads_them(project):
    from ntmm_engine.data.check import check_data

    report = check_data(project)
    assert report.unlabelled is not None and report.unlabelled.used == 30


# -------------------------------------------------------------------- loss
def _batch():
    g = torch.Generator().manual_seed(0)
    return dict(student_logits=torch.randn(4, 3, generator=g, requires_grad=True),
                student_pooled=torch.randn(4, 5, generator=g, requires_grad=True),
                teacher_logits=torch.randn(4, 3, generator=g), teacher_pooled=torch.randn(4, 5, generator=g),
                labels=torch.tensor([0, 2, -100, -100]))


def test_unlabelled_rows_get_the_soft_loss_only():
    from torch.nn import functional as F

    from ntmm_engine.distill.losses import DistillLoss

    x = _batch()
    mask = torch.tensor([True, True, False, False])
    loss = DistillLoss(temperature=2.0, alpha=0.3, cosine_weight=0.7, mse_weight=0.2, label_smoothing=0.1, unlabelled_weight=0.5)
    p = loss(**x, labelled=mask)

    # by hand, row by row: labelled rows alpha*soft + (1-alpha)*CE, unlabelled rows w*soft, summed / batch size
    T, zs = 2.0, x["student_logits"]

    def soft(i):
        return soft_of(x, i, T)

    def ce(i):
        return F.cross_entropy(zs[i:i + 1], x["labels"][i:i + 1], label_smoothing=0.1)
    expected = (sum(0.3 * soft(i) + 0.7 * ce(i) for i in (0, 1)) + 0.5 * (soft(2) + soft(3))) / 4
    assert torch.allclose(p.total, expected, atol=1e-6)
    assert torch.allclose(p.ce, (ce(0) + ce(1)) / 2, atol=1e-6)  # the logged CE is over labelled rows
    assert torch.allclose(p.unlabelled["soft"], (soft(2) + soft(3)) / 2, atol=1e-6)

    # no CE on unlabelled rows: whatever their label says, loss and gradients stay the same
    p.total.backward()
    grad = x["student_logits"].grad.clone()
    y = _batch()
    y["labels"] = torch.tensor([0, 2, 1, 0])  # "labels" on the unlabelled rows, which must not be read
    q = loss(**y, labelled=mask)
    q.total.backward()
    assert torch.equal(p.total.detach(), q.total.detach()) and torch.equal(grad, y["student_logits"].grad)
    # ...and an unlabelled row's gradient is that of w * soft / B alone
    z = _batch()
    (0.5 * soft_of(z, 2, T) / 4).backward()
    assert torch.allclose(grad[2], z["student_logits"].grad[2], atol=1e-6)

    # every row labelled: the masked loss is the plain one
    x2, x3 = _batch(), _batch()
    x2["labels"] = x3["labels"] = torch.tensor([0, 2, 1, 1])
    assert torch.allclose(loss(**x2, labelled=torch.ones(4, dtype=torch.bool)).total, loss(**x3).total, atol=1e-6)


def soft_of(x, i, T):
    """The soft loss of row ``i`` alone (KL·T² + 0.7 cosine + 0.2 MSE), from the definitions."""
    from torch.nn import functional as F

    zs, zt = x["student_logits"], x["teacher_logits"]
    kl = F.kl_div(F.log_softmax(zs[i] / T, -1), F.log_softmax(zt[i] / T, -1), reduction="sum", log_target=True)
    cos = 1 - F.cosine_similarity(x["student_pooled"][i], x["teacher_pooled"][i], dim=0)
    return kl * T * T + 0.7 * cos + 0.2 * F.mse_loss(zs[i], zt[i])


# ----------------------------------------------------------- the epoch mix
def test_each_epoch_has_every_labelled_row_and_the_next_unlabelled_ones():
    from ntmm_engine.distill.transfer import EpochMixSampler

    s = EpochMixSampler(labelled=5, unlabelled=10, per_epoch=4, seed=3)
    seen = []
    for epoch in range(3):
        s.set_epoch(epoch)
        rows = list(s)
        assert len(rows) == len(s) == 9 and sorted(r for r in rows if r < 5) == list(range(5))
        seen.append(sorted(r - 5 for r in rows if r >= 5))
    assert len(set(seen[0]) | set(seen[1])) == 8  # the pool is used up before any text comes back...
    assert set(range(10)) - set(seen[0]) - set(seen[1]) <= set(seen[2])  # ...the last two first, then from the start
    s.set_epoch(1)
    assert list(s) == list(s)  # deterministic in (seed, epoch): what resuming needs
    grouped = EpochMixSampler(labelled=5, unlabelled=10, per_epoch=4, seed=3, lengths=list(range(15)), group_size=2)
    assert sorted(grouped.rows(1)) == sorted(s.rows(1))


def test_label_shift_and_confidence_filter():
    from ntmm_engine.distill.transfer import SHIFT_WARNING, confident_rows, label_shift, shift_warning

    t, y, tv = label_shift(np.array([0, 0, 0, 1]), [0, 1, 1, 2], ["a", "b", "c"])
    assert t == {"a": 0.75, "b": 0.25, "c": 0.0} and y == {"a": 0.25, "b": 0.5, "c": 0.25}
    assert tv == pytest.approx(0.5) and tv > SHIFT_WARNING
    assert "'a' 75% against 25% in training" in shift_warning(tv, t, y) and shift_warning(0.1, t, y) == ""
    keep, top = confident_rows(torch.tensor([[4.0, 0.0], [0.1, 0.0], [0.0, 5.0]]), 0.9)
    assert keep.tolist() == [0, 2] and top[1] < 0.9


# -------------------------------------------------------------- the job
def test_distill_with_unlabelled_texts_end_to_end(project):
    from ntmm_engine.distill.job import DistillResult, run_distill

    project.distill.baseline = True
    events = []
    result = run_distill(project, events.append)
    assert result.status == "completed"
    use = result.unlabelled
    n_train = result.baseline.plan.examples  # the baseline stays labelled-only
    assert n_train == len(make_rows(12)) and use.texts == use.confident == 30 and use.labelled == n_train
    assert use.per_epoch == 30 and result.student.plan.examples == n_train + 30  # unlabelled rows count in the plan
    assert set(use.teacher_distribution) == {"cardio", "gastro", "neuro"} and 0.0 <= use.shift <= 1.0
    assert sum(use.teacher_distribution.values()) == pytest.approx(1.0)
    assert Path(use.cache["path"]).is_dir() and use.cache["hit"] is False
    # both loss parts and the unlabelled rows' components in the distill logs (a log interval without
    # unlabelled rows has no unlabelled part); none in the baseline's
    logs = [e for e in events if isinstance(e, TrainLog)]
    parts = {"loss_labelled", "loss_unlabelled", "loss_kl_unlabelled", "loss_cos_unlabelled", "loss_mse_unlabelled"}
    assert parts <= {k for e in logs if e.job == "distill" for k in e.extra}
    assert all({"loss_kl", "loss_ce"} <= set(e.extra) for e in logs if e.job == "distill")
    assert not any("loss_unlabelled" in e.extra for e in logs if e.job == "baseline")
    assert any(isinstance(e, Progress) and e.phase == "teacher labelling the unlabelled texts" for e in events)
    saved = read_json(project.run_path / "distill" / "result.json")
    assert DistillResult.from_dict(saved) == result
    assert "Unlabelled texts: 30 used" in result.summary_text()
    card = read_json(project.run_path / "distill" / "student" / "ntmm.json")
    assert card["unlabelled"]["texts"] == 30 and "unlabelled" not in read_json(project.run_path / "distill" / "baseline" / "ntmm.json")
    assert "30 unlabelled texts the teacher labelled" in (project.run_path / "distill" / "student" / "README.md").read_text()


def test_the_teacher_labels_them_once_a_second_run_reuses_the_cache(project):
    from ntmm_engine.distill.job import run_distill

    first = run_distill(project)
    chunks = sorted(Path(first.unlabelled.cache["path"]).glob("chunk-*.safetensors"))
    stamps = [p.stat().st_mtime_ns for p in chunks]
    events = []
    second = run_distill(project, events.append)
    assert second.unlabelled.cache["hit"] is True and second.unlabelled.cache["path"] == first.unlabelled.cache["path"]
    assert [p.stat().st_mtime_ns for p in chunks] == stamps
    assert any(isinstance(e, LogMessage) and "cache hit" in e.text and "unlabelled" in e.text for e in events)
    assert second.unlabelled.teacher_distribution == first.unlabelled.teacher_distribution


def test_cancel_while_labelling_then_the_next_run_labels_only_the_rest(project, monkeypatch):
    from ntmm_engine.distill import teacher_cache
    from ntmm_engine.distill.job import run_distill

    monkeypatch.setattr(teacher_cache, "CHUNK_ROWS", 8)  # 30 texts: 4 chunks
    project.distill.eval_batch_size = 4
    cancel = CancelToken()
    real_save = teacher_cache._save_chunk

    def save_then_cancel(*a, **kw):  # the user cancels while the second chunk is being labelled
        real_save(*a, **kw)
        cancel.cancel()

    monkeypatch.setattr(teacher_cache, "_save_chunk", save_then_cancel)
    with pytest.raises(Cancelled):
        run_distill(project, None, cancel)
    monkeypatch.setattr(teacher_cache, "_save_chunk", real_save)
    folder = next((project.run_path / "distill" / "cache").glob("unlabelled-*"))
    assert [p.name for p in sorted(folder.glob("chunk-*"))] == ["chunk-00000.safetensors"]
    stamp = (folder / "chunk-00000.safetensors").stat().st_mtime_ns
    manifest = read_json(project.run_path / "manifest.json")["stages"]["distill"]
    assert manifest["attempt"]["status"] == "cancelled" and "status" not in manifest  # nothing was replaced yet
    assert not (project.run_path / "distill" / "result.json").exists()

    events2 = []
    result = run_distill(project, events2.append)
    assert result.status == "completed"
    info = result.unlabelled.cache
    assert (info["chunks"], info["cached_chunks"], info["hit"]) == (4, 1, False)
    assert (folder / "chunk-00000.safetensors").stat().st_mtime_ns == stamp  # kept, not relabelled
    first = next(e for e in events2 if isinstance(e, Progress) and e.phase == teacher_cache.UNLABELLED_PHASE and e.done)
    assert first.done == 8 and "1 of 4 chunks" in first.message
    # the resumed labels are the labels a run from scratch gives
    shutil.rmtree(folder)
    fresh = run_distill(project)
    assert fresh.unlabelled.cache["cached_chunks"] == 0
    assert fresh.unlabelled.teacher_distribution == result.unlabelled.teacher_distribution
    assert fresh.unlabelled.mean_confidence == pytest.approx(result.unlabelled.mean_confidence, abs=1e-6)


def test_cancel_in_training_then_resume_with_unlabelled_texts(project):
    from ntmm_engine.distill.job import run_distill

    cancel = CancelToken()

    def on_event(ev):
        if isinstance(ev, TrainLog) and ev.job == "distill" and ev.step >= 3:
            cancel.cancel()

    first = run_distill(project, on_event, cancel)
    assert first.status == "cancelled" and 3 <= first.student.steps_done < first.student.total_steps
    second = run_distill(project, resume=True)  # the epoch's rows come back in the same order: the Trainer skips those done
    assert second.status == "completed" and second.student.steps_done == second.student.total_steps == first.student.total_steps
    assert second.unlabelled.cache["hit"] is True


def test_epochs_rotate_through_a_larger_pool(project, monkeypatch):
    from ntmm_engine.distill import job as job_mod
    from ntmm_engine.distill.job import run_distill

    rows_seen: set[int] = set()
    real = job_mod.CachedTeacher.__call__
    monkeypatch.setattr(job_mod.CachedTeacher, "__call__", lambda self, idx, inputs: (rows_seen.update(idx.tolist()),
                                                                                      real(self, idx, inputs))[-1])
    project.distill.unlabelled_per_epoch = 12
    project.distill.epochs = 2
    result = run_distill(project)
    use = result.unlabelled
    assert use.per_epoch == 12 and result.student.plan.examples == use.labelled + 12
    # two epochs of 12 from a pool of 30: 24 different unlabelled texts, not the same 12 twice
    assert len({i for i in rows_seen if i >= use.labelled}) == 24 and set(range(use.labelled)) <= rows_seen


def test_min_confidence_none_passing_is_a_clear_error(project):
    from ntmm_engine.distill.job import run_distill

    project.distill.unlabelled_min_confidence = 0.99  # a random tiny teacher is never that sure
    with pytest.raises(NTMMError, match=r"distill.unlabelled_min_confidence: none of the 30 unlabelled texts passes 0.99"):
        run_distill(project)
    assert not (project.run_path / "distill" / "student").exists()


def test_more_seeds_with_unlabelled_texts(project):
    from ntmm_engine.distill.job import run_distill

    project.distill.seeds, project.distill.epochs = 2, 1
    result = run_distill(project)
    assert result.seeds.seeds == [42, 43] and len(result.seeds.student["macro_f1"]) == 2


# ----------------------------------------------------------- fingerprints
def test_only_distillation_depends_on_the_unlabelled_texts(tiny_config, tmp_path):
    import os

    from ntmm_engine.core.fingerprints import stage_fingerprints

    base = stage_fingerprints(tiny_config)
    tiny_config.distill.unlabelled_weight = 3.0  # without unlabelled texts the setting does nothing
    assert stage_fingerprints(tiny_config) == base
    notes = write_csv(tmp_path / "notes.csv", [{"text": t} for t in _new_texts(3)], ("text",))
    tiny_config.data.unlabelled = [str(notes)]
    on = stage_fingerprints(tiny_config)
    assert on["classical"] == base["classical"] and on["teacher"] == base["teacher"]
    assert all(on[s] != base[s] for s in ("distill", "optimize", "benchmark"))
    os.utime(notes, ns=(1, 1))  # touched, the same texts: nothing to redo
    assert stage_fingerprints(tiny_config) == on
    notes.write_text(notes.read_text() + "a note added later\n")  # the file changed
    changed = stage_fingerprints(tiny_config)
    assert changed["teacher"] == on["teacher"] and changed["distill"] != on["distill"]
    tiny_config.distill.unlabelled_weight = 1.0
    assert stage_fingerprints(tiny_config)["distill"] != changed["distill"]


def test_config_takes_one_path_or_a_list_and_save_as_keeps_them(tmp_path):
    from ntmm_engine.core.config import load_config

    (tmp_path / "notes.csv").write_text("text\na\n")
    (tmp_path / "more").mkdir()
    p = tmp_path / "p.yaml"
    p.write_text("data:\n  unlabelled: notes.csv\n")
    cfg = load_config(p)
    assert cfg.data.unlabelled == ["notes.csv"]
    cfg.set_value("data.unlabelled", "[notes.csv, more]")
    assert cfg.data.unlabelled == ["notes.csv", "more"]
    cfg.rebase(tmp_path / "elsewhere")
    assert cfg.data.unlabelled == [str(tmp_path / "notes.csv"), str(tmp_path / "more")]


def test_vocabulary_pruning_keeps_the_word_pieces_of_unlabelled_texts(tiny_config, tmp_path):
    """The pruned ONNX INT8 student reads the unlabelled notes as the unpruned one does: their word pieces are kept."""
    from ntmm_engine.data.prepare import prepare_data
    from ntmm_engine.export.optimize import _Optimizer

    cfg, _ = _config(tiny_config, tmp_path)
    write_csv(tmp_path / "notes.csv", [{"note": "zygomatic fracture after a fall"}], ("note",))
    opt = _Optimizer.__new__(_Optimizer)  # only the text selection: no model is needed for it
    opt.cfg, opt._vocab_texts = cfg, None
    opt.prepared = prepare_data(cfg.data, base_dir=cfg.base_dir)
    assert not any("zygomatic" in t for t in opt._train_texts())
    cfg.data.unlabelled, opt._vocab_texts = [str(tmp_path / "notes.csv")], None
    texts = opt._train_texts()
    assert texts[-1] == "zygomatic fracture after a fall" and len(texts) == len(opt.prepared.splits["train"]["text"]) + 1
