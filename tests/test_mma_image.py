"""MMA image -> text: the offline default on real photos, a tiny local captioner, a loopback vision server."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from lamsc_sdr.errors import ModelUnavailableError
from lamsc_sdr.mma import MMAConfig, make_media_to_text

skdata = pytest.importorskip("skimage.data")


def test_offline_describer_real_photos():
    d = make_media_to_text("image")                       # default: offline classifier + detectors
    cat = d.describe(skdata.chelsea())
    assert cat.offline_fallback and cat.backend.startswith("offline:")
    assert "cat" in cat.text.lower() and cat.details["groups"]["cat"] > 0.5
    coffee = d.describe(skdata.coffee())
    assert "espresso" in coffee.text
    astro = d.describe(skdata.astronaut())
    assert astro.details["faces"] == 1 and "person" in astro.text
    assert "note" in astro.details and "not a captioning model" in astro.details["note"]


def test_offline_describer_reads_files(tmp_path):
    from PIL import Image
    Image.fromarray(skdata.rocket()).save(tmp_path / "rocket.jpg")
    r = make_media_to_text("image").describe(tmp_path / "rocket.jpg")
    assert r.text.startswith("A photo of") and r.details["top5"][0][1] > 0.1


@pytest.fixture(scope="module")
def tiny_captioner(tmp_path_factory):
    """A random ViT + GPT-2 vision-encoder-decoder with a word-level tokenizer, saved locally."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (GPT2Config, PreTrainedTokenizerFast, VisionEncoderDecoderConfig,
                              VisionEncoderDecoderModel, ViTConfig, ViTImageProcessor)
    d = tmp_path_factory.mktemp("tiny_ved")
    words = ["<pad>", "<s>", "</s>", "<unk>", "a", "cat", "photo", "of", "the", "dog"]
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>",
                                  pad_token="<pad>", unk_token="<unk>")
    enc = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1,
                    num_attention_heads=2, intermediate_size=37)
    dec = GPT2Config(vocab_size=len(words), n_positions=32, n_embd=32, n_layer=1, n_head=2,
                     bos_token_id=1, eos_token_id=2, pad_token_id=0)
    cfg = VisionEncoderDecoderConfig.from_encoder_decoder_configs(enc, dec)
    cfg.decoder_start_token_id, cfg.pad_token_id, cfg.eos_token_id = 1, 0, 2
    import torch
    torch.manual_seed(0)
    VisionEncoderDecoderModel(config=cfg).save_pretrained(d)
    tok.save_pretrained(d)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(d)
    return d


def test_transformers_captioner_loads_local_model(tiny_captioner):
    cfg = MMAConfig(image_to_text=f"transformers:{tiny_captioner}", max_new_tokens=5)
    d = make_media_to_text("image", cfg)
    r = d.describe(skdata.coffee())
    assert r.backend == f"transformers:{tiny_captioner}" and not r.offline_fallback
    assert isinstance(r.text, str) and r.text        # random weights: words from the tiny vocabulary
    assert set(r.text.split()) <= {"a", "cat", "photo", "of", "the", "dog", "<unk>", "(empty", "caption)"}


def test_transformers_captioner_missing_model(tmp_path):
    d = make_media_to_text("image", MMAConfig(image_to_text=f"transformers:{tmp_path / 'nope'}"))
    with pytest.raises(ModelUnavailableError, match="save_pretrained"):
        d.describe(np.zeros((32, 32, 3), np.uint8))


class _Vision(BaseHTTPRequestHandler):
    calls: list = []
    fail_first = 0

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append((self.path, self.headers.get("Authorization"), body))
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        if self.path == "/v1/slow/chat/completions":
            time.sleep(1.0)
        parts = body["messages"][0]["content"]
        url = next(p["image_url"]["url"] for p in parts if p["type"] == "image_url")
        ok = url.startswith("data:image/jpeg;base64,")
        reply = {"choices": [{"message": {"role": "assistant",
                                          "content": "A cat looks at the camera." if ok else "no image"}}],
                 "usage": {"prompt_tokens": 10, "completion_tokens": 6}}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except BrokenPipeError:                                 # the client timed out first
            pass


@pytest.fixture
def vision_server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Vision)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    _Vision.calls, _Vision.fail_first = [], 0
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def test_openai_vision_backend_loopback(vision_server, monkeypatch):
    monkeypatch.setenv("TEST_VISION_KEY", "sk-test")
    cfg = MMAConfig(image_to_text="openai:tiny-vision", openai_base_url=vision_server,
                    openai_api_key_env="TEST_VISION_KEY", timeout_s=5, retries=2)
    d = make_media_to_text("image", cfg)
    _Vision.fail_first = 1                                      # one 503, then success after backoff
    r = d.describe(skdata.chelsea())
    assert r.text == "A cat looks at the camera." and r.backend == "openai:tiny-vision"
    assert len(_Vision.calls) == 2
    path, auth, body = _Vision.calls[-1]
    assert path == "/v1/chat/completions" and auth == "Bearer sk-test" and body["model"] == "tiny-vision"


def test_openai_vision_timeout_and_refused(vision_server):
    cfg = MMAConfig(image_to_text="openai:m", openai_base_url=vision_server + "/slow", timeout_s=0.2, retries=0)
    t0 = time.perf_counter()
    with pytest.raises(ModelUnavailableError, match="no answer"):
        make_media_to_text("image", cfg).describe(np.zeros((16, 16, 3), np.uint8))
    assert time.perf_counter() - t0 < 3
    dead = MMAConfig(image_to_text="openai:m", openai_base_url="http://127.0.0.1:9/v1", timeout_s=1, retries=0)
    with pytest.raises(ModelUnavailableError):
        make_media_to_text("image", dead).describe(np.zeros((16, 16, 3), np.uint8))
