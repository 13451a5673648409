"""`lamsc eval lkb`: the cases file, the JSON payload, and the real offline LLM (slow)."""
import json
from pathlib import Path

import pytest

from lamsc_sdr.cli import main
from lamsc_sdr.errors import ConfigError
from lamsc_sdr.kb.evaluate import check, has_word, load_cases
from lamsc_sdr.kb.profiles import load_example

CASES = Path(__file__).parent / "data" / "lkb_cases.yaml"


def test_cases_file_is_rich_enough():
    cases = load_cases(CASES, load_example())
    assert len(cases) >= 30
    assert sum("injection" in c.name for c in cases) >= 3 and sum(c.intent is not None for c in cases) >= 3


def test_word_matching_is_whole_word_and_case_insensitive():
    assert has_word("Mike's hat", "mike") and has_word("I am", "I am") and not has_word("Michael", "Mike")
    assert check("Jane and me", ("jane", "me"), ("I",)) == []
    assert check("Jane and I", ("me",), ("i",)) == ["missing 'me'", "unwanted 'i'"]


def test_eval_rules_backend_writes_json(tmp_path, capsys):
    out = tmp_path / "lkb.json"
    assert main(["eval", "lkb", "--cases", str(CASES), "--backend", "rules", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["accuracy"] >= 0.9 and data["n_cases"] == len(data["results"]) >= 30
    r = data["results"][0]
    assert {"case", "correct", "sender_text", "receiver_text", "latency_s"} <= set(r)
    assert r["sender_text"].startswith("Jane and I") and "config" in data and "provenance" in data


@pytest.mark.parametrize("body, field", [
    ("- {sender: Mike, receiver: Jane}", "cases[0].description"),
    ("- {description: x, sender: Zed, receiver: Jane}", "cases[0].sender"),
    ("- {description: x, sender: Mike, receiver: {name: Ann, age: old}}", "cases[0].receiver.age"),
    ("- {description: x, sender: Mike, receiver: Jane, sender_must: Jane}", "cases[0].sender_must"),
    ("- {description: x, sender: Mike, receiver: Jane, extra: 1}", "cases[0].extra"),
])
def test_bad_cases_file(tmp_path, body, field):
    p = tmp_path / "cases.yaml"
    p.write_text(body)
    with pytest.raises(ConfigError) as err:
        load_cases(p, load_example())
    assert field in str(err.value) and str(p) in str(err.value)


@pytest.mark.slow
def test_offline_llm_end_to_end(tmp_path):
    """Real Qwen2.5-0.5B (assembled from the pip chunks, CTranslate2 int8) on the cases file."""
    from lamsc_sdr.kb.chat import make_chat_model
    from lamsc_sdr.kb.evaluate import evaluate
    from lamsc_sdr.kb.knowledge import KnowledgeBase
    chat = make_chat_model("offline")
    assert "hello" in chat.chat([{"role": "user", "content": "Reply with the word hello."}], max_tokens=5).lower()
    kb = KnowledgeBase(load_example(), chat)
    res = evaluate(kb, load_cases(CASES, kb.base)[:8])
    assert res["accuracy"] >= 0.9 and res["latency_per_call_s"]["p50"] < 6.0
