"""KAN vs MLP alignment: project a modality's encoder features into the text (MiniLM) space.

Both projectors share the front end: PCA of the training features to ``D_IN`` (32) dimensions,
scaled to unit standard deviation / 2 (so most inputs fall on the KAN's [-1, 1] grid). Then
``KAN([32, 16, 384])`` (grid 5, cubic) or an MLP ``32 -> h -> 384`` with the same parameter count.
The output is L2-normalized and trained with a contrastive loss against the sentence embeddings
of all training captions (softmax over captions at temperature 0.07, target: the item's own
caption), full batch, Adam, ``epochs`` steps, one seed.

Evaluation: cross-modal retrieval, media -> its caption among the evaluation captions of the
same subset (distinct captions only): R@1 and R@5 as proportions with 95 % Wilson intervals
(``lamsc_sdr.stats``), plus the chance level 1/n_captions and 5/n_captions.
"""
from __future__ import annotations

import logging
import time

import numpy as np

from ..stats import proportion, two_proportion_p

log = logging.getLogger(__name__)

D_IN, KAN_HIDDEN, TEMPERATURE = 32, 16, 0.07


class Projector:
    """PCA front end + a torch head (KAN or MLP). ``__call__(X (n, d) float32) -> (n, 384) unit vectors``."""

    def __init__(self, kind: str, train_x: np.ndarray, seed: int, d_out: int = 384):
        import torch

        from .kan import KAN, mlp, mlp_hidden_for, n_params
        self.kind = kind
        self.mean = train_x.mean(0)
        _, _, vt = np.linalg.svd(train_x - self.mean, full_matrices=False)
        self.components = vt[:D_IN].astype(np.float32)                          # (D_IN, d)
        z = (train_x - self.mean) @ self.components.T
        self.scale = (2.0 * z.std(0) + 1e-6).astype(np.float32)
        torch.manual_seed(seed)
        kan = KAN([D_IN, KAN_HIDDEN, d_out])
        if kind == "kan":
            self.head = kan
        elif kind == "mlp":
            self.head = mlp([D_IN, mlp_hidden_for(D_IN, d_out, n_params(kan)), d_out])
        else:
            from ..errors import ConfigError
            raise ConfigError(f"projector kind must be kan or mlp, got {kind!r}")
        self.n_params = n_params(self.head)

    def inputs(self, x: np.ndarray):
        import torch
        return torch.from_numpy(((x - self.mean) @ self.components.T / self.scale).astype(np.float32))

    def forward(self, x):
        """x: (n, D_IN) torch float -> (n, 384) unit-norm torch float."""
        import torch
        return torch.nn.functional.normalize(self.head(x), dim=-1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import torch
        with torch.no_grad():
            return self.forward(self.inputs(x)).numpy()


def train_projector(kind: str, X: np.ndarray, captions: list[str], seed: int = 0, epochs: int = 300,
                    lr: float = 3e-3) -> tuple[Projector, list[float]]:
    """Contrastive training (module docstring). Returns the projector and the loss curve."""
    import torch

    from ..semantic.similarity import embed
    uniq = sorted(set(captions))
    idx = torch.tensor([uniq.index(c) for c in captions])
    T = torch.from_numpy(embed(uniq))                                             # (n_caps, 384)
    proj = Projector(kind, X, seed)
    xin = proj.inputs(X)
    opt = torch.optim.Adam(proj.head.parameters(), lr=lr, weight_decay=1e-5)
    losses = []
    for _ in range(epochs):
        logits = proj.forward(xin) @ T.T / TEMPERATURE                            # (n, n_caps)
        loss = torch.nn.functional.cross_entropy(logits, idx)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    proj.head.eval()
    return proj, losses


def retrieval(proj: Projector, X: np.ndarray, captions: list[str]) -> dict:
    """Media -> caption retrieval among the distinct ``captions``: R@1, R@5 with Wilson intervals."""
    from ..semantic.similarity import embed
    uniq = sorted(set(captions))
    sims = proj(X) @ embed(uniq).T                                                # (n, n_caps)
    rank = np.argsort(-sims, axis=1)
    truth = np.array([uniq.index(c) for c in captions])
    pos = np.array([int(np.where(rank[i] == truth[i])[0][0]) for i in range(len(truth))])
    n = len(truth)
    return {"r1": proportion(int((pos < 1).sum()), n), "r5": proportion(int((pos < 5).sum()), n),
            "n_captions": len(uniq), "chance_r1": 1 / max(len(uniq), 1), "chance_r5": min(1.0, 5 / max(len(uniq), 1))}


def run_alignment(seed: int = 0, epochs: int = 300, modalities=("image", "audio", "video"), save=None,
                  plot=None) -> dict:
    """Train KAN and MLP per modality, evaluate retrieval per subset. Returns the results dict."""
    import torch

    from .align_data import build
    torch.set_num_threads(1)
    rows, curves, saved = [], {}, {}
    for m in modalities:
        data = build(m, seed=0)
        X, caps = data["train"]
        for kind in ("kan", "mlp"):
            t0 = time.perf_counter()
            proj, losses = train_projector(kind, X, caps, seed=seed, epochs=epochs)
            dt = time.perf_counter() - t0
            curves[f"{m}/{kind}"] = losses
            saved[f"{m}/{kind}"] = proj
            for subset, (Xe, ce) in data["eval"].items():
                r = retrieval(proj, Xe, ce)
                rows.append({"modality": m, "subset": subset, "projector": kind, "params": proj.n_params,
                             "n_train": len(caps), "n_train_captions": len(set(caps)), "train_s": round(dt, 1),
                             **{k: r[k] for k in ("n_captions", "chance_r1", "chance_r5")},
                             "r1": r["r1"]["rate"], "r1_ci": [r["r1"]["ci_low"], r["r1"]["ci_high"]],
                             "r5": r["r5"]["rate"], "r5_ci": [r["r5"]["ci_low"], r["r5"]["ci_high"]],
                             "n": r["r1"]["n"], "r1_k": r["r1"]["k"], "r5_k": r["r5"]["k"]})
                print(f"{m:5s} {subset:8s} {kind}: R@1 {r['r1']['rate']:.3f} [{r['r1']['ci_low']:.3f}, "
                      f"{r['r1']['ci_high']:.3f}]  R@5 {r['r5']['rate']:.3f}  (n={r['r1']['n']}, "
                      f"{r['n_captions']} captions, {proj.n_params} params)", flush=True)
    for r in rows:
        if r["projector"] == "kan":
            o = next(x for x in rows if x["projector"] == "mlp" and x["modality"] == r["modality"]
                     and x["subset"] == r["subset"])
            r["p_vs_mlp_r1"] = two_proportion_p(r["r1_k"], r["n"], o["r1_k"], o["n"])
    if save:
        save_projectors(saved, save, seed, epochs)
    if plot:
        _plot(rows, curves, plot)
    return {"results": rows, "seed": seed, "epochs": epochs, "d_in": D_IN, "kan_widths": [D_IN, KAN_HIDDEN, 384],
            "temperature": TEMPERATURE, "loss_final": {k: v[-1] for k, v in curves.items()}}


def save_projectors(projs: dict, path, seed: int, epochs: int) -> None:
    """Projectors as a torch state file (tensors only; load with ``weights_only=True``)."""
    import torch
    from pathlib import Path
    from ..checkpoints import sign
    from ..provenance import versions
    config = {"seed": seed, "epochs": epochs, "d_in": D_IN, "kan_widths": [D_IN, KAN_HIDDEN, 384],
              "temperature": TEMPERATURE}
    blob = {"format": "m4sc-projectors/1", "config": config, "versions": versions(), "seed": seed, "epochs": epochs}
    for k, p in projs.items():
        blob[k] = {"mean": torch.from_numpy(p.mean), "components": torch.from_numpy(p.components),
                   "scale": torch.from_numpy(p.scale), "state": p.head.state_dict()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(blob, path)
    sign(path, config=config, versions=blob["versions"])


def _plot(rows: list[dict], curves: dict, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from pathlib import Path
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.2))
    labels = sorted({(r["modality"], r["subset"]) for r in rows})
    for j, kind in enumerate(("kan", "mlp")):
        rr = [next(r for r in rows if (r["modality"], r["subset"]) == lab and r["projector"] == kind) for lab in labels]
        x = np.arange(len(labels)) + (j - 0.5) * 0.38
        y = np.array([r["r1"] for r in rr])
        err = np.array([[r["r1"] - r["r1_ci"][0] for r in rr], [r["r1_ci"][1] - r["r1"] for r in rr]])
        ax[0].bar(x, y, 0.38, yerr=err, capsize=3, label=f"{kind.upper()} R@1")
        ax[0].scatter(x, [r["r5"] for r in rr], marker="_", s=200, color="k", zorder=3,
                      label="R@5" if j == 0 else None)
    ax[0].scatter(np.arange(len(labels)), [next(r for r in rows if (r["modality"], r["subset"]) == lab)["chance_r1"]
                                           for lab in labels], marker="x", color="red", zorder=4, label="chance R@1")
    ax[0].set_xticks(np.arange(len(labels)), [f"{m}:{s}" for m, s in labels], rotation=15)
    ax[0].set(ylabel="recall", ylim=(0, 1.05), title="media -> caption retrieval (95 % Wilson)")
    ax[0].legend(fontsize=8)
    for k, v in curves.items():
        ax[1].plot(v, label=k)
    ax[1].set(xlabel="epoch", ylabel="contrastive loss", title="training", yscale="log")
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
