"""Per-task quality of the template's tasks at the sender (clean channel): ``lamsc m4sc eval-tasks``.

- describe: the image describer's text against the gallery's hand-written descriptions
  (sentence-embedding cosine): mean, and the share >= 0.6 with a Wilson interval; the chance
  level is the mean cosine of mismatched (description, other image's caption) pairs.
- answer: exact match on ``data/questions.yaml`` (gallery photos and LibriVox clips).
- transcribe: corpus WER of Whisper on the LibriVox clips against their transcripts, with the
  word-error proportion's Wilson interval (errors / reference words).
- summarize: the receiver's text (LKB extract at the sender, recover at the receiver) against the
  hand-written description of the same image: mean cosine and share >= 0.6.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from ..stats import proportion
from .template import TaskInstruction


def _questions() -> list[dict]:
    import yaml
    return yaml.safe_load(resources.files("lamsc_sdr.m4sc").joinpath("data/questions.yaml").read_text())["items"]


def _media_path(ref: str) -> Path:
    from .align_data import LIBRIVOX
    kind, name = ref.split("/", 1)
    if kind == "gallery":
        return Path(str(resources.files("lamsc_sdr.mma").joinpath("gallery", name)))
    return LIBRIVOX / name


def _share(sims: np.ndarray, thr: float = 0.6) -> dict:
    return {"mean": float(np.mean(sims)), **proportion(int((sims >= thr).sum()), len(sims)), "threshold": thr}


def evaluate_tasks(cfg, sender: str = "Mike", receiver: str = "Jane") -> dict:
    import yaml

    from ..mma.metrics import edit_counts, normalize
    from ..pipeline import Stages
    from ..semantic.similarity import embed, similarity
    from .align_data import librivox
    from .qa import exact_match
    from .tasks import analyze, extract, generate
    st = Stages(cfg)
    gal = yaml.safe_load(resources.files("lamsc_sdr.mma").joinpath("gallery/gallery.yaml").read_text())["images"]
    sems = {}
    descs, refs, summ = [], [], []
    for im in gal:
        p = _media_path(f"gallery/{im['file']}")
        sems[str(p)] = sem = analyze(p, st, "image")
        descs.append(sem.description)
        refs.append(str(im["description"]))
        t = TaskInstruction("summarize", "image", receiver, content=str(p))
        summ.append(generate(t, extract(t, sem), st.kb, sender))
    sd = similarity(descs, refs)
    e_d, e_r = embed(descs), embed(refs)
    off = e_d @ e_r.T
    chance = float((off.sum() - np.trace(off)) / (off.size - len(descs)))
    ss = similarity(summ, refs)
    qa_rows, k = [], 0
    for item in _questions():
        p = _media_path(item["media"])
        modality = "image" if item["media"].startswith("gallery/") else "audio"
        if not p.is_file():
            continue
        sem = sems.get(str(p)) or sems.setdefault(str(p), analyze(p, st, modality))
        for q in item["questions"]:
            t = TaskInstruction("answer", modality, receiver, q["q"], str(p))
            ans = generate(t, extract(t, sem), st.kb, sender)
            ok = exact_match(ans, [str(g) for g in q["gold"]])
            k += ok
            qa_rows.append({"media": item["media"], "question": q["q"], "answer": ans, "gold": q["gold"], "exact": ok})
    errs = words = 0
    wer_rows = []
    for wav, ref in librivox():
        sem = sems.get(str(wav)) or sems.setdefault(str(wav), analyze(wav, st, "audio"))
        t = TaskInstruction("transcribe", "audio", receiver, content=str(wav))
        hyp = generate(t, extract(t, sem), st.kb, sender)
        c = edit_counts(normalize(ref.replace("mister", "mr")), normalize(hyp.replace("Mr.", "mr")))
        errs += c["sub"] + c["del"] + c["ins"]
        words += c["ref_words"]
        wer_rows.append({"media": wav.name, "reference": ref, "hypothesis": hyp, **c})
    wer_p = proportion(min(errs, words), words) if words else proportion(0, 0)
    tasks = {
        "describe": {"metric": "caption cosine >= 0.6 (share)", "value": _share(sd)["rate"], **_share(sd),
                     "chance_mean_cosine": chance},
        "answer": {"metric": "exact match", "value": k / max(len(qa_rows), 1), **proportion(k, len(qa_rows))},
        "transcribe": {"metric": "WER", "value": errs / max(words, 1), "n": words, "errors": errs,
                       "ci_low": wer_p["ci_low"], "ci_high": wer_p["ci_high"]},
        "summarize": {"metric": "caption cosine >= 0.6 (share)", "value": _share(ss)["rate"], **_share(ss)},
    }
    return {"tasks": tasks, "qa": qa_rows, "wer": wer_rows,
            "describe": [{"media": im["file"], "description": d, "reference": r, "cosine": float(s), "summary": m}
                         for im, d, r, s, m in zip(gal, descs, refs, sd, summ)]}
