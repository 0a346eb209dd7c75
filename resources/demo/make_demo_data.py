#!/usr/bin/env python3
"""Generate the NTMM built-in demo dataset (synthetic clinical triage notes).

Everything here is SYNTHETIC and ILLUSTRATIVE ONLY. The notes are composed
from hand-written templates and vocabularies; they do not describe real
patients and must not be used for any clinical purpose.

Output: ``demo_train.csv`` next to this script, columns ``text,label`` where
``label`` is one of the class names in ``CLASSES``.

The generator uses only the standard library and a fixed seed, so re-running
it reproduces the CSV byte-for-byte:

    python3 resources/demo/make_demo_data.py
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

SEED = 20240611
ROWS_PER_CLASS = 72
# Share of notes that receive a cross-specialty ("ambiguous") cue.
AMBIGUOUS_RATE = 0.12

CLASSES = [
    "cardiology",
    "respiratory",
    "gastroenterology",
    "neurology",
    "endocrinology",
]

OUT_PATH = Path(__file__).resolve().parent / "demo_train.csv"

# ---------------------------------------------------------------------------
# Shared vocabulary
# ---------------------------------------------------------------------------

SEXES = [("M", "male", "man"), ("F", "female", "woman")]

# Durations are plain quantities so that they read naturally after "for",
# "x" and before "ago" in every opener template.
DURATIONS = [
    "2 hours", "3 hours", "6 hours", "12 hours", "1 day", "2 days", "3 days",
    "4 days", "1 week", "10 days", "2 weeks", "3 weeks", "1 month",
    "2 months", "several months", "about 48 h",
]

PATIENT_OPENERS = [
    "{age}{s} presents with {sym} for {dur}.",
    "{age} yo {sexw} c/o {sym} x {dur}.",
    "Pt, {age}-year-old {sexn}, reporting {sym} for {dur}.",
    "{age}{s} referred by GP with {sym}, onset {dur} ago.",
    "{age}-year-old {sexn} seen in triage with {sym}, symptoms for {dur}.",
    "{age}{s}, {hx}, presents with {sym} for {dur}.",
    "Triage note: {age} yo {sexw}, {sym} for {dur}.",
    "{age}-year-old {sexw} with {hx} reports {sym} for {dur}.",
    "Walk-in, {age}{s}: {sym}, started {dur} ago.",
    "{age}-year-old {sexn} attends ED with {sym}.",
]

GENERIC_PLANS = [
    "Plan: review with senior and reassess.",
    "Admit for observation.",
    "Safety-netting advice given.",
    "Bloods sent, awaiting results.",
    "Discussed with on-call registrar.",
    "Follow up in clinic in 2 weeks.",
    "Will repeat obs in 1 h.",
    "Analgesia given, reassess after.",
    "GP letter to follow.",
]


def vitals(rng: random.Random, profile: str) -> str:
    """Return a short vitals string; ``profile`` nudges some numbers."""
    hr = rng.randint(62, 98)
    sbp = rng.randint(112, 142)
    dbp = rng.randint(68, 90)
    spo2 = rng.randint(95, 99)
    rr = rng.randint(12, 18)
    temp = round(rng.uniform(36.4, 37.4), 1)
    if profile == "cardiology":
        if rng.random() < 0.5:
            sbp, dbp = rng.randint(145, 185), rng.randint(90, 110)
        if rng.random() < 0.4:
            hr = rng.choice([rng.randint(40, 52), rng.randint(105, 148)])
    elif profile == "respiratory":
        spo2 = rng.randint(86, 94)
        rr = rng.randint(20, 30)
        if rng.random() < 0.4:
            temp = round(rng.uniform(37.8, 39.4), 1)
    elif profile == "gastroenterology":
        if rng.random() < 0.4:
            temp = round(rng.uniform(37.6, 38.8), 1)
        if rng.random() < 0.3:
            hr = rng.randint(100, 120)
    elif profile == "neurology":
        if rng.random() < 0.4:
            sbp, dbp = rng.randint(150, 190), rng.randint(85, 105)
    elif profile == "endocrinology":
        if rng.random() < 0.3:
            hr = rng.randint(100, 124)
    parts = {
        "bp": f"BP {sbp}/{dbp} mmHg",
        "hr": f"HR {hr} bpm",
        "spo2": f"SpO2 {spo2}% on RA",
        "rr": f"RR {rr}/min",
        "temp": f"T {temp} °C",
    }
    keys = list(parts)
    rng.shuffle(keys)
    chosen = keys[: rng.randint(2, 4)]
    return "Obs: " + ", ".join(parts[k] for k in chosen) + "."


# ---------------------------------------------------------------------------
# Per-class vocabulary
# ---------------------------------------------------------------------------

VOCAB = {
    "cardiology": {
        "symptoms": [
            "central chest pain radiating to the left arm",
            "crushing chest tightness on exertion",
            "palpitations", "intermittent palpitations at rest",
            "exertional CP relieved by rest",
            "worsening ankle swelling and orthopnoea",
            "SOB on exertion and PND",
            "a fluttering sensation in the chest",
            "pre-syncope while climbing stairs",
            "retrosternal pressure with sweating",
            "reduced exercise tolerance and leg oedema",
            "chest heaviness at rest",
        ],
        "history": [
            "known HTN", "prior MI", "HTN and hyperlipidaemia",
            "previous CABG", "known AF on apixaban", "ex-smoker with HTN",
            "heart failure (EF 35%)", "stable angina",
        ],
        "findings": [
            "ECG shows ST elevation in V2-V4.",
            "ECG: irregularly irregular rhythm, rate {hr2}.",
            "Troponin {trop} ng/L, repeat pending.",
            "ECG: new LBBB.",
            "Bibasal crackles and raised JVP.",
            "Echo: EF {ef}%, moderate MR.",
            "Pan-systolic murmur at the apex.",
            "ECG: T-wave inversion in lateral leads.",
            "BNP {bnp} pg/mL.",
            "Pitting oedema to mid-shin bilaterally.",
            "Holter requested for paroxysmal AF.",
        ],
        "negations": [
            "Denies fever.", "No focal neurology.",
            "NKDA.", "Denies syncope.",
            "No recent travel or leg swelling.",
        ],
        "plans": [
            "Aspirin 300 mg given, cardiology informed.",
            "Serial troponins and repeat ECG.",
            "Started on furosemide 40 mg IV.",
            "Rate control with bisoprolol; anticoagulation reviewed.",
            "Referred for urgent echo and cath lab review.",
            "ACS pathway started.",
        ],
    },
    "respiratory": {
        "symptoms": [
            "productive cough with green sputum",
            "worsening SOB and wheeze",
            "pleuritic chest pain and fever",
            "dry cough and breathlessness",
            "haemoptysis", "increased sputum and wheeze",
            "acute breathlessness after a viral illness",
            "nocturnal cough and chest tightness",
            "breathlessness on minimal exertion",
            "fever, rigors and cough",
            "audible wheeze not responding to inhaler",
        ],
        "history": [
            "known COPD", "asthma since childhood",
            "COPD on home O2", "30 pack-year smoker",
            "bronchiectasis", "recent URTI", "ILD under follow-up",
            "asthma on ICS/LABA",
        ],
        "findings": [
            "CXR: right lower lobe consolidation.",
            "Widespread expiratory wheeze on auscultation.",
            "PEFR {pefr} L/min ({pct}% predicted).",
            "ABG: pH 7.{ph}, pCO2 {pco2} kPa.",
            "Reduced air entry at the left base.",
            "CRP {crp} mg/L, WCC {wcc}.",
            "CT chest: spiculated nodule in the right upper lobe.",
            "Coarse crackles right base.",
            "CURB-65 score {curb}.",
            "Using accessory muscles, speaking in short sentences.",
        ],
        "negations": [
            "No calf tenderness.", "Denies chest pain.",
            "No recent travel.", "No night sweats.",
            "No sick contacts.",
        ],
        "plans": [
            "Nebulised salbutamol and ipratropium given.",
            "Started on amoxicillin and clarithromycin.",
            "Prednisolone 40 mg for 5 days.",
            "Controlled O2, target sats 88-92%.",
            "Sputum culture sent, respiratory review requested.",
            "Referred to chest clinic, 2WW.",
        ],
    },
    "gastroenterology": {
        "symptoms": [
            "epigastric pain after meals",
            "burning retrosternal discomfort worse lying flat",
            "RUQ pain and nausea", "haematemesis",
            "black tarry stools", "bloody diarrhoea",
            "crampy abdominal pain and bloating",
            "dysphagia to solids", "vomiting and loose stools",
            "change in bowel habit and weight loss",
            "jaundice and pale stools",
            "acid reflux and regurgitation",
        ],
        "history": [
            "known GERD", "Crohn's disease", "ulcerative colitis",
            "alcohol excess", "previous cholecystectomy",
            "IBS", "NSAID use for back pain", "known gallstones",
        ],
        "findings": [
            "Tender epigastrium, no guarding.",
            "Murphy's sign positive.",
            "Hb {hb} g/L, urea raised.",
            "LFTs: ALT {alt} U/L, bilirubin {bili} umol/L.",
            "Lipase {lipase} U/L.",
            "PR: melaena on glove.",
            "Abdomen soft, mildly tender in the RIF.",
            "USS: thickened gallbladder wall with stones.",
            "Faecal calprotectin {calpro} ug/g.",
            "OGD: grade B oesophagitis.",
            "Bowel sounds active, no distension.",
        ],
        "negations": [
            "No chest pain on exertion.", "Denies fever.",
            "No urinary symptoms.", "No PR bleeding.",
            "No recent antibiotics.",
        ],
        "plans": [
            "Started on omeprazole 40 mg.",
            "IV PPI and urgent OGD arranged.",
            "Blatchford score calculated, GI team informed.",
            "Referred for colonoscopy.",
            "NBM, IV fluids and surgical review.",
            "Stool cultures sent.",
        ],
    },
    "neurology": {
        "symptoms": [
            "sudden-onset right-sided weakness",
            "slurred speech and facial droop",
            "worst headache of life", "a generalised seizure",
            "transient loss of vision in one eye",
            "numbness and tingling in both feet",
            "recurrent migraine with aura",
            "word-finding difficulty",
            "unsteady gait and vertigo",
            "tremor at rest", "confusion and new-onset seizures",
            "left arm weakness that resolved in 30 minutes",
        ],
        "history": [
            "previous TIA", "epilepsy on levetiracetam",
            "prior CVA", "migraine", "multiple sclerosis",
            "Parkinson's disease", "known AF, not anticoagulated",
            "recent fall",
        ],
        "findings": [
            "GCS {gcs}/15.", "NIHSS {nihss}.",
            "CT head: no haemorrhage.",
            "Power 3/5 in the right upper limb.",
            "Left pupil sluggish.", "Positive Romberg.",
            "Neck stiffness and photophobia.",
            "Reduced sensation in a glove-and-stocking distribution.",
            "MRI: periventricular white matter lesions.",
            "Upgoing plantar on the left.",
            "Nystagmus on lateral gaze.",
            "FAST positive.",
        ],
        "negations": [
            "No head injury.", "No recent illness.",
            "No incontinence.", "No fever or rash.",
            "No tongue biting.",
        ],
        "plans": [
            "Stroke team bleeped, thrombolysis considered.",
            "LP planned after CT.",
            "Loaded with levetiracetam.",
            "Referred to TIA clinic within 24 h.",
            "EEG requested.",
            "Neurology review in the morning.",
        ],
    },
    "endocrinology": {
        "symptoms": [
            "polyuria and polydipsia", "unintentional weight loss",
            "heat intolerance and tremor", "cold intolerance and weight gain",
            "tiredness and hair thinning",
            "recurrent hypos overnight",
            "thirst and blurred vision",
            "a neck swelling", "excessive sweating and anxiety",
            "muscle weakness and easy bruising",
            "low mood and constipation",
            "vomiting with high glucose readings",
        ],
        "history": [
            "DM2 on metformin", "T1DM on basal-bolus insulin",
            "hypothyroidism on levothyroxine", "Graves' disease",
            "prediabetes", "long-term steroid use", "obesity, BMI 38",
            "previous thyroidectomy",
        ],
        "findings": [
            "HbA1c {a1c}%.", "Capillary glucose {bm} mmol/L.",
            "Ketones {ket} mmol/L, pH 7.{ph}.",
            "TSH {tsh} mU/L, free T4 {ft4} pmol/L.",
            "TSH <0.01 mU/L, raised free T3.",
            "Diffuse goitre, non-tender.",
            "Na {na} mmol/L, K {k} mmol/L.",
            "Morning cortisol {cort} nmol/L.",
            "Fine tremor and lid lag.",
            "Acanthosis nigricans noted.",
            "Calcium {ca} mmol/L, PTH raised.",
        ],
        "negations": [
            "No chest pain.", "No recent illness.",
            "No recent infection.", "NKDA.",
            "Denies fever.",
        ],
        "plans": [
            "DKA protocol started, FRIII.",
            "Metformin increased, diabetes nurse referral.",
            "Levothyroxine dose adjusted.",
            "Started carbimazole, TFTs in 4 weeks.",
            "Short Synacthen test arranged.",
            "Endocrinology clinic referral.",
        ],
    },
}

# Cross-specialty cues: sentences that point at (or are shared with) other
# specialties. They are added to some notes so that the task is not solvable
# by a single keyword.
AMBIGUOUS = {
    "cardiology": [
        "Also reports dizziness on standing.",
        "Some epigastric discomfort after meals.",
        "Feels tired all the time.",
        "Mild cough, no sputum.",
        "Had an episode of blurred vision yesterday.",
    ],
    "respiratory": [
        "Chest pain when coughing.",
        "Ankle swelling noted.",
        "Feels fatigued and has lost weight.",
        "Palpitations when breathless.",
        "Nausea after coughing fits.",
    ],
    "gastroenterology": [
        "Reports chest pain behind the sternum.",
        "Feels lightheaded and fatigued.",
        "Some SOB when bloated.",
        "Weight loss of 5 kg.",
        "Headache with the vomiting.",
    ],
    "neurology": [
        "Palpitations before the episode.",
        "Dizziness and nausea.",
        "Chest discomfort afterwards.",
        "Fatigue and weight loss noted.",
        "Glucose checked, within range.",
    ],
    "endocrinology": [
        "Also complains of palpitations.",
        "Feels dizzy and tired.",
        "Abdominal pain and nausea.",
        "Intermittent headaches.",
        "SOB on exertion.",
    ],
}


# Vague presenting complaints that fit several specialties; used as the
# opening complaint of ambiguous notes.
VAGUE_SYMPTOMS = [
    "dizziness", "fatigue", "chest discomfort", "nausea and lightheadedness",
    "feeling generally unwell", "episodes of sweating", "breathlessness",
    "a collapse at home", "weight loss", "headache and tiredness",
]


def fill_numbers(text: str, rng: random.Random) -> str:
    """Replace numeric placeholders with plausible random values."""
    values = {
        "hr2": rng.randint(110, 160),
        "trop": rng.choice([8, 14, 36, 88, 240, 1250]),
        "ef": rng.choice([25, 30, 35, 40, 45]),
        "bnp": rng.randint(350, 2400),
        "pefr": rng.randint(150, 380),
        "pct": rng.randint(35, 70),
        "ph": rng.randint(18, 38),
        "pco2": round(rng.uniform(4.2, 8.9), 1),
        "crp": rng.randint(20, 280),
        "wcc": round(rng.uniform(11.0, 21.5), 1),
        "curb": rng.randint(0, 3),
        "hb": rng.randint(68, 118),
        "alt": rng.randint(60, 540),
        "bili": rng.randint(22, 140),
        "lipase": rng.randint(300, 2600),
        "calpro": rng.randint(150, 900),
        "gcs": rng.randint(11, 15),
        "nihss": rng.randint(2, 16),
        "a1c": round(rng.uniform(6.8, 12.4), 1),
        "bm": round(rng.uniform(2.1, 28.9), 1),
        "ket": round(rng.uniform(0.8, 5.6), 1),
        "tsh": round(rng.uniform(5.5, 48.0), 1),
        "ft4": round(rng.uniform(4.0, 11.0), 1),
        "na": rng.randint(124, 146),
        "k": round(rng.uniform(3.1, 5.9), 1),
        "cort": rng.randint(40, 420),
        "ca": round(rng.uniform(2.65, 3.2), 2),
    }
    return text.format(**values)


def make_note(label: str, rng: random.Random) -> str:
    v = VOCAB[label]
    ambiguous = rng.random() < AMBIGUOUS_RATE
    code, sexw, sexn = rng.choice(SEXES)
    age = rng.randint(18, 92)
    # Ambiguous notes open with a vague, multi-specialty complaint.
    symptom = rng.choice(VAGUE_SYMPTOMS if ambiguous else v["symptoms"])
    opener = rng.choice(PATIENT_OPENERS).format(
        age=age, s=code, sexw=sexw, sexn=sexn,
        sym=symptom, dur=rng.choice(DURATIONS),
        hx=rng.choice(v["history"]),
    )
    sentences = [opener]

    extras = []
    if rng.random() < 0.6:
        extras.append(fill_numbers(rng.choice(v["findings"]), rng))
    if rng.random() < 0.4:
        extras.append(vitals(rng, label))
    if rng.random() < 0.35:
        extras.append(rng.choice(v["negations"]))
    if rng.random() < 0.3:
        extras.append(f"PMH: {rng.choice(v['history'])}.")
    if rng.random() < 0.35:
        extras.append(rng.choice(v["plans"]))
    if rng.random() < 0.15:
        extras.append(rng.choice(GENERIC_PLANS))
    rng.shuffle(extras)

    if ambiguous:
        # Keep at most one specialty-specific sentence and add a misleading
        # cross-specialty cue plus a neutral sentence, so that no single
        # keyword gives the answer away.
        sentences.extend(extras[:1])
        sentences.insert(rng.randint(1, len(sentences)), rng.choice(AMBIGUOUS[label]))
        sentences.append(rng.choice(GENERIC_PLANS))
    else:
        sentences.extend(extras[: rng.randint(1, 3)])
    return " ".join(sentences)


def generate(seed: int = SEED, per_class: int = ROWS_PER_CLASS) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    seen: set[str] = set()
    rows: list[tuple[str, str]] = []
    for label in CLASSES:
        count = 0
        attempts = 0
        while count < per_class:
            attempts += 1
            if attempts > per_class * 100:
                raise RuntimeError(f"could not generate enough unique notes for {label}")
            text = make_note(label, rng)
            n_words = len(text.split())
            if not 15 <= n_words <= 60 or text in seen:
                continue
            seen.add(text)
            rows.append((text, label))
            count += 1
    rng.shuffle(rows)
    return rows


def generate_short(seed: int = SEED, classes: int = 24, per_class: int = 42) -> list[tuple[str, str]]:
    """A harder shape for recipe tests: one short sentence per note, ``classes`` classes (a specialty and one of
    its presenting complaints, e.g. "cardiology 3"), ``per_class`` notes each (24 x 42 = 1,008 rows).

    Short texts in many classes are where a fixed small number of epochs undertrains a transformer and where a
    TF-IDF baseline is strong: the recipe and the baseline must both show it.
    """
    rng = random.Random(seed + 1)
    per_specialty = -(-classes // len(CLASSES))
    labels = [(spec, k) for k in range(per_specialty) for spec in CLASSES][:classes]
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for spec, k in labels:
        v = VOCAB[spec]
        symptom = v["symptoms"][k % len(v["symptoms"])]
        count = attempts = 0
        while count < per_class:
            attempts += 1
            if attempts > per_class * 200:
                raise RuntimeError(f"could not generate enough unique short notes for {spec} {k + 1}")
            code, sexw, sexn = rng.choice(SEXES)
            text = rng.choice(PATIENT_OPENERS).format(age=rng.randint(18, 92), s=code, sexw=sexw, sexn=sexn, sym=symptom,
                                                      dur=rng.choice(DURATIONS), hx=rng.choice(v["history"]))
            if text in seen:
                continue
            seen.add(text)
            rows.append((text, f"{spec} {k + 1}"))
            count += 1
    rng.shuffle(rows)
    return rows


def main() -> None:
    rows = generate()
    with OUT_PATH.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {OUT_PATH}")


if __name__ == "__main__":
    main()
