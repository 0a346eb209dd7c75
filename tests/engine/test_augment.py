"""Medical text augmentation: synonyms, fillers, swaps; frozen negations and measurements; determinism."""

import re

import pytest

from ntmm_engine.data.augment import AUGMENT_OPS, Augmenter, augment_dataset, augment_split, example_rng, load_fillers, load_synonyms, match_case, preview, protected_tokens, tokenize
from ntmm_engine.core.config import DataConfig, ProjectConfig
from ntmm_engine.core.errors import ConfigError

NOTE = ("Patient denies chest pain and reports 5 mg aspirin daily, BP 120/80 mmHg, temp 38.5 °C for 3 days, "
        "EF 45%, no fever, not dizzy. History of MI and HTN, negative for malignancy; pulses absent in the left "
        "foot. Nausea without vomiting, never smoked, neither cough nor wheeze. Seen in clinic with her daughter.")
# Substrings that must survive every augmentation of NOTE unchanged and in one piece.
KEEP = ["denies chest", "5 mg", "120/80 mmHg", "38.5 °C", "3 days", "45%", "no fever", "not dizzy",
        "negative for malignancy", "pulses absent", "without vomiting", "never smoked", "neither cough", "nor wheeze"]
NEGATIONS = re.compile(r"\b(no|not|denies|without|negative|absent|never|neither|nor)\b", re.I)


def test_synonym_table_is_large_consistent_and_has_the_promised_groups():
    table = load_synonyms()
    assert len(table.groups) >= 150
    for a, b in [("MI", "myocardial infarction"), ("heart attack", "MI"), ("HTN", "hypertension"),
                 ("high blood pressure", "HTN"), ("SOB", "dyspnea"), ("shortness of breath", "SOB"),
                 ("DM", "diabetes mellitus"), ("CVA", "stroke"), ("GERD", "acid reflux")]:
        ga, gb = table.lookup(tokenize(a)[1]), table.lookup(tokenize(b)[1])
        assert ga is not None and gb is not None and ga[0] == gb[0], (a, b)
    # abbreviations match case-sensitively: "sob" (crying) is not shortness of breath
    assert table.lookup(["sob"]) is None and table.lookup(["SOB"]) is not None
    assert table.lookup(["Hypertension"]) is not None  # plain terms match in any case
    assert len(load_fillers()) >= 10 and not any(NEGATIONS.search(f) for f in load_fillers())


def test_negations_and_measurements_are_frozen():
    frozen = protected_tokens(NOTE)
    for tok in ["denies", "chest", "5", "mg", "120/80", "mmHg", "38.5", "°", "C", "3", "days", "45%", "no", "fever",
                "not", "dizzy", "negative", "for", "malignancy", "pulses", "absent", "without", "vomiting", "never",
                "smoked", "nor", "wheeze"]:
        assert tok in frozen, tok
    assert "aspirin" not in frozen and "History" not in frozen


@pytest.mark.parametrize("ops", [AUGMENT_OPS, ("swap",), ("insert",), ("synonym",)])
def test_augmentation_never_breaks_negations_or_measurements(ops):
    aug = Augmenter(p=0.6, ops=ops)
    changed = 0
    for i in range(150):
        out = aug.augment(NOTE, example_rng(7, i, 1))
        changed += out != NOTE
        for keep in KEEP:
            assert keep in out, (keep, out)
        assert len(NEGATIONS.findall(out)) == len(NEGATIONS.findall(NOTE)), out
    assert changed > 50  # it does augment


def test_synonyms_replace_whole_phrases_and_keep_case_sensibly():
    aug = Augmenter(p=1.0, ops=["synonym"])
    seen = set()
    for i in range(40):
        out = aug.augment("Hypertension and a heart attack in 2019. Known MI.", example_rng(0, i, 0))
        first = out.split(" and ")[0]
        assert first in ("HTN", "High blood pressure"), out  # capital at sentence start, abbreviation as is
        middle = out.split(" and a ")[1].split(" in 2019")[0]
        assert middle in ("MI", "myocardial infarction"), out  # the whole phrase is replaced
        last = out.rsplit(". ", 1)[1]
        assert last in ("Known myocardial infarction.", "Known heart attack."), out  # abbreviation -> lower case mid-sentence
        seen.add(out)
    assert len(seen) >= 4
    assert match_case("HYPERTENSION", "high blood pressure", sentence_start=False, original_cased=False) == "HIGH BLOOD PRESSURE"
    assert match_case("MI", "heart attack", sentence_start=True, original_cased=True) == "Heart attack"
    assert match_case("hypertension", "HTN", sentence_start=False, original_cased=False) == "HTN"


def test_swap_stays_within_two_words_and_insert_adds_known_fillers():
    text = "patient reports mild intermittent headache behind eyes today with nausea and vomiting"
    words = text.split()
    swapper = Augmenter(p=0.5, ops=["swap"])
    for i in range(50):
        out = swapper.augment(text, example_rng(1, i, 0)).split()
        assert sorted(out) == sorted(words)
        assert out[0] == "patient"  # a sentence start never moves
        for pos, w in enumerate(out):
            assert abs(words.index(w) - pos) <= 2
        # only the items of the coordination move: "mild intermittent headache" is not reordered
        assert out[:-3] == words[:-3] and out[-2] == "and" and {out[-3], out[-1]} == {"nausea", "vomiting"}
    inserter = Augmenter(p=0.5, ops=["insert"])
    fillers = set(load_fillers())
    for i in range(30):
        out = inserter.augment(text, example_rng(1, i, 0))
        rest = out
        for w in words:  # the original words, in order
            assert w in rest
            rest = rest.split(w, 1)[1]
        extra = out
        for f in sorted(fillers, key=len, reverse=True):
            extra = extra.replace(f, "")
        assert extra.split() == words


PHRASE_CASES = [  # issue 18: what the old swap and insert made of these
    ("Patient reports the worst headache of life since this morning.", "worst headache of life"),
    ("A 54-year-old woman attends ED with palpitations.", "woman attends ED"),
    ("Sudden severe headache with neck stiffness and photophobia.", "Sudden severe headache"),
    ("Sudden severe headache with neck stiffness and photophobia.", "neck stiffness"),
]


@pytest.mark.parametrize("text,keep", PHRASE_CASES)
def test_clinical_phrases_are_never_split_or_reordered(text, keep):
    aug = Augmenter(p=0.9, ops=["swap", "insert"])
    changed = 0
    for i in range(100):
        out, changes = aug.augment_traced(text, example_rng(5, i, 0))
        assert keep in out, out
        changed += out != text
        assert {c.op for c in changes} <= {"swap", "insert"}
    assert changed > 0  # the text is still augmented, around the phrase
    # a synonym inside a fixed phrase is not replaced either ("worst cephalalgia of life")
    assert "worst headache of life" in Augmenter(p=1.0, ops=["synonym"]).augment(PHRASE_CASES[0][0], example_rng(0, 0, 0))


def test_swaps_reorder_whole_coordinated_items_only():
    aug = Augmenter(p=1.0, ops=["swap"])
    assert aug.augment("Two days of nausea and vomiting.", example_rng(0, 0, 0)) == "Two days of vomiting and nausea."
    # "chest pain and fever": swapping "pain" and "fever" would make "chest fever and pain"
    assert aug.augment("Reports chest pain and fever.", example_rng(0, 0, 0)) == "Reports chest pain and fever."
    out, changes = aug.augment_traced("History of MI and HTN.", example_rng(0, 0, 0))
    assert out == "History of HTN and MI." and [c.describe() for c in changes] == ["swap: 'MI' ↔ 'HTN'"]


def test_augment_dataset_is_deterministic_order_independent_and_keeps_labels():
    texts = [NOTE, "Hypertension with SOB on exertion", "headache and vomiting for 2 days", "x", "COPD exacerbation"]
    labels = [0, 1, 2, 1, 0]
    t1, l1, s1 = augment_dataset(texts, labels, copies=2, p=0.3, seed=5)
    t2, l2, s2 = augment_dataset(texts, labels, copies=2, p=0.3, seed=5)
    assert (t1, l1, s1) == (t2, l2, s2)
    assert t1[:5] == texts and s1[:5] == list(range(5))
    assert all(l1[i] == labels[s1[i]] for i in range(len(t1)))
    assert "x" not in t1[5:]  # nothing to change in "x": the copy is dropped, not duplicated
    assert len(t1) == 5 + 2 * 4
    # a copy depends on (seed, index, copy) only, not on the other examples or their order
    aug = Augmenter(0.3)
    for row in range(5, len(t1)):
        i = s1[row]
        copy = 1 + sum(1 for r in range(5, row) if s1[r] == i)
        assert t1[row] == aug.augment_example(texts[i], 5, i, copy)
    t3, _, _ = augment_dataset(texts, labels, copies=2, p=0.3, seed=6)
    assert t3 != t1
    assert augment_dataset(texts, labels, copies=0) == (texts, labels, list(range(5)))


def test_augment_split_touches_train_only_and_changes_the_fingerprint(easy_csv):
    from ntmm_engine.data.prepare import prepare_data

    cfg = DataConfig(train=str(easy_csv))
    prepared = prepare_data(cfg, seed=1)
    cfg.augment_copies = 2
    out = augment_split(prepared, cfg, seed=1)
    n = len(prepared.splits["train"])
    added = len(out.splits["train"]) - n
    assert 0 < added <= 2 * n
    for s in ("validation", "test"):
        assert out.splits[s]["text"] == prepared.splits[s]["text"]
    assert out.splits["train"]["text"][:n] == prepared.splits["train"]["text"]
    assert out.splits["train"].features == prepared.splits["train"].features
    assert sum(out.report.counts["train"].values()) == n + added
    assert out.report.augmentation["added_rows"] == added and out.report.augmentation["copies"] == 2
    assert out.report.fingerprint != prepared.report.fingerprint
    assert prepared.report.augmentation == {}  # the input is not modified
    assert "augmented training row" in out.report.to_text()
    again = augment_split(prepared, {"copies": 2}, seed=1)
    assert again.report.fingerprint == out.report.fingerprint
    assert augment_split(prepared, ProjectConfig().data, seed=1) is prepared  # copies 0 = off


def test_preview_and_config_validation():
    texts = [f"History of MI and HTN, case {i}, with SOB" for i in range(20)]
    pairs = preview(texts, n=5, seed=3, p=0.5)
    assert len(pairs) == 5 and all(s.original in texts for s in pairs) and any(s.original != s.augmented for s in pairs)
    assert preview(texts, n=5, seed=3, p=0.5) == pairs
    for s in pairs:  # every edit is named with its operation, and only unchanged copies have none
        assert bool(s.changes) == (s.original != s.augmented)
        for c in s.changes:
            assert c.op in AUGMENT_OPS and c.after in s.augmented
    with pytest.raises(ConfigError, match="augment_ops"):
        ProjectConfig.from_dict({"data": {"augment_ops": ["synonym", "backtranslate"]}})
    with pytest.raises(ConfigError, match="augment_p"):
        ProjectConfig.from_dict({"data": {"augment_p": 0}})
    cfg = ProjectConfig.from_dict({"data": {"augment_copies": 3}})
    assert cfg.data.augment_copies == 3 and cfg.data.augment_ops == list(AUGMENT_OPS)


def test_teacher_trains_on_augmented_data(tiny_config):
    import json

    from ntmm_engine.train.teacher import run_teacher

    tiny_config.teacher.epochs = 1
    tiny_config.data.augment_copies = 1
    result = run_teacher(tiny_config)
    rep = result.extra["data_report"]
    assert rep["augmentation"]["added_rows"] > 0
    assert sum(rep["counts"]["train"].values()) == rep["augmentation"]["original_rows"] + rep["augmentation"]["added_rows"]
    meta = json.loads((tiny_config.run_path / "teacher" / "model" / "ntmm.json").read_text())
    assert meta["data_fingerprint"] == rep["fingerprint"] != rep["augmentation"]["original_fingerprint"]
