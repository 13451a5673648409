"""Sender extraction and receiver generation, both driven by the task template.

The sender analyses the media once (:func:`analyze`: the LAM-MSC room's describers through their
public factory -- offline image describer, Whisper, frame+soundtrack video describer) and then
extracts, per template, the semantics that user needs (:func:`extract`):

============  ==============================================  ===============================
task          sender extracts (what is transmitted)            receiver generates
============  ==============================================  ===============================
describe      the media description                           the received text
answer        "the answer is X." -- X answers ``instruction``  X (the received sentence without
              (rules over the describers' evidence, :mod:`.qa`)  its "the answer is" frame)
transcribe    the transcript of the speech                     the received text
summarize     the description's first sentence, personalized   the LKB's ``recover`` of it for
              by the LKB for the receiver (``kb.extract``)     the user (profiles stay local)
============  ==============================================  ===============================

``run_task(template, ...)`` is the whole task at clean channel: it is what ``lamsc m4sc task``
prints and the reference a received text is scored against.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .qa import answer_question
from .template import TaskInstruction

_SENT = re.compile(r"(?<=[.!?])\s+")
_ABBREV = re.compile(r"\b(mr|mrs|ms|dr|st|prof|sr|jr|vs|etc|no)\.$", re.I)
ANSWER_PREFIX = "the answer is "


def sentences(text: str) -> list[str]:
    """Split text into sentences (the units the sharing mechanism works on); a period after
    Mr, Mrs, Dr, St... does not end a sentence."""
    out: list[str] = []
    for piece in (s.strip() for s in _SENT.split(text.strip())):
        if not piece:
            continue
        if out and _ABBREV.search(out[-1]):
            out[-1] += " " + piece
        else:
            out.append(piece)
    return out


@dataclass
class MediaSemantics:
    """What the sender's describers found in one media item."""

    path: str
    modality: str
    description: str
    transcript: str = ""
    evidence: dict = field(default_factory=dict)
    backend: str = ""


def analyze(path: str | Path, stages, modality: str | None = None) -> MediaSemantics:
    """Describe ``path`` once with the run config's describers (``stages``: a pipeline.Stages)."""
    from ..mma import detect_modality
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"no such media file: {p}")
    modality = modality or detect_modality(p)
    if modality not in ("image", "audio", "video"):
        raise ConfigError(f"{p}: M4SC tasks are about image, audio or video media, not {modality}")
    res = stages.media_to_text(modality).describe(p)
    transcript = res.text if modality == "audio" else str(res.details.get("transcript", "") or "")
    return MediaSemantics(str(p), modality, res.text.strip(), transcript.strip(), dict(res.details), res.backend)


def extract(t: TaskInstruction, sem: MediaSemantics, kb, sender: str) -> str:
    """The semantics the sender transmits for template ``t`` (see the module table)."""
    if t.modality != sem.modality:
        raise ConfigError(f"template.modality {t.modality!r} does not match the content ({sem.modality})")
    if t.task == "describe":
        return sem.description
    if t.task == "transcribe":
        if not sem.transcript:
            raise ConfigError(f"template.task: transcribe, but {Path(sem.path).name} has no speech")
        return sem.transcript
    if t.task == "answer":
        return f"{ANSWER_PREFIX}{answer_question(t.instruction, sem)}."
    first = sentences(sem.transcript if sem.modality == "audio" else sem.description)[:1]
    return kb.extract(first[0] if first else sem.description, sender, t.user, t.instruction or None)


def generate(t: TaskInstruction, received: str, kb, sender: str) -> str:
    """The receiver's output for template ``t`` from the recombined received semantics."""
    if t.task == "summarize":
        return kb.recover(received, sender, t.user)
    if t.task == "answer":
        low = received.strip().lower()
        return received.strip()[len(ANSWER_PREFIX):].rstrip(".").strip() if low.startswith(ANSWER_PREFIX) \
            else received.strip()
    return received


def run_task(t: TaskInstruction, stages, sender: str = "Mike", sem: MediaSemantics | None = None) -> dict:
    """A task by template alone, over a clean channel: {template, semantics, output}."""
    sem = sem or analyze(t.content, stages, t.modality)
    text = extract(t, sem, stages.kb, sender)
    return {"template": t.render(), "semantics": text, "output": generate(t, text, stages.kb, sender),
            "description": sem.description, "backend": sem.backend}
