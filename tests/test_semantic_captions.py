"""Caption-style corpus generator, checkpoint-name resolution and fine-tuning with a caption mix."""
from pathlib import Path

import numpy as np
import pytest

from lamsc_sdr.config import load_config
from lamsc_sdr.errors import ConfigError
from lamsc_sdr.semantic import captions as C
from lamsc_sdr.semantic.train import is_heldout

DATA = Path(__file__).parent / "data" / "europarl_small.txt"
CKPTS = Path(__file__).resolve().parents[1] / "lamsc_sdr" / "semantic" / "checkpoints"


def test_generator_is_seeded_and_uses_the_describers_phrasing():
    a = C.generate_captions(300, np.random.default_rng(3))
    assert a == C.generate_captions(300, np.random.default_rng(3))
    assert a != C.generate_captions(300, np.random.default_rng(4))
    gallery = set(C._gallery())
    photo = [c for c in a if c.startswith("A photo of ")]
    video = [c for c in a if c.startswith("A ") and " video" in c.split(" of ")[0]]
    assert len(photo) > 100 and len(video) > 50
    assert any(c in gallery for c in a)
    assert sum("The scene is " in c for c in a) > 150          # compose()'s scene sentence
    assert any("Later: " in c for c in video)                   # condense()'s extra-frame clause
    # the LKB's first-person rewrites and profile names
    assert any(" me " in f" {c} " or " me (" in c for c in a)
    assert any(n in c for c in a for n in ("Jane", "Mike", "Rose", "Tom", "Anna"))


def test_image_caption_is_compose_output():
    from lamsc_sdr.mma.image_offline import compose
    rng1, rng2 = np.random.default_rng(9), np.random.default_rng(9)
    want, _ = compose(C._random_probs(rng2), C._random_people(rng2), C._random_scene(rng2))
    assert C.image_caption(rng1) == want


def test_heldout_captions_never_train():
    train = C.generate_captions(400, np.random.default_rng(0), heldout=False)
    test = C.generate_captions(50, np.random.default_rng(1), heldout=True)
    assert not any(is_heldout(c, C.CAPTION_HOLDOUT_PERMILLE) for c in train)
    assert all(is_heldout(c, C.CAPTION_HOLDOUT_PERMILLE) for c in test)
    assert not set(train) & set(test)


def test_shipped_test_file_is_heldout():
    lines = (Path(__file__).parent / "data" / "captions_heldout.txt").read_text().splitlines()
    assert len(lines) == 300 and all(is_heldout(c, C.CAPTION_HOLDOUT_PERMILLE) for c in lines)


def test_checkpoint_names_resolve():
    from lamsc_sdr.semantic.config import SemanticConfig, resolve_checkpoint
    assert SemanticConfig().checkpoint == "lamsc"                       # the pipeline's default
    assert resolve_checkpoint(None) == CKPTS / "deepsc_europarl.pt"    # SemanticCodec.load(None)
    assert resolve_checkpoint("europarl") == CKPTS / "deepsc_europarl.pt"
    assert resolve_checkpoint("lamsc") == CKPTS / "deepsc_lamsc.pt"
    assert resolve_checkpoint("x/y.pt") == Path("x/y.pt")
    with pytest.raises(ConfigError, match="mix_captions"):
        load_config(None, {"semantic.train.mix_captions": 1.5})


def test_finetune_with_caption_mix_keeps_tokenizer_and_records_corpus(tmp_path):
    import torch

    from lamsc_sdr.semantic.codec import SemanticCodec
    from lamsc_sdr.semantic.train import train_semantic
    from test_semantic_codec import TINY
    base = tmp_path / "base.pt"
    train_semantic(DATA, load_config(None, TINY), base)
    cfg = load_config(None, {**TINY, "semantic.train.init": str(base), "semantic.train.mix_captions": 0.5,
                             "semantic.train.n_captions": 200, "semantic.train.steps": 4})
    out = tmp_path / "ft.pt"
    train_semantic(DATA, cfg, out)
    ck = torch.load(out, weights_only=True)
    b = torch.load(base, weights_only=True)
    assert ck["tokenizer_sha"] == b["tokenizer_sha"] and ck["tokenizer_json"] == b["tokenizer_json"]
    assert ck["corpus"]["init"]["sha256"] == __import__("hashlib").sha256(base.read_bytes()).hexdigest()
    cap = ck["corpus"]["captions"]
    assert cap["n"] == 200 and len(cap["sha256"]) == 64 and cap["mix_fraction"] == 0.5
    assert any(not torch.equal(ck["state_dict"][k], b["state_dict"][k]) for k in b["state_dict"])
    SemanticCodec.load(out, expected=load_config(None, TINY).semantic)   # same model fields


def test_segments_fit_after_strip_with_shipped_tokenizer():
    """Regression: a stripped segment can need more BPE tokens than with its leading space."""
    from lamsc_sdr.semantic.codec import SemanticCodec
    codec = SemanticCodec.load()
    text = ("A 3-second video with some motion of a small mammal, likely a wallaby. The scene is dim, mostly "
            "orange. Later: two people (2 faces visible) with what looks like a dish or drink, likely an "
            "artichoke; a person (one face visible) with what looks like a bird.")
    segs = codec.segments(text)
    assert all(codec.n_tokens(s) <= codec.max_tokens for s in segs)
    assert " ".join(segs).split() == text.split()
    codec.encode(segs)
