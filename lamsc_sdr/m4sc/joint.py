"""Joint KAN-LLM-channel coding: the KAN projector and the semantic codec fine-tuned together.

Our reading of the abstract's "joint KAN-LLM-channel coding strategy" on this testbed: the
media's aligned semantics travel as a few *semantic tokens* through the shipped DeepSC codec
(``lamsc_sdr.semantic``, checkpoint ``lamsc``) instead of as text:

    features --KAN--> 384-d aligned vector --adapter--> M=4 tokens (d_model) --DeepSC semantic
    encoder + channel encoder--> M x 8 = 32 complex symbols --fading channel (Rayleigh, imperfect
    CSI, ``semantic.channel_sim.torch_channel``)--> channel decoder + semantic decoder --head-->
    384-d vector --> nearest caption (retrieval in the text space)

Training objective: the contrastive caption loss of :mod:`.align` on the received vector, SNR
drawn uniformly in [0, 20] dB per item. Two schedules with the same number of steps:

- **separate**: the KAN is trained alone for alignment (clean), then frozen; the codec keeps the
  shipped weights (frozen); only the adapter and the receiver head learn over the channel
  (stage 1 and stage 2 of ``steps`` each);
- **joint**: same stage 1, then stage 2 updates KAN + adapter + the codec's transformer and
  channel layers + head together over the channel.

Evaluation: R@1 / R@5 of media -> caption over the channel at fixed SNRs, on the evaluation
split of ``image:shapes`` (captions never seen in training), each item sent ``reps`` times
(independent fading), with Wilson intervals. Channel uses: 32 complex symbols per item.
"""
from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np

from ..stats import proportion

N_TOKENS = 4
CHECKPOINT = Path(__file__).parent / "checkpoints" / "m4sc_joint.pt"


def _modules(codec_model, d_out: int = 384):
    import torch
    d = codec_model.cfg.d_model
    adapter = torch.nn.Linear(d_out, N_TOKENS * d)
    head = torch.nn.Linear(d, d_out)
    return adapter, head


def _through(proj, adapter, head, model, xin, snr_db, gen):
    """xin (B, 32) -> received unit vectors (B, 384), over the symbol-level fading channel."""
    import math

    import torch

    from ..semantic.channel_sim import torch_channel
    from ..semantic.model import decoder_inputs, power_normalize
    B = xin.shape[0]
    d = model.cfg.d_model
    v = proj.forward(xin)                                                   # (B, 384)
    tok = adapter(v).reshape(B, N_TOKENS, d) * math.sqrt(d)                 # (B, M, d)
    mask = torch.ones(B, N_TOKENS, dtype=torch.bool)
    h = model.sem_enc(tok, mask)                                            # (B, M, d)
    x = power_normalize(model.ch_enc(h).reshape(B, N_TOKENS, model.cfg.symbols_per_token, 2), mask)
    y, nv = torch_channel(x, snr_db, torch.ones(B, dtype=torch.bool), torch.ones(B), gen)
    r = model.sem_dec(model.ch_dec(decoder_inputs(y, nv)), mask)           # (B, M, d)
    return torch.nn.functional.normalize(head(r.mean(1)), dim=-1)


def _train(params, proj, adapter, head, model, xin, idx, T, steps, seed, lr=1e-3, batch=128):
    import torch

    from .align import TEMPERATURE
    opt = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        b = torch.randint(0, xin.shape[0], (min(batch, xin.shape[0]),), generator=gen)
        snr = torch.rand(len(b), generator=gen) * 20.0
        out = _through(proj, adapter, head, model, xin[b], snr, gen)
        loss = torch.nn.functional.cross_entropy(out @ T.T / TEMPERATURE, idx[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def _evaluate(proj, adapter, head, model, X, caps, snrs, reps, seed) -> list[dict]:
    import torch

    from ..semantic.similarity import embed
    uniq = sorted(set(caps))
    E = embed(uniq)
    truth = np.array([uniq.index(c) for c in caps])
    xin = proj.inputs(X)
    rows = []
    for snr in snrs:
        gen = torch.Generator().manual_seed(seed + int(snr * 10))
        k1 = k5 = n = 0
        for _ in range(reps):
            with torch.no_grad():
                out = _through(proj, adapter, head, model, xin, torch.full((len(caps),), float(snr)), gen).numpy()
            rank = np.argsort(-(out @ E.T), axis=1)
            pos = np.array([int(np.where(rank[i] == truth[i])[0][0]) for i in range(len(truth))])
            k1, k5, n = k1 + int((pos < 1).sum()), k5 + int((pos < 5).sum()), n + len(pos)
        r1, r5 = proportion(k1, n), proportion(k5, n)
        rows.append({"snr_db": float(snr), "r1": r1["rate"], "r1_ci": [r1["ci_low"], r1["ci_high"]], "r1_k": k1,
                     "r5": r5["rate"], "r5_ci": [r5["ci_low"], r5["ci_high"]], "n": n, "n_captions": len(uniq)})
    return rows


def run_joint(seed: int = 0, steps: int = 300, snrs=(0.0, 5.0, 10.0, 20.0), reps: int = 3, save=None,
              plot=None) -> dict:
    import torch

    from ..semantic.codec import SemanticCodec
    from ..semantic.similarity import embed
    from ..stats import two_proportion_p
    from .align import train_projector
    from .align_data import build
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    data = build("image", seed=0)
    X, caps = data["train"]
    keep = [i for i, c in enumerate(caps) if " background" in c]           # the shapes scenes (not photo crops)
    X, caps = X[keep], [caps[i] for i in keep]
    Xe, ce = data["eval"]["shapes"]
    uniq = sorted(set(caps))
    idx = torch.tensor([uniq.index(c) for c in caps])
    T = torch.from_numpy(embed(uniq))
    proj0, _ = train_projector("kan", X, caps, seed=seed, epochs=steps)       # stage 1: alignment alone
    base = SemanticCodec.load("lamsc").model
    torch.manual_seed(seed)
    adapter0, head0 = _modules(base)
    results, curves, states = {}, {}, {}
    for mode in ("separate", "joint"):
        proj, model = copy.deepcopy(proj0), copy.deepcopy(base).train()
        adapter, head = copy.deepcopy(adapter0), copy.deepcopy(head0)
        xin = proj.inputs(X)
        for m in (proj.head, model):
            m.requires_grad_(mode == "joint")
        params = list(adapter.parameters()) + list(head.parameters())
        if mode == "joint":
            params += list(proj.head.parameters()) + [p for n, p in model.named_parameters()
                                                      if not n.startswith(("embed", "out"))]
        curves[mode] = _train(params, proj, adapter, head, model, xin, idx, T, steps, seed + 1)
        for m in (proj.head, model, adapter, head):
            m.eval()
        results[mode] = _evaluate(proj, adapter, head, model, Xe, ce, snrs, reps, seed + 7)
        states[mode] = (proj, adapter, head, model)
        for r in results[mode]:
            print(f"{mode:8s} {r['snr_db']:5.1f} dB: R@1 {r['r1']:.3f} [{r['r1_ci'][0]:.3f}, {r['r1_ci'][1]:.3f}] "
                  f"R@5 {r['r5']:.3f} (n={r['n']})", flush=True)
    for rj, rs in zip(results["joint"], results["separate"]):
        rj["p_vs_separate_r1"] = two_proportion_p(rj["r1_k"], rj["n"], rs["r1_k"], rs["n"])
    if save:
        save_joint(states["joint"], save, seed, steps)
    if plot:
        _plot(results, curves, plot)
    return {"results": results, "steps": steps, "seed": seed, "reps": reps, "n_tokens": N_TOKENS,
            "channel_uses_per_item": N_TOKENS * base.cfg.symbols_per_token, "n_train": len(caps),
            "n_train_captions": len(uniq), "loss_final": {k: v[-1] for k, v in curves.items()},
            "wall_s": round(time.perf_counter() - t0, 1), "codec_checkpoint": "lamsc (shipped)"}


def save_joint(state, path, seed: int, steps: int) -> None:
    """The jointly fine-tuned KAN, adapter, head and the codec's fine-tuned layers (float16)."""
    import torch
    proj, adapter, head, model = state
    half = lambda sd: {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}  # noqa: E731
    from ..checkpoints import sign
    from ..provenance import versions
    config = {"seed": seed, "steps": steps, "codec_base": "lamsc", "n_tokens": N_TOKENS,
              "kan_widths": proj.head.widths, "d_in": int(proj.components.shape[0]), "data": "image:shapes"}
    blob = {"format": "m4sc-joint/1", "config": config, "versions": versions(), "seed": seed, "steps": steps,
            "codec_base": "lamsc",
            "pca_mean": torch.from_numpy(proj.mean), "pca_components": torch.from_numpy(proj.components),
            "pca_scale": torch.from_numpy(proj.scale), "kan": half(proj.head.state_dict()),
            "adapter": half(adapter.state_dict()), "head": half(head.state_dict()),
            "codec": half({k: v for k, v in model.state_dict().items() if not k.startswith(("embed", "out"))})}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(blob, path)
    sign(path, config=config, versions=blob["versions"])


def _plot(results: dict, curves: dict, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for mode, c in (("separate", "C1"), ("joint", "C0")):
        rr = results[mode]
        x = [r["snr_db"] for r in rr]
        y = np.array([r["r1"] for r in rr])
        err = np.array([[r["r1"] - r["r1_ci"][0] for r in rr], [r["r1_ci"][1] - r["r1"] for r in rr]])
        ax[0].errorbar(x, y, yerr=err, fmt="o-", color=c, capsize=3, label=f"{mode} R@1")
        ax[0].plot(x, [r["r5"] for r in rr], "--", color=c, label=f"{mode} R@5")
        ax[1].plot(curves[mode], color=c, label=mode)
    ax[0].set(xlabel="SNR (dB), Rayleigh, imperfect CSI", ylabel="retrieval over the channel", ylim=(0, 1.05),
              title="KAN + codec: joint vs separate (95 % Wilson)")
    ax[1].set(xlabel="stage-2 step", ylabel="contrastive loss", yscale="log", title="stage-2 training")
    for a in ax:
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
