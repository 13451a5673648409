"""The whole LAM-MSC chain: Sender, Receiver and Link compose the stages through their interfaces.

::

    SENDER    media --MMA.describe--> description --LKB.extract--> semantics
              semantics --SC.encode--> symbols --frames--> Radio.tx
    RECEIVER  Radio.rx --FrameReceiver (sync, estimator, equalizer)--> symbols, noise variance
              --SC.decode--> received semantics --LKB.recover--> personalized text
              --MMA.render--> regenerated media

The pipeline never asks which implementation it holds: MMA, LLM, estimator and radio backends
all come from the one :class:`~lamsc_sdr.config.RunConfig`. Every stage's output and latency is
kept in a :class:`MessageReport`.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .config import RunConfig
from .errors import ConfigError

log = logging.getLogger(__name__)

MODALITY_CODE = {"text": 0, "image": 1, "audio": 2, "video": 3}
MODALITY_NAME = {v: k for k, v in MODALITY_CODE.items()}


@dataclass
class MessageReport:
    """Everything one message went through. Texts at every stage, similarity, sizes, latencies."""

    message_id: int
    modality: str
    source: str
    description: str = ""
    semantics_sent: str = ""
    text_received: str | None = None
    text_personalized: str | None = None
    media_out: str | None = None
    media_out_note: str | None = None        # how media_out was made ("retrieved ... (original excluded)")
    description_out: str | None = None       # media_out described again by the receiver's MMA
    similarity: float | None = None          # semantics_sent vs text_received
    similarity_media: float | None = None    # description vs description_out (the paper's metric)
    snr_db: float | None = None              # the receiver's SNR estimate over the message's frames
    channel_uses: int = 0                    # complex symbols of the semantic payload
    frames: int = 0
    frame_samples: int = 0                   # IQ samples on the air, preamble/header/pilots included
    raw_bytes: int = 0
    mma_backend: str = ""
    kb_backend: str = ""
    labels: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


class _Timer:
    def __init__(self, into: dict, name: str):
        self.into, self.name = into, name

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        self.into[self.name] = self.into.get(self.name, 0.0) + time.perf_counter() - self.t0


class Stages:
    """Lazily built, per-process stage backends of one run config (models load once)."""

    def __init__(self, cfg: RunConfig, *, kb=None, codec=None):
        self.cfg = cfg
        self._kb = kb
        self._codec = codec
        self._m2t: dict = {}
        self._t2m: dict = {}

    @property
    def kb(self):
        if self._kb is None:
            from .kb import KnowledgeBase
            self._kb = KnowledgeBase.from_config(self.cfg.kb)
        return self._kb

    @property
    def codec(self):
        if self._codec is None:
            from .semantic.codec import SemanticCodec
            self._codec = SemanticCodec.load(self.cfg.semantic.checkpoint)
        return self._codec

    def media_to_text(self, modality: str):
        if modality not in self._m2t:
            from .mma import make_media_to_text
            self._m2t[modality] = make_media_to_text(modality, self.cfg.mma)
        return self._m2t[modality]

    def text_to_media(self, modality: str):
        if modality not in self._t2m:
            from .mma import make_text_to_media
            self._t2m[modality] = make_text_to_media(modality, self.cfg.mma, seed=self.cfg.seed)
        return self._t2m[modality]

    @property
    def kb_backend(self) -> str:
        return "rules (deterministic)" if self.cfg.kb.llm == "rules" else f"{self.cfg.kb.llm} LLM + rules"


class Sender:
    """media file -> description -> personalized semantics (the text that is transmitted)."""

    def __init__(self, stages: Stages):
        self.st = stages

    def prepare(self, path: str | Path, message_id: int) -> MessageReport:
        from .mma import detect_modality
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"no such media file: {path}")
        modality = detect_modality(path)
        rep = MessageReport(message_id=message_id, modality=modality, source=str(path),
                            raw_bytes=path.stat().st_size)
        cfg = self.st.cfg
        if modality == "text":
            rep.description = path.read_text(encoding="utf-8", errors="replace").strip()
            rep.mma_backend = "text file"
        else:
            with _Timer(rep.stage_seconds, "mma_to_text"):
                res = self.st.media_to_text(modality).describe(path)
            rep.description, rep.mma_backend = res.text, res.backend
            if res.offline_fallback:
                rep.labels.append(f"{modality}->text: offline default ({res.backend})")
        with _Timer(rep.stage_seconds, "lkb_extract"):
            rep.semantics_sent = self.st.kb.extract(rep.description, cfg.kb.sender, cfg.kb.receiver, cfg.kb.intent)
        rep.kb_backend = self.st.kb_backend
        return rep


class Receiver:
    """received semantics -> personalized text -> regenerated media (+ its description)."""

    def __init__(self, stages: Stages):
        self.st = stages

    def finish(self, rep: MessageReport, out_dir: Path | None, describe_back: bool = True) -> MessageReport:
        cfg = self.st.cfg
        if rep.text_received is None:
            return rep
        with _Timer(rep.stage_seconds, "lkb_recover"):
            rep.text_personalized = self.st.kb.recover(rep.text_received, cfg.kb.sender, cfg.kb.receiver)
        if rep.modality == "text" or out_dir is None:
            return rep
        ext = {"image": ".png", "audio": ".wav", "video": ".mp4"}[rep.modality]
        out = Path(out_dir) / f"msg{rep.message_id}_{rep.modality}_regenerated{ext}"
        with _Timer(rep.stage_seconds, "mma_to_media"):
            # The media is generated from the received semantics, not the personalized rewrite:
            # the rewrite is for the person reading; the picture must match what was sent.
            # A retrieval stand-in never holds the item under test: the original is withheld by
            # content fingerprint (file, pixels, perceptual hash), so nothing leaks into the score.
            # (``lamsc receive`` in another process has no original: the note then says so.)
            t2m = self.st.text_to_media(rep.modality)
            withheld = t2m.retrieval and Path(rep.source).is_file()
            if withheld:
                from .mma.fingerprint import media_fingerprint
                with t2m.excluding(media_fingerprint(rep.source)):
                    res = t2m.render(rep.text_received, out)
            else:
                res = t2m.render(rep.text_received, out)
        rep.media_out = str(res.path)
        rep.media_out_note = res.details.get("note")
        if res.offline_fallback:
            how = ": retrieved from the receiver's gallery" + (" (original excluded)" if withheld else "") \
                if t2m.retrieval else ""
            rep.labels.append(f"text->{rep.modality}: offline default ({res.backend}){how}")
        if describe_back:
            with _Timer(rep.stage_seconds, "mma_describe_back"):
                rep.description_out = self.st.media_to_text(rep.modality).describe(res.path).text
        return rep


class Link:
    """Sender -> frames -> radio -> frames -> Receiver, for any radio backend.

    ``run(paths)`` returns ``{"frames": {...}, "messages": [MessageReport dicts]}`` and keeps the
    received frames in ``self.frames`` for plots.
    """

    def __init__(self, cfg: RunConfig, radio=None, *, stages: Stages | None = None):
        self.cfg = cfg
        self.st = stages or Stages(cfg)
        self.sender = Sender(self.st)
        self.receiver = Receiver(self.st)
        self._radio = radio
        self.frames: list = []

    def radio(self):
        if self._radio is None:
            from .radio import make_radio
            self._radio = make_radio(self.cfg.radio, self.cfg)
        return self._radio

    def prepare(self, paths) -> list[MessageReport]:
        return [self.sender.prepare(p, i + 1) for i, p in enumerate(paths)]

    def transmit(self, reports: list[MessageReport], *, record=None, max_samples: int | None = None) -> dict:
        """Carry every report's ``semantics_sent`` over the radio; fills text_received, frames,
        channel uses, the receiver's SNR estimate. Returns the frame counts summed over messages.

        Each message is its own transmission (``radio.tx`` call), as messages sent at different
        times are: on the sim radio each sees its own channel realization, so one deep fade costs
        one message, not all. A simulated radio also hands the receiver its true channel
        (``RxFrame.h_true``); the ``perfect`` estimator needs it and fails clearly elsewhere.
        ``record``: SigMF base path for the received stream (``BASE_msgN`` when several messages).
        ``max_samples``: receive budget per message (``lamsc link --max-samples``).
        """
        from .transport import run_link
        cfg = self.cfg
        totals = {"sent": 0, "detected": 0, "crc_ok": 0, "lost": 0}
        codec = self.st.codec
        self.frames, self.link_results = [], []
        for r in reports:
            keep: dict = {}
            rec = None if record is None else (record if len(reports) == 1 else f"{record}_msg{r.message_id}")
            t0 = time.perf_counter()
            res = run_link(self.radio(), cfg, [r.semantics_sent], record=rec, codec="semantic", semantic=codec,
                           max_samples=max_samples,
                           modalities=[MODALITY_CODE[r.modality]], first_id=r.message_id, keep=keep,
                           truth=lambda radio, plan: sim_truth(radio, plan, cfg.frame,
                                                               required=cfg.estimator.kind == "perfect"))
            # SC encode, framing, radio, PHY receive and SC decode of this message
            r.stage_seconds["sc_and_phy_link"] = time.perf_counter() - t0
            plan = keep["plan"]
            r.frames = len(plan.frames)
            r.channel_uses = int(sum(f.symbols.size for f in plan.frames))
            r.frame_samples = int(sum(f.length for f in plan.frames))
            r.text_received = res["messages"][0]["text_received"]
            ok = [f for f in keep["frames"] if f.status == "ok"]
            r.snr_db = float(np.mean([f.snr_db for f in ok])) if ok else None
            self.frames += keep["frames"]
            self.link_results.append(res)
            for k in totals:
                totals[k] += int(res["frames"].get(k, 0))
        return totals

    def run(self, paths, out_dir: str | Path | None = None, describe_back: bool = True) -> dict:
        reports = self.prepare(paths)
        frames = self.transmit(reports)
        for r in reports:
            self.receiver.finish(r, Path(out_dir) if out_dir else None, describe_back)
        score(reports)
        return {"frames": frames, "messages": [r.to_dict() for r in reports]}


def sim_truth(radio, plan, frame_cfg, required: bool = False):
    """The true channel of a simulated radio (the perfect-CSI oracle, and ``RxFrame.h_true`` for
    plots); None for radios that cannot know it, an error if perfect CSI was ``required``."""
    if not getattr(radio, "bursts", None):
        if required:
            raise ConfigError(f"perfect CSI needs the sim radio (it knows its channel); got {radio.backend!r}")
        return None
    from .phy.genie import sim_radio_truth
    return sim_radio_truth(radio, plan, frame_cfg)


def score(reports: list[MessageReport]) -> None:
    """Sentence-embedding cosine similarities: sent vs received semantics, and original vs
    regenerated media descriptions. Lost messages score 0 (nothing arrived)."""
    from .semantic.similarity import similarity
    pairs = [(r.semantics_sent, r.text_received) for r in reports if r.text_received is not None]
    sims = iter(similarity([a for a, _ in pairs], [b for _, b in pairs]) if pairs else [])
    for r in reports:
        r.similarity = float(next(sims)) if r.text_received is not None else 0.0
    pairs = [(r.description, r.description_out) for r in reports if r.description_out]
    sims = iter(similarity([a for a, _ in pairs], [b for _, b in pairs]) if pairs else [])
    for r in reports:
        if r.description_out:
            r.similarity_media = float(next(sims))


def summary_rows(reports: list[dict]) -> list[dict]:
    """One row a message for the printed table and the report page."""
    rows = []
    for m in reports:
        rows.append({"modality": m["modality"], "source": Path(m["source"]).name,
                     "similarity": None if m["similarity"] is None else round(m["similarity"], 3),
                     "media similarity": None if m.get("similarity_media") is None else round(m["similarity_media"], 3),
                     "channel uses": m["channel_uses"], "raw bytes": m["raw_bytes"],
                     "compression": f"{8 * m['raw_bytes'] / max(64 * m['channel_uses'], 1):.0f}x" if m["channel_uses"] else "-",
                     "rx SNR dB": None if m.get("snr_db") is None else round(m["snr_db"], 1),
                     "frames": m["frames"], "verdict": verdict_of(m)})
    return rows


def verdict_of(m: dict) -> str:
    """``correct`` (similarity >= the threshold), ``garbled`` (arrived, below it) or ``lost``."""
    from .verdict import SIMILARITY_THRESHOLD, delivered
    if m.get("text_received") is None:
        return "lost"
    return "correct" if delivered(m) else f"garbled (< {SIMILARITY_THRESHOLD:g})"


def format_table(rows: list[dict]) -> str:
    if not rows:
        return "(no messages)"
    cols = list(rows[0])
    cells = [[str(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths))
    out = [line, "-" * len(line)]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(out)


def symbols_of(frames) -> tuple[np.ndarray, np.ndarray]:
    """Raw received data REs and equalized symbols of the delivered frames (for plots)."""
    raw, eq = [], []
    for fr in frames:
        if fr.grid is not None and fr.symbols is not None:
            raw.append(np.asarray(fr.grid).ravel())
            eq.append(np.asarray(fr.symbols).ravel())
    if not raw:
        return np.zeros(0, np.complex64), np.zeros(0, np.complex64)
    return np.concatenate(raw), np.concatenate(eq)
