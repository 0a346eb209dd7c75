"""The distillation job: teacher cache, live teacher, end to end, cancel and resume."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from ntmm_engine.core.errors import NTMMError
from ntmm_engine.core.events import CancelToken, JobStarted, LogMessage, Progress, TrainLog
from ntmm_engine.core.runfolder import read_history, read_json

LOSS_KEYS = {"loss_kl", "loss_cos", "loss_mse", "loss_ce"}


# ----------------------------------------------------------------- helpers
def _word_tokenizer_model(folder: Path, csv_path: str, hidden: int = 16, num_labels: int = 3) -> Path:
    """A tiny BERT with its own word-level vocabulary, built from the data (a tokenizer unlike the teacher's)."""
    import csv

    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    with open(csv_path, encoding="utf-8") as fh:
        words = sorted({w for row in csv.DictReader(fh) for w in row["text"].split()})
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words) + "\n")
    tok = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    torch.manual_seed(1)
    model = BertForSequenceClassification(BertConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=1,
                                                     num_attention_heads=2, intermediate_size=hidden * 2,
                                                     max_position_embeddings=64, num_labels=num_labels))
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture
def project(tiny_config, tiny_bert_factory):
    """tiny_config with a 2-layer, 32-wide teacher in the run folder's default place."""
    shutil.copytree(tiny_bert_factory(layers=2), tiny_config.run_path / "teacher" / "model")
    return tiny_config


def _prepared(cfg, tokenizer):
    from ntmm_engine.data.prepare import prepare_data, tokenize

    prepared = prepare_data(cfg.data, seed=cfg.seed, base_dir=cfg.base_dir)
    tok = tokenize(prepared, tokenizer, cfg.data.max_length).remove_columns("text")
    tok["train"] = tok["train"].add_column("idx", list(range(len(tok["train"]))))
    return prepared, tok


def _batch(tokenized, tokenizer, rows):
    from transformers import DataCollatorWithPadding

    return DataCollatorWithPadding(tokenizer)([tokenized["train"][i] for i in rows])


def _expected_steps(cfg, prepared) -> int:
    d = cfg.distill
    return math.ceil(len(prepared.splits["train"]) / (d.batch_size * d.gradient_accumulation_steps)) * int(d.epochs)


def _cancel_at(job: str, step: int, events: list):
    cancel = CancelToken()

    def on_event(ev):
        events.append(ev)
        if isinstance(ev, TrainLog) and ev.job == job and ev.step >= step:
            cancel.cancel()
    return on_event, cancel


# ------------------------------------------------------------------- cache
def test_cached_and_live_teacher_outputs_give_the_same_loss(tmp_path, tiny_config, tiny_bert_factory):
    from ntmm_engine.distill.losses import DistillLoss, mean_pool
    from ntmm_engine.core.models import load_classifier, load_tokenizer
    from ntmm_engine.distill.students import shrink_teacher
    from ntmm_engine.distill.teacher_cache import CACHE_PHASE, CachedTeacher, LiveTeacher, compute_teacher_outputs, load_cache, save_cache

    folder = tiny_bert_factory(layers=2)
    teacher, tok = load_classifier(str(folder)), load_tokenizer(str(folder))
    prepared, tokenized = _prepared(tiny_config, tok)
    events = []
    outputs = compute_teacher_outputs(teacher, tok, tokenized, splits=("train", "validation"), pooled_split="train",
                                      batch_size=7, device="cpu", job="distill", on_event=events.append, cancel=None)
    n = len(tokenized["train"])
    assert outputs.logits["train"].shape == (n, 3) and outputs.pooled.shape == (n, 32)
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].phase == CACHE_PHASE and progress[-1].done == progress[-1].total == n + len(tokenized["validation"])

    # the cache file round-trips, and refuses data of another size
    path = save_cache(tmp_path / "cache" / "k.safetensors", outputs, {"data_fingerprint": "x"})
    sizes = {"train": n, "validation": len(tokenized["validation"])}
    again = load_cache(path, sizes)
    assert torch.equal(again.logits["train"], outputs.logits["train"]) and torch.equal(again.pooled, outputs.pooled)
    assert load_cache(path, {**sizes, "train": n + 1}) is None
    assert load_cache(tmp_path / "missing.safetensors", sizes) is None

    student = shrink_teacher(teacher, [1])
    student.train()
    torch.manual_seed(0)
    loss_fn = DistillLoss(temperature=3.0, alpha=0.5, cosine_weight=0.1, mse_weight=0.05, label_smoothing=0.1)
    batch = _batch(tokenized, tok, [5, 0, 17, 3, 11])  # padded differently than during caching
    idx, labels = batch.pop("idx"), batch.pop("labels")
    torch.manual_seed(0)
    out = student(**batch, output_hidden_states=True)
    s_pooled = mean_pool(out.hidden_states[-1], batch["attention_mask"])
    cached = CachedTeacher(outputs)(idx, batch)
    live = LiveTeacher(teacher, tok)(idx, batch)
    assert torch.allclose(cached[0], live[0], atol=1e-5) and torch.allclose(cached[1], live[1], atol=1e-5)
    l_cached = loss_fn(out.logits, s_pooled, *cached, labels).total
    l_live = loss_fn(out.logits, s_pooled, *live, labels).total
    assert l_cached.item() == pytest.approx(l_live.item(), abs=1e-5)

    # a teacher with its own tokenizer re-tokenizes the batch's texts (found by index)
    other = LiveTeacher(teacher, tok, same_tokenizer=False, texts=prepared.splits["train"]["text"], max_length=32)
    by_text = other(idx, batch)
    assert torch.allclose(by_text[0], cached[0], atol=1e-5) and torch.allclose(by_text[1], cached[1], atol=1e-5)


def test_split_metrics_returns_logits_in_dataset_order(tmp_path, tiny_config, tiny_bert_factory):
    """Agreement compares rows: predictions must not come back in group_by_length's shuffled order."""
    from transformers import DataCollatorWithPadding, Trainer

    from ntmm_engine.core.models import load_classifier, load_tokenizer
    from ntmm_engine.train.recipe import split_metrics, training_arguments

    folder = tiny_bert_factory(layers=1)
    model, tok = load_classifier(str(folder)), load_tokenizer(str(folder))
    with torch.no_grad():
        model.classifier.weight.mul_(1000.0)  # make rows clearly different
    _, tokenized = _prepared(tiny_config, tok)
    ds = tokenized["train"].remove_columns("idx")
    from ntmm_engine.train.plan import plan_training

    args = training_arguments(tiny_config.distill, tmp_path / "out", plan=plan_training(tiny_config.distill, len(ds)),
                              seed=0, device="cpu", precision="fp32", group_by_length=True, has_eval=False,
                              per_device_eval_batch_size=4)
    trainer = Trainer(model=model, args=args, data_collator=DataCollatorWithPadding(tok), processing_class=tok)
    _, logits = split_metrics(trainer, ds, ["cardio", "gastro", "neuro"])
    assert trainer.args.group_by_length
    model.eval()
    with torch.no_grad():
        for i in range(len(ds)):
            row = {k: torch.tensor([ds[i][k]]) for k in ("input_ids", "attention_mask", "token_type_ids")}
            assert torch.allclose(torch.from_numpy(logits[i]), model(**row).logits[0], rtol=1e-4, atol=1e-3)


def test_missing_teacher_says_run_the_teacher_first(tiny_config):
    from ntmm_engine.distill.job import run_distill

    with pytest.raises(NTMMError, match="run the teacher first"):
        run_distill(tiny_config)


# -------------------------------------------------------------- end to end
def test_distill_end_to_end_with_baseline(project):
    from ntmm_engine.distill.job import DistillResult, run_distill
    from ntmm_engine.core.models import load_classifier

    events = []
    result = run_distill(project, events.append)
    assert result.status == "completed"
    run = project.run_path / "distill"

    # loadable student and baseline folders, with their cards
    for role, res in (("student", result.student), ("baseline", result.baseline)):
        folder = run / role
        assert res.model_dir == str(folder)
        model = load_classifier(str(folder))
        assert model.config.num_hidden_layers == 1
        card = read_json(folder / "ntmm.json")
        assert card["role"] == role and card["layer_indices"] == [0]
        assert card["construction"]["kind"] == "shrink"
        assert card["teacher"] == str(project.run_path / "teacher" / "model")
        assert card["label_names"] == ["cardio", "gastro", "neuro"]
        assert card["temperature"] == res.calibration.temperature and res.calibration.fitted_on == "validation"
        changed = result.changed[role]
        assert all(c["teacher_label"] != c["model_label"] for c in changed)
        for split in ("validation", "test"):
            m = res.metrics[split]
            matrix = np.asarray(result.agreement_matrix[role][split])  # rows: the teacher's label, columns: this model's
            assert matrix.sum() == len(result.teacher_predictions[split])
            assert np.trace(matrix) / matrix.sum() == pytest.approx(result.agreement[role][split])
            assert {"accuracy", "macro_f1", "per_class", "confusion_matrix", "loss"} <= set(m)
            assert 0.0 <= result.agreement[role][split] <= 1.0
            assert set(result.f1_gap[role][split]) == {"cardio", "gastro", "neuro"}
            assert set(result.per_class_agreement[role][split]) == {"cardio", "gastro", "neuro"}
    assert "distill" in read_json(run / "student" / "ntmm.json") and "distill" not in read_json(run / "baseline" / "ntmm.json")
    assert set(result.teacher_metrics) == {"validation", "test"}
    assert result.parameters["teacher"] > result.parameters["student"] > 0
    assert result.seconds_per_epoch["distill"] > 0 and result.seconds_per_epoch["baseline"] > 0
    assert result.teacher_cache["enabled"] and result.teacher_cache["hit"] is False
    assert Path(result.teacher_cache["path"]).is_file() and Path(result.teacher_cache["path"]).parent == run / "cache"

    # result.json, manifest, summary
    saved = read_json(run / "result.json")
    assert saved["status"] == "completed" and saved["baseline"]["job"] == "baseline" and saved["model_dir"] == str(run / "student")
    assert DistillResult.from_dict(saved) == result  # the file reads back into the same typed result
    assert read_json(project.run_path / "manifest.json")["stages"]["distill"]["status"] == "completed"
    text = result.summary_text()
    for word in ("teacher", "student", "baseline", "macro-F1", "agreement", "seconds/epoch"):
        assert word in text
    assert not (run / "student_phase.json").exists()

    # events: both runs named, loss components in every distill log
    started = [e.job for e in events if isinstance(e, JobStarted)]
    assert started == ["distill", "baseline"]
    logs = [e for e in events if isinstance(e, TrainLog)]
    assert logs and all(LOSS_KEYS <= set(e.extra) for e in logs if e.job == "distill")
    assert any(e.job == "baseline" and "loss_ce" in e.extra for e in logs)
    history = read_history(run / "history.jsonl")
    assert any(h["kind"] == "TrainLog" and h["job"] == "baseline" for h in history)


def test_student_with_own_tokenizer_and_width_uses_a_projection(project, tmp_path):
    """A checkpoint student (other vocab, 16 wide vs 32) with the live teacher."""
    from safetensors import safe_open

    from ntmm_engine.distill.job import LOSS_ATTR, run_distill
    from ntmm_engine.core.models import load_classifier, load_tokenizer

    d = project.distill
    d.student, d.student_checkpoint = "checkpoint", str(_word_tokenizer_model(tmp_path / "word_bert", project.data.train))
    d.cache_teacher, d.baseline, d.epochs, d.save_total_limit = False, False, 1, 1
    events = []
    result = run_distill(project, events.append)
    assert result.status == "completed" and result.baseline is None
    c = result.construction
    assert (c["kind"], c["same_tokenizer"], c["hidden_size"]) == ("checkpoint", False, 16)
    assert result.teacher_cache == {"enabled": False}
    assert not any(isinstance(e, Progress) and e.phase == "caching teacher outputs" for e in events)
    # the projection trained and was checkpointed with the student...
    ckpt = next((project.run_path / "distill" / "checkpoints").glob("checkpoint-*"))
    with safe_open(str(ckpt / "model.safetensors"), "pt") as f:
        assert any(k.startswith(LOSS_ATTR + ".projection") for k in f.keys())
    # ...but is not part of the exported student, which keeps its own tokenizer
    folder = project.run_path / "distill" / "student"
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        assert not any(LOSS_ATTR in k for k in f.keys())
    assert load_classifier(str(folder)).config.hidden_size == 16
    assert len(load_tokenizer(str(folder))) == len(load_tokenizer(d.student_checkpoint))


def test_fresh_student_end_to_end(project):
    from ntmm_engine.distill.job import run_distill
    from ntmm_engine.core.models import load_classifier

    d = project.distill
    d.student, d.fresh_layers, d.fresh_hidden_size, d.fresh_heads, d.fresh_intermediate_size = "fresh", 1, 16, 2, 32
    d.baseline, d.epochs = False, 1
    result = run_distill(project)
    assert result.status == "completed" and result.construction["kind"] == "fresh"
    model = load_classifier(result.model_dir)
    assert (model.config.hidden_size, model.config.num_hidden_layers) == (16, 1)
    assert result.parameters["student"] < result.parameters["teacher"]


# ---------------------------------------------------------- cancel/resume
def test_cancel_then_resume_reaches_the_same_step_count_and_reuses_the_cache(project):
    from ntmm_engine.distill.job import run_distill
    from ntmm_engine.core.models import load_tokenizer

    project.distill.baseline = False
    events: list = []
    on_event, cancel = _cancel_at("distill", 3, events)
    first = run_distill(project, on_event, cancel)
    assert first.status == "cancelled"
    # cancel is seen at the next optimizer step, which leaves a resumable checkpoint
    assert 3 <= first.student.steps_done < first.student.total_steps
    assert Path(first.checkpoint).name == f"checkpoint-{first.student.steps_done}"
    run = project.run_path / "distill"
    assert not (run / "result.json").exists()
    assert read_json(project.run_path / "manifest.json")["stages"]["distill"]["status"] == "cancelled"

    events2: list = []
    second = run_distill(project, events2.append, resume=True)
    assert second.status == "completed"
    prepared, _ = _prepared(project, load_tokenizer(str(project.run_path / "teacher" / "model")))
    expected = _expected_steps(project, prepared)
    assert second.student.total_steps == first.student.total_steps == expected
    assert second.student.steps_done == expected
    assert [e.resumed_from for e in events2 if isinstance(e, JobStarted)] == [first.checkpoint]
    # the second run found the teacher outputs of the first
    assert second.teacher_cache["hit"] is True and second.teacher_cache["path"] == first.teacher_cache["path"]
    assert any(isinstance(e, LogMessage) and "cache hit" in e.text for e in events2)
    assert (run / "result.json").exists()


def test_cancel_in_baseline_resumes_only_the_baseline(project):
    from ntmm_engine.distill.job import run_distill

    events: list = []
    on_event, cancel = _cancel_at("baseline", 2, events)
    first = run_distill(project, on_event, cancel)
    assert first.status == "cancelled" and first.student.status == "completed"
    assert 2 <= first.baseline.steps_done < first.baseline.total_steps
    assert (project.run_path / "distill" / "student" / "ntmm.json").exists()

    events2: list = []
    second = run_distill(project, events2.append, resume=True)
    assert second.status == "completed"
    assert not any(isinstance(e, TrainLog) and e.job == "distill" for e in events2)  # the student is not retrained
    assert second.baseline.steps_done == second.baseline.total_steps == first.baseline.total_steps
    assert second.student.metrics == first.student.metrics
    assert set(second.agreement) == {"student", "baseline"}
    assert json.loads((project.run_path / "distill" / "result.json").read_text())["status"] == "completed"


def test_resume_without_checkpoint_is_a_clear_error(project):
    from ntmm_engine.distill.job import run_distill

    with pytest.raises(NTMMError, match="Nothing to resume"):
        run_distill(project, resume=True)


def test_more_seeds_report_mean_and_sd_and_keep_the_first_models(project):
    from ntmm_engine.distill.job import run_distill
    from ntmm_engine.core.events import Progress

    project.distill.seeds = 2
    events = []
    result = run_distill(project, events.append)
    assert result.status == "completed" and result.seeds is not None
    s = result.seeds
    assert s.seeds == [42, 43] and len(s.student["macro_f1"]) == len(s.baseline["macro_f1"]) == 2
    assert s.student["macro_f1"][0] == result.student.metrics["test"]["macro_f1"]  # seed 42 is the saved student
    assert "± " in s.text("student") and "2 seeds" in s.text("student")
    assert (project.run_path / "distill" / "student" / "model.safetensors").is_file()
    assert not list((project.run_path / "distill" / "seeds").glob("seed-*"))  # extra seeds keep no checkpoints
    # the extra seeds show as progress of the distill job, not as curves of their own
    assert any(isinstance(e, Progress) and e.phase == "seed 2 of 2: student" for e in events)
    assert "Over 2 seeds" in result.summary_text()
    assert {"student - teacher", "student - baseline"} <= set(result.differences)
    assert set(result.checks) == {"teacher", "student"} and result.classical_metrics["test"]["macro_f1"] > 0
