"""Training of the DeepSC-style codec: crossed training with cross-entropy and MINE.

Crossed training (Xie et al. 2021): the steps alternate between a *semantic phase*
(semantic encoder/decoder + embeddings trained with cross-entropy, channel encoder/decoder frozen)
and a *channel phase* (channel encoder/decoder trained with ``CE - mi_weight * I_MINE(x; y)``,
semantic encoder/decoder frozen). The MINE statistics network is trained at every step to
maximize its lower bound on the mutual information between transmitted and received symbols.
Every sentence draws its own SNR (uniform in dB) and channel (AWGN, or Rayleigh with imperfect CSI).

Held-out sentences: ``sha256(sentence) % 1000 < holdout_permille`` -- never trained on (the
tokenizer too is trained on the training split only).

Fine-tuning (``semantic.train.init`` / ``--init``): start from a trained checkpoint, keep its
tokenizer (no new one is trained) and weights; the model fields must match. Caption mix
(``semantic.train.mix_captions`` / ``--mix-captions F``): ``n_captions`` caption-style messages
from :mod:`.captions` (seed = run seed; hash-held-out captions dropped), split into model-sized
segments as the codec would send them; each batch pool draws a share F of its sentences from
them. The checkpoint records the init checkpoint's hash and the caption corpus description.
"""
from __future__ import annotations

import gzip
import hashlib
import logging
import math
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import ConfigError
from .config import SemanticConfig

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "lamsc-semantic/1"


def read_corpus(path: str | Path) -> tuple[list[str], str]:
    """One sentence a line (``.gz`` allowed) -> (sentences, sha256 of the file bytes)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read corpus {path}: {err.strerror}") from err
    digest = hashlib.sha256(raw).hexdigest()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    lines = [s.strip() for s in raw.decode("utf-8", errors="replace").splitlines()]
    lines = [s for s in lines if s]
    if not lines:
        raise ConfigError(f"corpus {path} holds no sentences")
    return lines, digest


def is_heldout(sentence: str, permille: int) -> bool:
    """The hold-out rule: sha256 of the UTF-8 sentence, as an integer, mod 1000 < permille."""
    return int(hashlib.sha256(sentence.encode("utf-8")).hexdigest()[:16], 16) % 1000 < permille


def split_corpus(sentences: list[str], permille: int) -> tuple[list[str], list[str]]:
    train, held = [], []
    for s in sentences:
        (held if is_heldout(s, permille) else train).append(s)
    return train, held


def pad_batch(seqs: list[np.ndarray], pad_id: int):
    """list of (n_i,) int64 -> ids (B, T) int64, mask (B, T) bool (torch tensors)."""
    import torch
    T = max(1, max(len(s) for s in seqs))
    ids = np.full((len(seqs), T), pad_id, np.int64)
    mask = np.zeros((len(seqs), T), bool)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = s
        mask[i, :len(s)] = True
    return torch.from_numpy(ids), torch.from_numpy(mask)


def _batches(lengths: np.ndarray, batch: int, rng: np.random.Generator, pool: int = 50) -> Iterator[np.ndarray]:
    """Endless length-bucketed batches of indices: draw pool*batch, sort by length, chunk, shuffle."""
    n = len(lengths)
    while True:
        idx = rng.choice(n, size=min(n, pool * batch), replace=False)
        idx = idx[np.argsort(lengths[idx], kind="stable")]
        chunks = [idx[i:i + batch] for i in range(0, len(idx), batch)]
        for j in rng.permutation(len(chunks)):
            yield chunks[j]


def _mixed_batches(lengths: np.ndarray, n_a: int, frac: float, batch: int, rng: np.random.Generator,
                   pool: int = 50) -> Iterator[np.ndarray]:
    """Like :func:`_batches` over ``lengths`` = [corpus A (n_a) | corpus B]: each pool of
    ``pool*batch`` indices draws Binomial(pool*batch, frac) of them from B, the rest from A."""
    n_b = len(lengths) - n_a
    size = pool * batch
    while True:
        k = int(rng.binomial(size, frac))
        ia = rng.choice(n_a, size=min(n_a, size - k), replace=False)
        ib = n_a + rng.choice(n_b, size=min(n_b, k), replace=False)
        idx = np.concatenate([ia, ib])
        idx = idx[np.argsort(lengths[idx], kind="stable")]
        chunks = [idx[i:i + batch] for i in range(0, len(idx), batch)]
        for j in rng.permutation(len(chunks)):
            yield chunks[j]


def _caption_segments(codec, n: int, seed: int, heldout: bool) -> tuple[list[str], list[str]]:
    """(captions, their model-sized segments as ``codec.segments`` cuts them)."""
    from .captions import generate_captions
    caps = generate_captions(n, np.random.default_rng(seed), heldout=heldout)
    return caps, [seg for c in caps for seg in codec.segments(c)]


def _lr(step: int, total: int, warmup: int, peak: float) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def evaluate_tokens(model, seqs, pad_id, snr_db, fading, csi_c, gen) -> float:
    """Token accuracy of ``model`` on ``seqs`` at one SNR/channel (symbol level, eval mode)."""
    import torch
    from .channel_sim import torch_channel
    model.eval()
    dev = next(model.parameters()).device
    correct = total = 0
    with torch.no_grad():
        for i in range(0, len(seqs), 128):
            ids, mask = pad_batch(seqs[i:i + 128], pad_id)
            ids, mask = ids.to(dev), mask.to(dev)
            B = ids.shape[0]
            x = model.encode(ids, mask)
            y, nv = torch_channel(x, torch.full((B,), float(snr_db)), torch.full((B,), fading),
                                  torch.full((B,), float(csi_c)), gen)
            pred = model.decode(y, nv, mask).argmax(-1)
            correct += int(((pred == ids) & mask).sum())
            total += int(mask.sum())
    model.train()
    return correct / max(1, total)


def train_semantic(corpus: str | Path, run_cfg, out: str | Path, plot: str | Path | None = None,
                   device: str = "auto") -> dict:
    """Train the codec on ``corpus`` with ``run_cfg.semantic``; writes checkpoint ``out`` (+ loss plot).
    ``device``: auto (CUDA when present) | cpu | cuda; the checkpoint holds CPU tensors either way.

    Returns a summary dict (final held-out token accuracies, wall time, paths).
    """
    import torch
    from tqdm import tqdm

    from .channel_sim import torch_channel
    from .model import DeepSC, Mine
    from .tokenizer import train_tokenizer

    from ..devices import resolve_device
    dev = resolve_device(device)
    cfg: SemanticConfig = run_cfg.semantic
    tc = cfg.train
    seed = int(run_cfg.seed)
    torch.set_num_threads(tc.num_threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)

    t0 = time.time()
    init_info = None
    if tc.init:
        from .codec import SemanticCodec
        from .config import resolve_checkpoint
        init_path = resolve_checkpoint(tc.init)
        init_codec = SemanticCodec.load(init_path, expected=cfg)
        init_info = {"spec": tc.init, "path": str(init_path),
                     "sha256": hashlib.sha256(Path(init_path).read_bytes()).hexdigest(),
                     "tokenizer_sha": init_codec.tokenizer.digest,
                     "corpus": init_codec.meta.get("corpus"),
                     "steps": (init_codec.meta.get("run_config") or {}).get("semantic", {}).get("train", {}).get("steps")}
    sentences, corpus_sha = read_corpus(corpus)
    if tc.max_sentences:
        sentences = sentences[:tc.max_sentences]
    train, held = split_corpus(sentences, tc.holdout_permille)
    log.info("corpus %s: %d sentences, %d train, %d held out", corpus, len(sentences), len(train), len(held))
    if not train:
        raise ConfigError(f"corpus {corpus}: every sentence is held out by semantic.train.holdout_permille="
                          f"{tc.holdout_permille}; nothing to train on")
    tok = init_codec.tokenizer if tc.init else train_tokenizer(train, cfg.vocab_size, cfg.lowercase)
    if tok.vocab_size != cfg.vocab_size:
        log.warning("tokenizer learned %d tokens (< vocab_size %d: small corpus)", tok.vocab_size, cfg.vocab_size)
    seqs = [s for s in tok.encode_batch(train) if 0 < len(s) <= cfg.max_tokens]
    held_seqs = [s for s in tok.encode_batch(held[:512]) if 0 < len(s) <= cfg.max_tokens]
    if not seqs:
        raise ConfigError(f"no training sentence fits semantic.max_tokens={cfg.max_tokens} tokens")
    lengths = np.array([len(s) for s in seqs])
    log.info("tokenizer %s (%d tokens) in %.1f s; mean %.1f tokens/sentence", tok.digest, tok.vocab_size,
             time.time() - t0, lengths.mean())

    model_cfg = cfg if tok.vocab_size == cfg.vocab_size else None
    if model_cfg is None:
        import dataclasses
        model_cfg = dataclasses.replace(cfg, vocab_size=tok.vocab_size)
    if tc.init:
        model = init_codec.model
        model.train()
    else:
        model = DeepSC(model_cfg)
    captions_info = None
    n_corpus = len(seqs)
    held_cap_seqs: list = []
    if tc.mix_captions > 0:
        from .captions import corpus_description
        from .codec import SemanticCodec
        segmenter = SemanticCodec(model, tok, model_cfg)
        caps, cap_segs = _caption_segments(segmenter, tc.n_captions, seed, heldout=False)
        _, held_segs = _caption_segments(segmenter, 200, seed + 1, heldout=True)
        model.train()
        cap_seqs = [s for s in tok.encode_batch(cap_segs) if 0 < len(s) <= cfg.max_tokens]
        held_cap_seqs = [s for s in tok.encode_batch(held_segs) if 0 < len(s) <= cfg.max_tokens]
        captions_info = corpus_description(tc.n_captions, seed, caps)
        captions_info.update({"n_segments": len(cap_segs), "mix_fraction": tc.mix_captions})
        log.info("captions: %d generated (%d distinct) -> %d segments, mean %.1f tokens",
                 len(caps), captions_info["n_distinct"], len(cap_seqs), np.mean([len(s) for s in cap_seqs]))
        seqs = seqs + cap_seqs
        lengths = np.array([len(s) for s in seqs])
    extra = {"init": init_info, "captions": captions_info}
    mine = Mine(tc.mine_hidden)
    model.to(dev), mine.to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    mine_opt = torch.optim.Adam(mine.parameters(), lr=tc.mine_lr)
    sem_params, ch_params = list(model.semantic_parameters()), list(model.channel_parameters())
    cycle = tc.semantic_phase_steps + tc.channel_phase_steps
    batches = (_mixed_batches(lengths, n_corpus, tc.mix_captions, tc.batch_size, rng)
               if tc.mix_captions > 0 else _batches(lengths, tc.batch_size, rng))
    history: list[dict] = []
    acc_ce = acc_mi = acc_tok = 0.0
    acc_n = 0
    bar = tqdm(range(tc.steps), desc="train semantic", unit="step", mininterval=5.0)
    for step in bar:
        phase = "semantic" if (step % cycle) < tc.semantic_phase_steps else "channel"
        for p in sem_params:
            p.requires_grad_(phase == "semantic")
        for p in ch_params:
            p.requires_grad_(phase == "channel")
        for g in opt.param_groups:
            g["lr"] = _lr(step, tc.steps, tc.warmup_steps, tc.lr)
        ids, mask = pad_batch([seqs[i] for i in next(batches)], tok.pad_id)       # (B, T)
        ids, mask = ids.to(dev), mask.to(dev)
        B = ids.shape[0]
        snr = tc.snr_db_min + (tc.snr_db_max - tc.snr_db_min) * torch.rand(B, generator=gen)
        fading = torch.rand(B, generator=gen) < tc.fading_fraction
        csi_c = tc.csi_error_min + (tc.csi_error_max - tc.csi_error_min) * torch.rand(B, generator=gen)
        x = model.encode(ids, mask)                                   # (B, T, k, 2)
        y, nv = torch_channel(x, snr, fading, csi_c, gen)             # (B, T, k, 2), (B, T, k)
        logits = model.decode(y, nv, mask)                            # (B, T, V)
        ce = torch.nn.functional.cross_entropy(logits[mask], ids[mask])
        # MINE on the valid symbol pairs (x, shrunk received symbol)
        xs = x[mask].reshape(-1, 2)                                   # (N, 2)
        ys = (y / (1.0 + nv)[..., None])[mask].reshape(-1, 2)         # (N, 2)
        perm = torch.randperm(xs.shape[0], generator=gen).to(dev)
        mi = mine.lower_bound(xs.detach(), ys.detach(), perm)
        mine_opt.zero_grad(set_to_none=True)
        (-mi).backward()
        mine_opt.step()
        loss = ce
        if phase == "channel" and tc.mi_weight > 0:
            loss = ce - tc.mi_weight * mine.lower_bound(xs, ys, perm)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            acc_tok += float((logits.argmax(-1)[mask] == ids[mask]).float().mean())
        acc_ce += float(ce.detach())
        acc_mi += float(mi.detach())
        acc_n += 1
        if (step + 1) % tc.log_every == 0 or step + 1 == tc.steps:
            rec = {"step": step + 1, "phase": phase, "ce": acc_ce / acc_n, "mi_nats": acc_mi / acc_n,
                   "token_acc": acc_tok / acc_n, "lr": opt.param_groups[0]["lr"],
                   "elapsed_s": round(time.time() - t0, 1)}
            if held_seqs and ((step + 1) % (tc.log_every * 10) == 0 or step + 1 == tc.steps):
                egen = torch.Generator().manual_seed(seed + 1)
                rec["heldout_acc_awgn6"] = evaluate_tokens(model, held_seqs[:256], tok.pad_id, 6.0, False, 1.0, egen)
                rec["heldout_acc_rayleigh10"] = evaluate_tokens(model, held_seqs[:256], tok.pad_id, 10.0, True, 1.0, egen)
                if held_cap_seqs:
                    rec["heldout_captions_acc_rayleigh10"] = evaluate_tokens(model, held_cap_seqs[:256], tok.pad_id,
                                                                             10.0, True, 1.0, egen)
            history.append(rec)
            log.info("%s", rec)
            bar.set_postfix(ce=f"{rec['ce']:.3f}", acc=f"{rec['token_acc']:.3f}", mi=f"{rec['mi_nats']:.2f}")
            acc_ce = acc_mi = acc_tok = 0.0
            acc_n = 0
        if tc.save_every and (step + 1) % tc.save_every == 0 and step + 1 < tc.steps:
            _save(_checkpoint(model, model_cfg, tok, run_cfg, corpus, corpus_sha, sentences, train, held,
                              history, t0, extra), Path(str(out) + ".partial"))
    bar.close()
    for p in model.parameters():
        p.requires_grad_(True)

    ckpt = _checkpoint(model, model_cfg, tok, run_cfg, corpus, corpus_sha, sentences, train, held, history, t0,
                       extra)
    _save(ckpt, out)
    Path(str(out) + ".partial").unlink(missing_ok=True)
    Path(str(out) + ".partial.sha256.json").unlink(missing_ok=True)
    if plot:
        plot_history(history, plot)
    return {"checkpoint": str(out), "wall_time_s": ckpt["wall_time_s"], "final": history[-1] if history else {},
            "tokenizer_sha": tok.digest, "corpus_sha256": corpus_sha}


def _save(ckpt: dict, out: Path) -> None:
    import torch
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    torch.save(ckpt, tmp)
    tmp.replace(out)
    from ..checkpoints import sign
    sign(out, checkpoint=ckpt)           # PATH.sha256.json: hash, resolved config, versions


def _checkpoint(model, model_cfg, tok, run_cfg, corpus, corpus_sha, sentences, train, held, history, t0,
                extra: dict | None = None) -> dict:
    """The checkpoint: plain tensors (float16), strings and dicts only -- loads with weights_only=True."""
    import torch

    from ..provenance import versions
    tc = run_cfg.semantic.train
    return {
        "format": CHECKPOINT_FORMAT,
        "model_config": model_cfg.model_dict(),
        "tokenizer_json": tok.json,
        "tokenizer_sha": tok.digest,
        "state_dict": {k: v.detach().cpu().to(torch.float16) if v.is_floating_point() else v.cpu()
                       for k, v in model.state_dict().items()},
        "run_config": run_cfg.to_dict(),
        "corpus": {"path": str(corpus), "sha256": corpus_sha, "n_sentences": len(sentences),
                   "n_train": len(train), "n_heldout": len(held),
                   "holdout_rule": f"int(sha256(sentence)[:16], 16) % 1000 < {tc.holdout_permille}",
                   **({k: v for k, v in extra.items() if v is not None} if extra else {})},
        "training_log": history,
        "versions": versions(),
        "wall_time_s": round(time.time() - t0, 1),
    }


def plot_history(history: list[dict], path: str | Path) -> None:
    """Loss (cross-entropy), MINE bound and held-out token accuracy vs step -> PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    ax[0].plot(steps, [h["ce"] for h in history])
    ax[0].set(xlabel="step", ylabel="cross-entropy (nats/token)", yscale="log", title="semantic loss")
    ax[1].plot(steps, [h["mi_nats"] for h in history])
    ax[1].set(xlabel="step", ylabel="MINE-f bound (nats/symbol)", title="I(x; y) estimate")
    ev = [h for h in history if "heldout_acc_awgn6" in h]
    ax[2].plot([h["step"] for h in ev], [h["heldout_acc_awgn6"] for h in ev], "o-", label="AWGN 6 dB")
    ax[2].plot([h["step"] for h in ev], [h["heldout_acc_rayleigh10"] for h in ev], "s-", label="Rayleigh 10 dB, c=1")
    if any("heldout_captions_acc_rayleigh10" in h for h in ev):
        ax[2].plot([h["step"] for h in ev], [h.get("heldout_captions_acc_rayleigh10") for h in ev], "^-",
                   label="captions, Rayleigh 10 dB")
    ax[2].plot(steps, [h["token_acc"] for h in history], alpha=0.4, label="train (mixed SNR)")
    ax[2].set(xlabel="step", ylabel="token accuracy", title="held-out token accuracy")
    ax[2].legend()
    for a in ax:
        a.grid(alpha=0.3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
