"""Pipeline: skip what is up to date, resume a cancelled stage, --force redoes a stage and what follows."""

from ntmm_engine.core.events import CancelToken, TrainLog
from ntmm_engine.pipeline import Pipeline
from ntmm_engine.core.fingerprints import stage_fingerprints

TRAINING = ("teacher", "distill")


def test_skip_resume_and_force(tiny_config):
    cfg = tiny_config
    cfg.distill.baseline = False
    cfg.teacher.epochs = 2
    # 1) cancel during the distillation stage
    cancel = CancelToken()

    def on_event(ev):
        if isinstance(ev, TrainLog) and ev.job == "distill" and ev.step == 2:
            cancel.cancel()
    first = Pipeline(cfg, on_event, cancel).run(stages=TRAINING)
    assert first.stages == {"teacher": "completed", "distill": "cancelled"} and first.status == "cancelled"

    # 2) run again: teacher skipped, distill resumed from its checkpoint
    pipe = Pipeline(cfg)
    assert pipe.plan(stages=TRAINING) == {"teacher": "skip", "distill": "resume"}
    logs = []
    second = Pipeline(cfg, logs.append).run(stages=TRAINING)
    assert second.stages == {"teacher": "skipped", "distill": "completed"}
    steps = [e.step for e in logs if isinstance(e, TrainLog)]
    assert steps[0] > 2  # resumed, not restarted

    # 3) everything up to date
    assert Pipeline(cfg).plan(stages=TRAINING) == {"teacher": "skip", "distill": "skip"}
    # 4) force the teacher: it and everything after it run again
    assert Pipeline(cfg).plan(force="teacher", stages=TRAINING) == {"teacher": "run", "distill": "run"}
    # 5) a changed distill setting redoes distill only
    cfg.distill.temperature = 2.0
    assert Pipeline(cfg).plan(stages=TRAINING) == {"teacher": "skip", "distill": "run"}


def test_fingerprints_follow_inputs(tiny_config, tmp_path):
    a = stage_fingerprints(tiny_config)
    tiny_config.optimize.opset = 18
    b = stage_fingerprints(tiny_config)
    assert a["teacher"] == b["teacher"] and a["distill"] == b["distill"]
    assert a["optimize"] != b["optimize"] and a["benchmark"] != b["benchmark"]
    tiny_config.teacher.learning_rate = 1e-3
    c = stage_fingerprints(tiny_config)
    assert all(c[s] != b[s] for s in ("teacher", "distill", "optimize", "benchmark"))
    assert c["classical"] == b["classical"]  # the classical baseline does not build on the teacher
    tiny_config.data.max_length = 64
    assert all(stage_fingerprints(tiny_config)[s] != c[s] for s in c)  # the data settings change everything


def test_data_rewritten_with_the_same_bytes_keeps_the_fingerprints(tiny_config):
    """Data copied or unpacked again (new modification time, same content) must not make finished stages
    out of date; a changed byte must."""
    import os

    train = tiny_config.resolve(tiny_config.data.train)
    before = stage_fingerprints(tiny_config)
    data = train.read_bytes()
    train.write_bytes(data)
    os.utime(train, ns=(1_000_000_000, 1_000_000_000))
    assert stage_fingerprints(tiny_config) == before
    train.write_bytes(data.replace(b"a", b"b", 1))
    os.utime(train, ns=(2_000_000_000, 2_000_000_000))
    changed = stage_fingerprints(tiny_config)
    assert all(changed[s] != before[s] for s in before)


def test_unknown_force_stage(tiny_config):
    import pytest

    from ntmm_engine.core.errors import NTMMError
    with pytest.raises(NTMMError, match="unknown stage"):
        Pipeline(tiny_config).plan(force="nope")
