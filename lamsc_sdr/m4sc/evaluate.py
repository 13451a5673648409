"""Per-task quality of the template's tasks at the sender (clean channel): ``lamsc m4sc eval-tasks``.

- describe: the image describer's text against reference captions we did not write for the
  system's output: the gallery's hand-written descriptions (n = 17, long, detailed) and, when the
  ``full`` evaluation set is built (``lamsc evalset build --size full``), the captions Debian's
  tuxpaint-stamps package ships with its photo stamps (n = 35, short: "A pelican."). Per source:
  sentence-embedding cosine (mean; share >= 0.6 with a Wilson interval; chance = mean cosine of
  mismatched pairs) and caption **retrieval** -- the share of items whose own reference is the
  nearest of all the source's references (R@1, chance 1/n), which does not depend on how verbose
  either text is.
- answer: exact match on ``data/questions.yaml`` (gallery photos and LibriVox clips).
- transcribe: corpus WER of Whisper on the LibriVox clips against their transcripts, with the
  word-error proportion's Wilson interval (errors / reference words).
- summarize: the receiver's text (LKB extract at the sender, recover at the receiver) scored the
  same ways against the references, plus its **fidelity**: cosine with the full description it
  summarizes (share >= 0.6), which separates the summary step from the describer's errors.
"""
from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import LamscError
from ..stats import proportion
from .template import TaskInstruction

log = logging.getLogger(__name__)


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


def caption_scores(hyps: list[str], refs: list[str], thr: float = 0.6) -> dict:
    """Cosine share >= ``thr`` (Wilson), mean, chance (mismatched pairs) and retrieval R@1 of
    ``hyps[i]`` against ``refs`` (its own reference the nearest of all), chance 1/n."""
    from ..semantic.similarity import embed
    e_h, e_r = embed(hyps), embed(refs)
    m = e_h @ e_r.T                                                     # (n, n) cosine
    n = len(hyps)
    diag = np.diag(m)
    chance = float((m.sum() - diag.sum()) / max(1, m.size - n))
    r1 = int(sum(int(np.argmax(m[i]) == i) for i in range(n)))
    return {**_share(diag, thr), "value": _share(diag, thr)["rate"], "chance_mean_cosine": chance,
            "retrieval_r1": proportion(r1, n), "retrieval_chance": 1.0 / max(n, 1), "cosines": [float(x) for x in diag]}


def caption_sets() -> dict[str, list[tuple[Path, str]]]:
    """``{source: [(image, reference caption)]}``: the gallery's hand-written descriptions, and the
    tuxpaint-stamps captions of the full evaluation set when it is built."""
    import yaml
    gal = yaml.safe_load(resources.files("lamsc_sdr.mma").joinpath("gallery/gallery.yaml").read_text())["images"]
    out = {"gallery": [(_media_path(f"gallery/{im['file']}"), str(im["description"])) for im in gal]}
    try:
        from ..experiments import evalsets
        man = evalsets.load("full", build_missing=False)
        tux = [(Path(it["path"]), str(it["reference"])) for it in man["items"]
               if it["modality"] == "image" and it.get("reference") and it["id"].startswith("tux_")]
        if tux:
            out["tuxpaint"] = tux
    except (LamscError, OSError, KeyError) as err:   # the full set is optional here (a network build)
        log.info("m4sc eval-tasks: no tuxpaint captions (%s)", err)
    return out


def evaluate_tasks(cfg, sender: str = "Mike", receiver: str = "Jane") -> dict:
    from ..mma.metrics import edit_counts, normalize
    from ..pipeline import Stages
    from ..semantic.similarity import similarity
    from .align_data import librivox
    from .qa import exact_match
    from .tasks import analyze, extract, generate
    st = Stages(cfg)
    sems: dict = {}
    cap_rows, by_src = [], {}
    for src, pairs in caption_sets().items():
        descs, summ = [], []
        for p, ref in pairs:
            sems[str(p)] = sem = analyze(p, st, "image")
            descs.append(sem.description)
            t = TaskInstruction("summarize", "image", receiver, content=str(p))
            summ.append(generate(t, extract(t, sem), st.kb, sender))
        refs = [r for _, r in pairs]
        d, m = caption_scores(descs, refs), caption_scores(summ, refs)
        fid = _share(similarity(summ, descs))
        by_src[src] = {"describe": d, "summarize": {**m, "fidelity_to_description": fid,
                                                    "mean_chars": float(np.mean([len(x) for x in summ])),
                                                    "description_mean_chars": float(np.mean([len(x) for x in descs]))}}
        cap_rows += [{"source": src, "media": p.name, "description": dd, "reference": r, "cosine": c, "summary": mm,
                      "summary_cosine": sc}
                     for (p, r), dd, mm, c, sc in zip(pairs, descs, summ, d["cosines"], m["cosines"])]
    pooled_d = np.array([r["cosine"] for r in cap_rows])
    pooled_s = np.array([r["summary_cosine"] for r in cap_rows])
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
    gal = by_src["gallery"]
    tasks = {
        "describe": {"metric": "caption cosine >= 0.6 (share, pooled sources)", "value": _share(pooled_d)["rate"],
                     **_share(pooled_d), "by_source": {k: v["describe"] for k, v in by_src.items()},
                     "chance_mean_cosine": gal["describe"]["chance_mean_cosine"]},
        "answer": {"metric": "exact match", "value": k / max(len(qa_rows), 1), **proportion(k, len(qa_rows))},
        "transcribe": {"metric": "WER", "value": errs / max(words, 1), "n": words, "errors": errs,
                       "ci_low": wer_p["ci_low"], "ci_high": wer_p["ci_high"]},
        "summarize": {"metric": "caption cosine >= 0.6 (share, pooled sources)", "value": _share(pooled_s)["rate"],
                      **_share(pooled_s), "by_source": {k: v["summarize"] for k, v in by_src.items()}},
    }
    return {"tasks": tasks, "qa": qa_rows, "wer": wer_rows, "describe": cap_rows}
