"""Answering a question about a media item from the describers' evidence (offline, rule-based).

No instruction-following multimodal LLM runs offline here at a usable speed (the shipped 0.5 B
Qwen takes ~60 s to load and sees no pixels), so the ``answer`` task reads the evidence the
describers already produced: the ImageNet classifier's coarse group and top class, the
face/body counts, the scene statistics (black-and-white, dominant colours) and, for speech, the
transcript. Questions outside these patterns are answered with the description sentence closest
to the question (sentence embeddings). :func:`exact_match` scores answers against gold lists.

Patterns (case-insensitive): ``how many people|persons|faces`` -> a count; ``black and white |
grayscale | colour photo`` -> yes/no; ``what colour`` -> the dominant colour; ``what (is|animal|
object|kind)`` -> the main subject; ``does it (say|mention) X`` / ``is X mentioned`` -> yes/no;
``how many words`` -> the transcript's word count.
"""
from __future__ import annotations

import re

_NUM = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
_ART = re.compile(r"^(a|an|the|some)\s+")
_SUBJECT = re.compile(r"^A photo of (?:what may be )?(.+?)(?: \(|,| with|\.|$)", re.I)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and a leading article (the exact-match normal form)."""
    t = re.sub(r"[^\w\s'-]", " ", text.lower()).strip()
    t = re.sub(r"\s+", " ", t)
    return _ART.sub("", t)


def exact_match(answer: str, gold: list[str]) -> bool:
    """True when the normalized answer equals one of the normalized gold answers."""
    a = normalize_answer(answer)
    return any(a == normalize_answer(g) for g in gold)


_WORDNUM = {w: i for i, w in enumerate(_NUM)} | {"a": 1, "an": 1}


def _subject(sem) -> str | None:
    ev = sem.evidence
    groups = ev.get("groups") or {}
    if groups:
        g, p = max(groups.items(), key=lambda kv: kv[1])
        if p >= 0.5:
            return g
    top = ev.get("top5") or []
    if top and top[0][1] >= 0.3:
        return str(top[0][0]).split(",")[0]
    m = _SUBJECT.match(sem.description.strip())
    return m.group(1).strip() if m else None


def facts(sem) -> dict:
    """What questions can be answered from: the describers' evidence when there is some, else the
    text itself (a receiver holds only text). Unknown facts are None."""
    ev, text = sem.evidence, sem.description.lower()
    if ev.get("scene"):
        return {"people": max(int(ev.get("faces", 0)), int(ev.get("bodies", 0))),
                "bw": bool(ev["scene"].get("grayscale")),
                "colour": (ev["scene"].get("colours") or [None])[0], "subject": _subject(sem)}
    out = {"people": None, "bw": None, "colour": None, "subject": _subject(sem)}
    m = re.search(r"\b(\w+) (?:faces? visible|people|persons)\b", text)
    if m and m.group(1) in _WORDNUM:
        out["people"] = _WORDNUM[m.group(1)]
    elif re.search(r"\ba person\b", text):
        out["people"] = 1
    elif text.startswith("a photo of"):
        out["people"] = 0
    if "black-and-white" in text or "black and white" in text:
        out["bw"] = True
    elif "the scene is" in text:
        out["bw"] = False
    m = re.search(r"\bmostly (\w+)", text)
    out["colour"] = m.group(1) if m else None
    return out


def answer_from(question: str, sem) -> str | None:
    """The answer to ``question`` from ``sem``'s facts and transcript, or None if they do not hold it."""
    q = question.lower()
    f = facts(sem)
    words = re.findall(r"[\w']+", sem.transcript.lower())
    if re.search(r"how many (people|persons|faces)", q):
        n = f["people"]
        return None if n is None else (_NUM[n] if n < len(_NUM) else str(n))
    if re.search(r"black.and.white|gr[ae]yscale|colou?r photo", q):
        return None if f["bw"] is None else ("yes" if f["bw"] == ("black" in q or "scale" in q) else "no")
    if re.search(r"what colou?r", q):
        return f["colour"]
    m = re.search(r"(?:does it|do they|does (?:he|she|the \w+)) (?:say|mention|talk about) (.+?)\??$", q) \
        or re.search(r"is (.+?) mentioned", q)
    if m and sem.transcript:
        key = re.findall(r"[\w']+", _ART.sub("", m.group(1).strip()))
        hit = bool(key) and any(words[i:i + len(key)] == key for i in range(len(words)))
        return "yes" if hit else "no"
    if re.search(r"how many words", q) and sem.transcript:
        return _NUM[len(words)] if len(words) < len(_NUM) else str(len(words))
    if re.search(r"\bwhat\b.*\b(is|animal|object|kind|thing|shown|picture|photo|image)\b", q) and sem.modality != "audio":
        return f["subject"]
    return None


def answer_question(question: str, sem) -> str:
    """``question`` about the media of ``sem`` (a tasks.MediaSemantics) -> a short answer; questions
    outside the patterns get the description sentence closest to them."""
    a = answer_from(question, sem)
    return a if a is not None else _closest_sentence(question, sem)


def _closest_sentence(question: str, sem) -> str:
    from ..semantic.similarity import embed
    from .tasks import sentences
    cands = sentences(sem.description) + sentences(sem.transcript)
    if not cands:
        return sem.description
    e = embed([question] + cands)
    return cands[int((e[1:] @ e[0]).argmax())]
