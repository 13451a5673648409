"""SemanticCodec on a tiny freshly trained checkpoint (seconds): API, shapes, power, segmentation,
bad input, checkpoint mismatch; the CLI end to end. The shipped checkpoint's quality: marked slow."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lamsc_sdr.config import load_config
from lamsc_sdr.errors import CheckpointMismatchError, ShapeError

DATA = Path(__file__).parent / "data" / "europarl_small.txt"
TINY = {"semantic.vocab_size": 1000, "semantic.d_model": 32, "semantic.n_heads": 2, "semantic.n_enc_layers": 1,
        "semantic.n_dec_layers": 1, "semantic.d_ff": 64, "semantic.max_tokens": 64, "semantic.symbols_per_token": 4,
        "semantic.train.steps": 6, "semantic.train.batch_size": 16, "semantic.train.log_every": 3,
        "semantic.train.semantic_phase_steps": 2, "semantic.train.channel_phase_steps": 1,
        "semantic.train.warmup_steps": 2, "semantic.train.holdout_permille": 0, "semantic.train.save_every": 0,
        "semantic.train.num_threads": 1}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from lamsc_sdr.semantic.train import train_semantic
    out = tmp_path_factory.mktemp("sem") / "tiny.pt"
    cfg = load_config(None, TINY)
    summary = train_semantic(DATA, cfg, out, out.with_suffix(".png"))
    assert Path(summary["checkpoint"]).is_file() and out.with_suffix(".png").is_file()
    return out, cfg


@pytest.fixture(scope="module")
def codec(tiny):
    from lamsc_sdr.semantic.codec import SemanticCodec
    return SemanticCodec.load(tiny[0])


def test_checkpoint_is_plain_and_records_provenance(tiny):
    import torch
    ck = torch.load(tiny[0], weights_only=True)
    assert isinstance(ck["tokenizer_json"], str)
    assert ck["model_config"]["d_model"] == 32
    assert len(ck["corpus"]["sha256"]) == 64 and ck["training_log"]
    assert "torch" in ck["versions"]


def test_encode_shapes_and_unit_power(codec):
    texts = ["The Commission has presented its proposal.", "We agree.", ""]
    z = codec.encode(texts)
    assert [zz.dtype for zz in z] == [np.complex64] * 3
    for t, zz in zip(texts, z):
        assert zz.shape == (codec.n_tokens(t) * codec.symbols_per_token,)
    for zz in z[:2]:
        assert np.mean(np.abs(zz) ** 2) == pytest.approx(1.0, rel=1e-4)
    assert z[2].shape == (0,)
    assert codec.channel_uses(texts[0]) == z[0].size
    assert codec.symbols_per_segment == 64 * 4


def test_decode_returns_texts_and_empty(codec):
    z = codec.encode(["madam president, thank you.", ""])
    out = codec.decode(z, [0.01, 0.01])
    assert isinstance(out[0], str) and out[1] == ""
    # per-symbol noise variance accepted too
    assert len(codec.decode([z[0]], [np.full(z[0].size, 0.1)])) == 1


def test_tokenizer_never_unknown_and_normalizes(codec):
    for t in ["Grüße aus Köln – 3,5 % más €100!", "日本語のテキスト", "tab\there\nnewline", "x" * 3]:
        ids = codec.tokenizer.encode(t)
        assert codec.tokenizer.decode(ids) == t.lower()   # byte-level: lossless apart from lowercasing
        assert codec.normalize(t) == " ".join(t.split()).lower()   # the codec also collapses whitespace


def test_segments_cover_text_in_order(codec):
    text = " ".join(DATA.read_text().splitlines()[:6])
    segs = codec.segments(text)
    assert len(segs) > 1
    assert " ".join(segs) == text
    assert all(s == s.strip() for s in segs)
    assert all(codec.n_tokens(s) <= codec.max_tokens for s in segs)
    z = codec.encode_message(text)
    assert len(z) == len(segs)
    assert isinstance(codec.decode_message(z, [1e-3] * len(z)), str)


def test_segments_binary_garbage_and_empty(codec):
    rng = np.random.default_rng(0)
    garbage = bytes(rng.integers(0, 256, 300, dtype=np.uint8)).decode("utf-8", errors="replace")
    segs = codec.segments(garbage)
    assert "".join("".join(segs).split()) == "".join(garbage.split())     # only cut whitespace dropped
    assert all(codec.n_tokens(s) <= codec.max_tokens for s in segs)
    assert codec.segments("") == [""]


def test_bad_input_errors(codec):
    with pytest.raises(ShapeError, match="segments"):
        codec.encode(["word " * 200])
    with pytest.raises(ShapeError, match="bytes"):
        codec.encode([b"abc"])
    z = codec.encode(["hello there"])[0]
    with pytest.raises(ShapeError, match="multiple"):
        codec.decode([z[:-1]], [0.1])
    with pytest.raises(ShapeError, match="NaN"):
        codec.decode([np.full(z.size, np.nan, np.complex64)], [0.1])
    with pytest.raises(ShapeError):
        codec.decode([z], [])


def test_interleaver_is_inverse():
    from lamsc_sdr.semantic.codec import _deinterleave, _interleave
    x = np.arange(15).reshape(5, 3) + 0j
    z = _interleave(x, 3)
    assert list(z[:5].real) == [0, 3, 6, 9, 12]          # symbol 0 of every token first
    assert np.array_equal(_deinterleave(z, 3), x)


def test_checkpoint_mismatch_names_field(tiny, tmp_path):
    import torch
    from lamsc_sdr.semantic.codec import SemanticCodec
    path, cfg = tiny
    with pytest.raises(CheckpointMismatchError, match="semantic.d_model"):
        SemanticCodec.load(path, expected=load_config(None, {**TINY, "semantic.d_model": 64}).semantic)
    SemanticCodec.load(path, expected=cfg.semantic)     # the right config loads
    ck = torch.load(path, weights_only=True)
    from lamsc_sdr.semantic.tokenizer import train_tokenizer
    ck["tokenizer_json"] = train_tokenizer(["other words entirely"] * 50, 300).json
    ck.pop("tokenizer_sha")
    bad = tmp_path / "bad.pt"
    torch.save(ck, bad)
    with pytest.raises(CheckpointMismatchError, match="tokenizer"):
        SemanticCodec.load(bad)
    ck2 = torch.load(path, weights_only=True)
    ck2["model_config"]["d_ff"] = 128
    torch.save(ck2, bad)
    with pytest.raises(CheckpointMismatchError, match="weights do not fit"):
        SemanticCodec.load(bad)
    torch.save({"format": "something-else"}, bad)
    with pytest.raises(CheckpointMismatchError, match="format"):
        SemanticCodec.load(bad)


def test_cli_eval_text_and_bench(tiny, tmp_path):
    out = tmp_path / "eval.json"
    sent = tmp_path / "s.txt"
    sent.write_text("\n".join(DATA.read_text().splitlines()[:4]) + "\n")
    cmd = [sys.executable, "-m", "lamsc_sdr.cli", "eval", "text", "--sentences", str(sent), "--checkpoint",
           str(tiny[0]), "--channel", "awgn", "--snr", "20", "--estimator", "perfect", "--json", str(out),
           "--plot", str(tmp_path / "p.png")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    systems = {row["system"] for row in res["results"]}
    assert {"semantic", "baseline"} <= systems and res["level"] == "frame"
    for row in res["results"]:
        assert {"snr_db", "bleu1", "bleu4", "similarity", "accuracy", "channel_uses"} <= set(row)
    base = [row for row in res["results"] if row["system"] == "baseline"][0]
    sem = [row for row in res["results"] if row["system"] == "semantic"][0]
    assert base["channel_uses"] <= sem["channel_uses"]
    assert (tmp_path / "p.png").is_file()
    b = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, "-m", "lamsc_sdr.cli", "bench", "semantic", "--checkpoint", str(tiny[0]),
                        "--n", "5", "--repeats", "1", "--sentences", str(sent), "--json", str(b)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    bj = json.loads(b.read_text())
    assert 1 <= bj["n_sentences"] <= 5 and bj["threads"] == 1           # (sentences over max_tokens are dropped)
    for k in ("encode", "decode", "encode_decode"):                       # order statistics of one sample
        assert 0 < bj[f"{k}_ms_median"] <= bj[f"{k}_ms_p95"]
    assert bj["encode_ms_median"] < bj["encode_decode_ms_p95"] and bj["goal_met"] == (bj["encode_decode_ms_median"] <= 20.0)


@pytest.mark.slow
def test_shipped_checkpoint_goal_awgn_6db():
    """The shipped codec on 200 held-out sentences at AWGN 6 dB (symbol level): BLEU-1 >= 0.9."""
    from lamsc_sdr.semantic.codec import SemanticCodec
    from lamsc_sdr.semantic.evaluate import SymbolLink, evaluate_text
    codec = SemanticCodec.load()
    sents = DATA.read_text().splitlines()[:200]
    rows = evaluate_text(codec, sents, SymbolLink("awgn", "perfect"), [6.0], np.random.default_rng(0),
                         reference_mcs=None)
    sem = rows[0]
    assert sem["bleu1"] >= 0.90 and sem["similarity"] >= 0.90 and sem["accuracy"] >= 0.95


def test_grid_and_symbol_links_return_symbols_and_variances(rng):
    from lamsc_sdr.semantic.evaluate import GridLink, SymbolLink
    cfg = load_config(None)
    z = [np.ones(40, np.complex64), np.zeros(0, np.complex64), np.full(700, 1j, np.complex64)]
    for link in (GridLink(cfg.frame, "awgn", "perfect"), SymbolLink("awgn", "perfect")):
        y, nv = link(z, 30.0, rng)
        assert [a.shape for a in y] == [(40,), (0,), (700,)]
        assert np.allclose(y[0], 1, atol=0.2) and np.allclose(y[2], 1j, atol=0.2)
        assert np.allclose(nv[0], 1e-3, rtol=0.05)
