"""Paired comparison of two CGE checkpoints on held-out captures: NMSE difference with a 95 % bootstrap
interval over slots, and the fraction of slots where B beats A with a 95 % Wilson interval."""
import argparse
import json

import numpy as np

from lamsc_sdr.estimation import EstimatorConfig, make_estimator
from lamsc_sdr.estimation.cge_data import CaptureSource
from lamsc_sdr.phy.config import FrameConfig
ap = argparse.ArgumentParser(); ap.add_argument("held"); ap.add_argument("a"); ap.add_argument("b"); ap.add_argument("--json")
args = ap.parse_args()
fr = FrameConfig(); src = CaptureSource([args.held], fr); n0 = 10 ** (-src.snr_db / 10)
err = {}
for k, ck in (("a", args.a), ("b", args.b)):
    est = make_estimator(EstimatorConfig(kind="cgan", checkpoint=None if ck == "shipped" else ck, device="cpu"), fr)
    h_hat, _ = est(src.y, fr.pilot_pattern, n0)
    err[k] = np.sum(np.abs(h_hat - src.h) ** 2, axis=(1, 2))
p = np.sum(np.abs(src.h) ** 2, axis=(1, 2)); n = len(p)
d = 10 * np.log10(err["b"].sum() / err["a"].sum())
rng = np.random.default_rng(0); bs = []
for _ in range(4000):
    i = rng.integers(0, n, n); bs.append(10 * np.log10(err["b"][i].sum() / err["a"][i].sum()))
lo, hi = np.percentile(bs, [2.5, 97.5])
k = int(np.sum(err["b"] < err["a"])); z = 1.96; ph = k / n
c = (ph + z * z / (2 * n)) / (1 + z * z / n); w = z * np.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n)) / (1 + z * z / n)
out = {"slots": n, "nmse_db_a": float(10 * np.log10(err["a"].sum() / p.sum())), "nmse_db_b": float(10 * np.log10(err["b"].sum() / p.sum())),
       "diff_db": float(d), "diff_db_ci95": [float(lo), float(hi)], "b_better_slots": k, "b_better_frac": ph, "wilson95": [float(c - w), float(c + w)],
       "a": args.a, "b": args.b, "held": args.held}
print(json.dumps(out, indent=1))
if args.json: open(args.json, "w").write(json.dumps(out, indent=1))
