"""Speed of the semantic codec: per-message latency (batch 1, one thread) and batched throughput."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

_SAMPLE = Path(__file__).resolve().parents[2] / "tests" / "data" / "europarl_small.txt"
_FALLBACK = ["the commission has presented its proposal on the protection of the environment.",
             "i would like to thank the rapporteur for her excellent work."]


def bench_codec(codec, sentences: list[str] | None = None, repeats: int = 3, batch: int = 64,
                n: int | None = None) -> dict:
    """Median latency of encode / decode of one sentence (torch on one thread), and sentences/s
    for batches of ``batch`` (one thread). Returns a dict of numbers (milliseconds, sentences/s)."""
    import torch

    if sentences is None:
        sentences = (_SAMPLE.read_text().splitlines()[:200] if _SAMPLE.is_file() else _FALLBACK * 50)
    sentences = [s for s in sentences if codec.n_tokens(s) <= codec.max_tokens][:n]
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        codec.decode(codec.encode(sentences[:2]), [0.1, 0.1])       # warm-up
        enc_t, dec_t = [], []
        for _ in range(repeats):
            for s in sentences:
                t0 = time.perf_counter()
                z = codec.encode([s])
                t1 = time.perf_counter()
                codec.decode(z, [0.1])
                t2 = time.perf_counter()
                enc_t.append(t1 - t0)
                dec_t.append(t2 - t1)
        t0 = time.perf_counter()
        zs = []
        for i in range(0, len(sentences), batch):
            zs += codec.encode(sentences[i:i + batch])
        t1 = time.perf_counter()
        for i in range(0, len(zs), batch):
            codec.decode(zs[i:i + batch], [0.1] * len(zs[i:i + batch]))
        t2 = time.perf_counter()
    finally:
        torch.set_num_threads(old)
    enc, dec = np.array(enc_t) * 1e3, np.array(dec_t) * 1e3
    tot = enc + dec
    return {"n_sentences": len(sentences), "threads": 1,
            "mean_tokens": float(np.mean([codec.n_tokens(s) for s in sentences])),
            "encode_ms_median": float(np.median(enc)), "encode_ms_p95": float(np.percentile(enc, 95)),
            "decode_ms_median": float(np.median(dec)), "decode_ms_p95": float(np.percentile(dec, 95)),
            "encode_decode_ms_median": float(np.median(tot)), "encode_decode_ms_p95": float(np.percentile(tot, 95)),
            "goal_ms": 20.0, "goal_met": bool(np.median(tot) <= 20.0),
            "batch": batch, "encode_sentences_per_s": len(sentences) / (t1 - t0),
            "decode_sentences_per_s": len(sentences) / (t2 - t1)}
