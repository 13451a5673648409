"""The experiments' work items and the worker that runs them (in-process or as Ray actors).

Two kinds of item, each a plain dict with its own seed:

- ``{"kind": "prepare", "path", "mid"}``: the sender side of one media item (MMA description,
  LKB extraction). It does not depend on the channel, so it runs once per item.
- ``{"kind": "send", "base", "snr_db", "variant", "lkb", "seed"[, "regen": False]}``: one
  transmission of a prepared message over a fresh simulated radio seeded with ``seed``, then the
  receiver side: LKB recovery, regeneration (the original withheld from any retrieval stand-in)
  and the MMA description of the regenerated media -- skipped with ``regen: False`` (channel-only
  rows of the ablation score the received text alone).

``item_seed(base_seed, *parts)`` derives an item's seed from the run seed and what the item is
(variant, SNR, trial, media item), so an item's result never depends on the order, the grouping or
the worker that ran it. Results are cached on disk by (item, resolved config, CACHE_VERSION):
deterministic items give the same result, so a rerun or another experiment reuses them.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from pathlib import Path

#: bump when an item's computation changes (invalidates the on-disk item cache)
CACHE_VERSION = "sweep/1"


def item_seed(base_seed: int, *parts) -> int:
    """A 31-bit seed from the run seed and the item's identity (stable across runs and machines)."""
    h = hashlib.sha256(json.dumps([int(base_seed), *map(str, parts)]).encode()).hexdigest()
    return int(h[:8], 16) & 0x7FFFFFFF


def models_fingerprint(cfg) -> str:
    """sha256 over the shipped checkpoints and the configured ones: the config digest alone does not
    change when a checkpoint file is replaced (CGE v2 -> v3), so cached items would mix models."""
    return _models_fp(tuple(str(p) for p in (cfg.estimator.checkpoint, cfg.semantic.checkpoint) if p))


@functools.lru_cache(maxsize=8)
def _models_fp(extra: tuple) -> str:
    from ..mma.fingerprint import file_sha256
    root = Path(__file__).resolve().parents[1]
    files = sorted(root.glob("*/checkpoints/*.pt")) + sorted(root.glob("*/checkpoints/*.onnx"))
    files += [Path(p) for p in extra if Path(p).is_file()]
    return hashlib.sha256(json.dumps([[f.name, file_sha256(f)] for f in files]).encode()).hexdigest()[:16]


def _key(item: dict, digest: str) -> str:
    return hashlib.sha256(json.dumps([CACHE_VERSION, digest, item], sort_keys=True, default=str)
                          .encode()).hexdigest()[:24]


def make_worker(cfg: dict, out_dir: str, cache: bool = True):
    """Worker factory for :func:`~lamsc_sdr.experiments.runner.run_items`: loads the models once
    (lazily, on first use) and returns ``run(item) -> dict``."""
    from ..config import config_from_mapping
    from ..pipeline import Stages
    base_cfg = config_from_mapping(cfg)
    stages = Stages(base_cfg)
    digest = f"{base_cfg.digest()}-{models_fingerprint(base_cfg)}"
    out = Path(out_dir)
    regen: dict = {}

    def run(item: dict) -> dict:
        path = out / "cache" / f"{_key(item, digest if item['kind'] == 'send' else base_cfg.digest())}.json"
        if cache and path.is_file():
            return json.loads(path.read_text())
        res = _prepare(stages, item) if item["kind"] == "prepare" else \
            _send(base_cfg, stages, item, out, regen if cache else {}, cache)
        if cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{id(res)}.tmp")
            tmp.write_text(json.dumps(res, default=float))
            tmp.replace(path)
        return res

    return run


def _prepare(stages, item: dict) -> dict:
    from ..pipeline import Sender
    rep = Sender(stages).prepare(item["path"], item["mid"])
    return rep.to_dict()


def _send(base_cfg, stages, item: dict, out: Path, regen: dict, cache: bool = True) -> dict:
    from ..pipeline import Link, MessageReport, Stages, score
    rep = MessageReport(**item["base"])
    if not item.get("lkb", True):
        rep.semantics_sent = rep.description          # the paper's "without LKB": the raw MMA text
    cfg = base_cfg.replace(channel={"snr_db": float(item["snr_db"])}, **(item.get("variant") or {}))
    cfg = dataclasses.replace(cfg, seed=int(item["seed"]))
    st = Stages(cfg, kb=stages.kb, codec=stages.codec)
    st._m2t, st._t2m = stages._m2t, stages._t2m        # models shared, loaded once per worker
    link = Link(cfg, stages=st)
    link.transmit([rep])
    if rep.text_received is not None and item.get("regen", True):
        # Regeneration is deterministic (same text, same original withheld -> same media), so it
        # is shared by every item, SNR and system that received the same text (memory + disk).
        key = (rep.modality, rep.source, rep.text_received)
        h = hashlib.sha256(json.dumps([CACHE_VERSION, base_cfg.digest(), models_fingerprint(base_cfg), *key])
                           .encode()).hexdigest()[:20]
        disk = out / "regen" / h / "regen.json"
        if key not in regen and cache and disk.is_file():
            regen[key] = tuple(json.loads(disk.read_text()))
        if key not in regen:
            link.receiver.finish(rep, disk.parent)
            regen[key] = (rep.text_personalized, rep.media_out, rep.description_out, rep.media_out_note)
            if cache:
                disk.write_text(json.dumps(regen[key]))
        rep.text_personalized, rep.media_out, rep.description_out, rep.media_out_note = regen[key]
    score([rep])
    d = rep.to_dict()
    keep = ("message_id", "modality", "source", "description", "semantics_sent", "text_received",
            "description_out", "media_out", "media_out_note", "similarity", "similarity_media", "snr_db",
            "channel_uses", "frames", "frame_samples", "raw_bytes")
    return {**{k: d[k] for k in keep}, "snr_db_set": float(item["snr_db"]), "seed": int(item["seed"]),
            "variant": item.get("name", "full"), "delivered": rep.text_received is not None,
            "regen": bool(item.get("regen", True))}
