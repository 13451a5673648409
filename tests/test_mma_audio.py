"""MMA speech <-> text: Whisper on LibriVox (WER), piper and espeak-ng, a tiny local transformers ASR."""
import json
import shutil
import wave

import numpy as np
import pytest

from lamsc_sdr.errors import ModelUnavailableError
from lamsc_sdr.mma import MMAConfig, make_media_to_text, make_text_to_media
from lamsc_sdr.mma.evaluate import LIBRIVOX_DIR, librivox_clips
from lamsc_sdr.mma.metrics import wer

needs_librivox = pytest.mark.skipif(not (LIBRIVOX_DIR / "transcription").is_file(),
                                    reason="Debian pocketsphinx-testdata not installed")


@needs_librivox
def test_whisper_on_librivox_clip():
    clips = dict((p.stem, (p, t)) for p, t in librivox_clips())
    wav, ref = clips["sense_and_sensibility_01_austen_64kb-0930"]   # "he might even have been made amiable himself"
    r = make_media_to_text("audio").describe(wav)
    assert r.backend.startswith("whisper:") and not r.offline_fallback
    assert wer(ref, r.text) <= 0.35, (ref, r.text)
    assert r.details["duration_s"] == pytest.approx(3.29, abs=0.1)


def test_piper_speech_is_transcribed_back(tmp_path):
    text = "The astronaut smiles in front of the flag."
    res = make_text_to_media("audio").render(text, tmp_path / "say.wav")
    assert res.backend.startswith("piper:") and not res.offline_fallback
    with wave.open(str(res.path)) as w:
        assert w.getframerate() == 22050 and w.getnframes() > 22050
    back = make_media_to_text("audio").describe(res.path)
    assert wer(text, back.text) <= 0.3, back.text
    # deterministic: the same text gives the same samples, so a run repeats bit for bit
    again = make_text_to_media("audio").render(text, tmp_path / "again.wav")
    assert again.path.read_bytes() == res.path.read_bytes()
    assert make_media_to_text("audio").describe(again.path).text == back.text


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_espeak_backend_and_piper_fallback(tmp_path):
    res = make_text_to_media("audio", MMAConfig(text_to_audio="espeak")).render("hello world", tmp_path / "e.wav")
    assert res.backend == "espeak-ng" and res.details["duration_s"] > 0.3
    broken = make_text_to_media("audio", MMAConfig(text_to_audio=f"piper:{tmp_path / 'none.onnx'}"))
    fb = broken.render("hello world", tmp_path / "fb.wav")
    assert fb.offline_fallback and fb.backend == "espeak-ng" and "not found" in fb.details["fallback_reason"]


def test_audio_array_input_and_bad_shape():
    d = make_media_to_text("audio")
    silence = d.describe(np.zeros(16000, np.float32))
    assert isinstance(silence.text, str)
    with pytest.raises(Exception) as ei:
        d.describe(np.zeros((2, 3, 4)))
    assert type(ei.value).__name__ == "ShapeError"


@pytest.fixture(scope="module")
def tiny_ctc(tmp_path_factory):
    """A random Wav2Vec2-CTC model + character tokenizer saved locally (no downloads)."""
    from transformers import (Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor,
                              Wav2Vec2ForCTC, Wav2Vec2Processor)
    d = tmp_path_factory.mktemp("tiny_ctc")
    vocab = {"<pad>": 0, "<unk>": 1, "|": 2, **{c: i + 3 for i, c in enumerate("abcdefghijklmnopqrstuvwxyz'")}}
    (d / "vocab.json").write_text(json.dumps(vocab))
    tok = Wav2Vec2CTCTokenizer(str(d / "vocab.json"), unk_token="<unk>", pad_token="<pad>", word_delimiter_token="|")
    fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                                  do_normalize=True, return_attention_mask=False)
    Wav2Vec2Processor(feature_extractor=fe, tokenizer=tok).save_pretrained(d)
    cfg = Wav2Vec2Config(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8),
                         num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2, pad_token_id=0)
    import torch
    torch.manual_seed(0)
    Wav2Vec2ForCTC(cfg).save_pretrained(d)
    return d


def test_transformers_asr_pipeline_local(tiny_ctc):
    d = make_media_to_text("audio", MMAConfig(audio_to_text=f"transformers:{tiny_ctc}"))
    r = d.describe(np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32))
    assert r.backend == f"transformers:{tiny_ctc}" and isinstance(r.text, str)
    assert set(r.text.replace("<unk>", "")) <= set("abcdefghijklmnopqrstuvwxyz' ")


def test_whisper_bad_path_is_model_unavailable(tmp_path):
    d = make_media_to_text("audio", MMAConfig(audio_to_text=f"whisper:{tmp_path}"))
    with pytest.raises(ModelUnavailableError, match="CTranslate2"):
        d.describe(np.zeros(1600, np.float32))
