"""MMA: config, modality detection, media loading, WER, sentence composition (no heavy models)."""
import numpy as np
import pytest

from lamsc_sdr.config import load_config
from lamsc_sdr.errors import ConfigError, ShapeError
from lamsc_sdr.mma import MMAConfig, detect_modality, load_image
from lamsc_sdr.mma.base import as_rgb_uint8, load_audio
from lamsc_sdr.mma.image_gen import load_gallery
from lamsc_sdr.mma.metrics import edit_counts, normalize, wer
from lamsc_sdr.mma.video import split_scenes


def test_config_defaults_and_bad_keys(tmp_path):
    cfg = load_config(None)
    assert cfg.mma.image_to_text == "offline" and cfg.mma.text_to_image == "gallery"
    ok = load_config(None, {"mma.image_to_text": "transformers:/models/blip"})
    assert ok.mma.image_to_text == "transformers:/models/blip"
    with pytest.raises(ConfigError, match="mma.image_to_text"):
        load_config(None, {"mma.image_to_text": "clip"})
    with pytest.raises(ConfigError, match="needs a model"):
        MMAConfig(text_to_image="diffusers")
    with pytest.raises(ConfigError, match="mma.video_frames"):
        MMAConfig(video_frames=0)
    p = tmp_path / "run.yaml"
    p.write_text("mma:\n  text_to_vidoe: slideshow\n")
    with pytest.raises(ConfigError, match=r"mma\.text_to_vidoe.*run\.yaml"):
        load_config(p)


def test_wer_against_hand_counts():
    assert wer("the cat sat on the mat", "the cat sat on the mat") == 0.0
    c = edit_counts(normalize("the cat sat on the mat"), normalize("the cat sit on very mat"))
    assert c == {"sub": 2, "del": 0, "ins": 0, "ref_words": 6}      # sat->sit, the->very
    # deletion (the), substitution (sat->sit), insertion (very): 3 / 6
    assert wer("the cat sat on the mat", "cat sit on the very mat") == pytest.approx(3 / 6)
    assert wer("Hello, World!", "hello world") == 0.0
    assert wer(["a b", "c d e"], ["a x", "c d e f"]) == pytest.approx(2 / 5)
    with pytest.raises(ValueError):
        wer("", "x")


def test_wer_matches_brute_force_levenshtein(rng):
    def lev(a, b):
        d = np.arange(len(b) + 1)
        for i, x in enumerate(a, 1):
            prev, d[0] = d.copy(), i
            for j, y in enumerate(b, 1):
                d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (x != y))
        return d[-1]
    words = list("abcde")
    for _ in range(50):
        r = list(rng.choice(words, rng.integers(1, 8)))
        h = list(rng.choice(words, rng.integers(0, 8)))
        assert wer(" ".join(r), " ".join(h)) == pytest.approx(lev(r, h) / len(r))


def test_image_arrays_validated():
    assert as_rgb_uint8(np.zeros((10, 12))).shape == (10, 12, 3)
    assert as_rgb_uint8(np.ones((10, 12, 4), np.float32)).max() == 255
    for bad in (np.zeros((10,)), np.zeros((10, 12, 5)), np.full((10, 10, 3), np.nan), np.full((10, 10), 2.0)):
        with pytest.raises(ShapeError):
            load_image(bad)
    with pytest.raises(ShapeError):
        load_audio(np.zeros((3, 100, 2)))
    assert load_audio((np.zeros(8000, np.float32), 8000)).shape == (16000,)


def test_detect_modality(tmp_path):
    from PIL import Image
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "x.png")
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "noext", format="PNG")
    (tmp_path / "a.wav").write_bytes(b"")
    (tmp_path / "junk.bin").write_bytes(b"\x00\x01 not media")
    assert detect_modality(tmp_path / "x.png") == "image"
    assert detect_modality(tmp_path / "noext") == "image"
    assert detect_modality(tmp_path / "a.wav") == "audio"
    with pytest.raises(ShapeError, match="modality"):
        detect_modality(tmp_path / "junk.bin")
    with pytest.raises(FileNotFoundError):
        detect_modality(tmp_path / "missing.mp4")


def test_shipped_gallery_and_gallery_errors(tmp_path):
    items = load_gallery()
    assert len(items) >= 15 and all(it.path.is_file() and it.description for it in items)
    assert sum(it.path.stat().st_size for it in items) < 3e6
    (tmp_path / "gallery.yaml").write_text("images:\n  - {file: a.jpg, description: x, colour: red}\n")
    with pytest.raises(ConfigError, match="colour"):
        load_gallery(tmp_path)
    (tmp_path / "gallery.yaml").write_text("images:\n  - {file: missing.jpg, description: x}\n")
    with pytest.raises(ConfigError, match="missing.jpg"):
        load_gallery(tmp_path)


def test_compose_sentence_from_evidence():
    from lamsc_sdr.mma.image_offline import compose
    p = np.full(1000, 1e-5, np.float32)
    p[285], p[281] = 0.7, 0.2                         # Egyptian cat, tabby -> group "cat"
    scene = {"brightness": 0.8, "saturation": 0.4, "grayscale": False, "colours": ["orange", "brown"]}
    text, ev = compose(p, {"faces": [], "bodies": []}, scene)
    assert text.startswith("A photo of a cat, likely an Egyptian cat") and "bright" in text
    assert ev["groups"]["cat"] == pytest.approx(0.9, abs=1e-3)
    p2 = np.full(1000, 1e-5, np.float32)
    p2[518] = 0.3                                     # crash helmet, with two faces
    text2, _ = compose(p2, {"faces": [[0, 0, 5, 5], [9, 9, 5, 5]], "bodies": []}, scene)
    assert text2.startswith("A photo of two people (2 faces visible)") and "crash helmet" in text2


def test_split_scenes_keeps_speech_apart():
    scenes, speech = split_scenes('A 5-second video of a cat. The scene is dim. Later: a dog; a bird. '
                                  'A voice says: "hello there"')
    assert speech == "hello there"
    assert scenes[0].startswith("A 5-second video of a cat") and len(scenes) == 3
