"""M4SC: task template, public/private split, addressed frames, the broadcast radio, the multi-user link."""
from __future__ import annotations

import numpy as np
import pytest

from lamsc_sdr.errors import ConfigError
from lamsc_sdr.m4sc import sharing
from lamsc_sdr.m4sc.qa import exact_match, normalize_answer
from lamsc_sdr.m4sc.template import TaskInstruction, session_from_mapping
from lamsc_sdr.phy.header import FrameHeader, accepts, group_address, user_address


# ------------------------------------------------------------------ template
def test_template_round_trip_and_errors():
    t = TaskInstruction("answer", "image", "Jane", "What is in the picture?", "cat.jpg")
    assert TaskInstruction.parse(t.render()) == t
    assert TaskInstruction.from_mapping(t.to_dict()) == t
    with pytest.raises(ConfigError, match="task"):
        TaskInstruction("sing", "image", "Jane")
    with pytest.raises(ConfigError, match="question"):
        TaskInstruction("answer", "image", "Jane")
    with pytest.raises(ConfigError, match="transcribe"):
        TaskInstruction("transcribe", "image", "Jane")
    with pytest.raises(ConfigError, match="missing"):
        TaskInstruction.parse("<task>describe</task>")
    with pytest.raises(ConfigError, match="unknown"):
        TaskInstruction.from_mapping({"task": "describe", "modality": "image", "user": "J", "colour": 1})


def test_users_file_validation():
    s = session_from_mapping({"users": [{"profile": "Jane", "task": "describe"},
                                        {"id": 5, "profile": "Tom", "task": "answer", "instruction": "What?",
                                         "channel": {"snr_db": 3}}]})
    assert [u.id for u in s.users] == [1, 5] and s.users[1].channel == {"snr_db": 3}
    for bad, what in [({"users": []}, "non-empty"), ({"users": [{"profile": "J", "task": "fly"}]}, "task"),
                      ({"users": [{"profile": "J", "task": "answer"}]}, "question"),
                      ({"users": [{"profile": "J", "task": "describe", "id": 40}]}, "id"),
                      ({"users": [{"profile": "J", "task": "describe", "colour": 1}]}, "unknown"),
                      ({"users": [{"profile": "J", "task": "describe"}] * 2 + [{"id": 1, "profile": "K", "task": "describe"}]}, "id")]:
        with pytest.raises(ConfigError, match=what):
            session_from_mapping(bad)


# ------------------------------------------------------------------ header addresses
def test_header_address_round_trip_and_legacy_bits():
    h = FrameHeader(message_id=7, address=group_address(3))
    assert FrameHeader.from_bits(h.to_bits()) == h
    legacy = FrameHeader(message_id=7)           # address 0 = the old reserved zeros
    assert FrameHeader.from_bits(legacy.to_bits()).address == 0
    assert accepts(0, 4) and accepts(user_address(4), 4) and not accepts(user_address(5), 4)
    assert accepts(group_address(0), 4, (0,)) and not accepts(group_address(1), 4, (0,))
    with pytest.raises(ConfigError):
        user_address(0)
    with pytest.raises(ConfigError):
        group_address(32)


# ------------------------------------------------------------------ split (fake embedder: exact wording)
def _words_embed(units):
    vocab = sorted({w for u in units for w in u.lower().split()})
    e = np.array([[u.lower().split().count(w) for w in vocab] for u in units], float)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def test_split_public_groups_private_and_recombine():
    texts = ["A cat sits. The room is dark.", "cat", "A cat sits.", "A cat sits. The room is dark. It rains."]
    plan = sharing.split(texts, threshold=0.99, embed_fn=_words_embed)
    assert plan.groups == [((0, 2, 3), ["A cat sits."]), ((0, 3), ["The room is dark."])]
    assert plan.private_texts == ["", "cat", "", "It rains."]
    assert [plan.user_text(i) for i in range(4)] == texts
    assert sharing.recombine(["A cat sits.", "The room is dark."], "It rains.") == texts[3]
    # a lost public part is skipped, never replaced by anything else
    assert sharing.recombine([None, "The room is dark."], "") == "The room is dark."
    assert sharing.overlap(texts, plan) == pytest.approx(1 - (11 + 17 + 3 + 9) / sum(map(len, texts)))


def test_answers_readable_off_public_semantics_are_not_sent():
    from lamsc_sdr.m4sc import tasks
    desc = "A photo of two people (2 faces visible). The scene is dim, mostly blue."
    tq = [TaskInstruction("describe", "image", "J"), TaskInstruction("answer", "image", "T", "What colour dominates?"),
          TaskInstruction("answer", "image", "R", "Is it black and white?"),
          TaskInstruction("answer", "image", "L", "What is the capital of Peru?")]
    texts = [desc, "the answer is blue.", "the answer is no.", "the answer is lima."]
    plan = sharing.split(texts, threshold=0.99, embed_fn=_words_embed,
                         derive=[(lambda x, t=t: tasks.derive(t, x)) for t in tq])
    assert plan.groups == [((0, 1, 2), ["The scene is dim, mostly blue."])]
    assert plan.private_texts == ["A photo of two people (2 faces visible).", "", "", "the answer is lima."]
    outs = [tasks.generate(t, plan.user_text(i), None, "Mike") for i, t in enumerate(tq)]
    assert outs[1:] == ["blue", "no", "lima"]


def test_personal_units_stay_private():
    texts = ["A photo of a person smiling.", "A photo of Jane smiling.", "A photo of me smiling."]
    plan = sharing.split(texts, threshold=0.5, embed_fn=_words_embed, names=["Jane"])
    assert plan.groups == [] and plan.private_texts == texts


def test_split_counts_a_user_once_per_cluster():
    plan = sharing.split(["Hello there. Hello there."], threshold=0.9, embed_fn=_words_embed)
    assert plan.groups == [] and plan.private_texts == ["Hello there. Hello there."]


def test_sentences_keep_abbreviations():
    from lamsc_sdr.m4sc.tasks import sentences
    assert sentences("And Mr. John Dashwood came. He left!  Then St. Ives.") == \
        ["And Mr. John Dashwood came.", "He left!", "Then St. Ives."]


def test_qa_normal_form():
    assert normalize_answer("The Cat.") == "cat"
    assert exact_match("a cat", ["cat", "kitten"]) and not exact_match("dog", ["cat"])


# ------------------------------------------------------------------ broadcast radio
def test_broadcast_radio_one_tx_many_channels():
    from lamsc_sdr.channel.config import ChannelConfig
    from lamsc_sdr.radio.broadcast import BroadcastSimRadio
    chans = [ChannelConfig(model="awgn", snr_db=s) for s in (30.0, 0.0)]
    r = BroadcastSimRadio(chans, seed=3, gap_samples=0)
    x = np.exp(1j * np.linspace(0, 20, 4000)).astype(np.complex64)
    r.tx(x)
    y0, y1 = r.receiver(0).rx(4000), r.receiver(1).rx(4000)
    # noise power follows each receiver's own SNR (Es/N0 with unit-power x): 1e-3 and 1
    assert np.mean(np.abs(y0 - x) ** 2) == pytest.approx(1e-3, rel=0.15)
    assert np.mean(np.abs(y1 - x) ** 2) == pytest.approx(1.0, rel=0.15)
    assert r.n_receivers == 2 and len(r.settings()["receivers"]) == 2


def test_users_file_errors_are_one_line(tmp_path):
    from lamsc_sdr.m4sc.template import load_session
    (tmp_path / "u.yaml").write_text("users: [{profile: Jane, task: describe}]\n")
    assert load_session(tmp_path / "u.yaml").users[0].profile == "Jane"
    (tmp_path / "bad.yaml").write_text("users: [\n")
    for p in (tmp_path / "bad.yaml", tmp_path / "missing.yaml"):
        with pytest.raises(ConfigError, match="users file"):
            load_session(p)
