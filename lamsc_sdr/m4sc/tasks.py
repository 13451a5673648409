"""Sender extraction and receiver generation, both driven by the task template.

The sender analyses the media once (:func:`analyze`: the LAM-MSC room's describers through their
public factory -- offline image describer, Whisper, frame+soundtrack video describer) and then
extracts, per template, the semantics that user needs (:func:`extract`); the receiver turns what
it received into the task's output (:func:`generate`):

- ``describe``: sends the media description; the receiver outputs it.
- ``transcribe``: sends the transcript; the receiver outputs it.
- ``answer``: sends "the answer is X." (X from :mod:`.qa` over the describers' evidence); the
  receiver outputs X -- or, when it received no such sentence (the sharing mechanism found the
  answer readable off public semantics, :func:`derive`), reads X off the text it received.
- ``summarize``: sends the description's first sentence (the transcript's, for speech); the
  receiver's LKB personalizes it for the user from its local prompt base (``kb.extract`` then
  ``kb.recover`` with the sender's and the user's profiles, as LAM-MSC's receiver does): the
  profiles never travel.

``run_task(template, ...)`` is the whole task at clean channel: it is what ``lamsc m4sc task``
prints and the reference a received text is scored against.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .qa import answer_from, answer_question
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


def extract(t: TaskInstruction, sem: MediaSemantics) -> str:
    """The semantics the sender transmits for template ``t`` (see the module docstring)."""
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
    return first[0] if first else sem.description


def _text_semantics(t: TaskInstruction, text: str) -> MediaSemantics:
    """What a receiver knows: only text (no describer evidence)."""
    return MediaSemantics("", t.modality, text, text if t.modality == "audio" else "", {})


def derive(t: TaskInstruction, text: str) -> str | None:
    """The semantics of ``t`` if the receiver can read them off ``text`` alone, else None (answer task only)."""
    if t.task != "answer":
        return None
    a = answer_from(t.instruction, _text_semantics(t, text))
    return None if a is None else f"{ANSWER_PREFIX}{a}."


def generate(t: TaskInstruction, received: str, kb, sender: str) -> str:
    """The receiver's output for template ``t`` from the recombined received semantics."""
    if t.task == "summarize":
        return kb.recover(kb.extract(received, sender, t.user, t.instruction or None), sender, t.user)
    if t.task == "answer":
        for s in sentences(received):
            if s.lower().startswith(ANSWER_PREFIX):
                return s[len(ANSWER_PREFIX):].rstrip(".").strip()
        return answer_question(t.instruction, _text_semantics(t, received))
    return received


def run_task(t: TaskInstruction, stages, sender: str = "Mike", sem: MediaSemantics | None = None) -> dict:
    """A task by template alone, over a clean channel: {template, semantics, output}."""
    sem = sem or analyze(t.content, stages, t.modality)
    text = extract(t, sem)
    return {"template": t.render(), "semantics": text, "output": generate(t, text, stages.kb, sender),
            "description": sem.description, "backend": sem.backend}
