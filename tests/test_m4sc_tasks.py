"""M4SC tasks by template alone (fake describer, real LKB rules), QA rules, alignment data and retrieval."""
from __future__ import annotations

import numpy as np
import pytest

from lamsc_sdr.errors import ConfigError
from lamsc_sdr.m4sc import tasks
from lamsc_sdr.m4sc.qa import answer_question
from lamsc_sdr.m4sc.template import TaskInstruction
from lamsc_sdr.mma.base import TextResult


class _Describer:
    def __init__(self, text, details):
        self.text, self.details = text, details

    def describe(self, path):
        return TextResult(self.text, "fake", True, self.details)


class _Stages:
    """Stands in for pipeline.Stages: a fixed describer, the real rule-based LKB."""

    def __init__(self, text, details):
        from lamsc_sdr.kb import KnowledgeBase
        from lamsc_sdr.kb.config import KBConfig
        self.kb = KnowledgeBase.from_config(KBConfig(llm="rules"))
        self._d = _Describer(text, details)

    def media_to_text(self, modality):
        return self._d


EVIDENCE = {"groups": {"cat": 0.9}, "top5": [["tabby", 0.6]], "faces": 2, "bodies": 0,
            "scene": {"grayscale": False, "colours": ["brown", "gray"], "brightness": 0.5}}


@pytest.fixture()
def photo(tmp_path):
    p = tmp_path / "x.jpg"
    p.write_bytes(b"\xff\xd8 not really a jpeg")
    return p


def test_every_task_runs_by_template_alone(photo):
    st = _Stages("A photo of two people (2 faces visible) with what looks like a cat. The scene is evenly lit.",
                 EVIDENCE)
    out = {}
    for task, instr in (("describe", ""), ("answer", "How many people are in it?"), ("summarize", "")):
        t = TaskInstruction(task, "image", "Jane", instr, str(photo))
        out[task] = tasks.run_task(TaskInstruction.parse(t.render()), st, "Mike")
    assert out["describe"]["output"].startswith("A photo of two people")
    assert out["answer"]["semantics"] == "the answer is two." and out["answer"]["output"] == "two"
    # summarize: the LKB's first-person rewrite for Jane, of the first sentence only
    assert "lit" not in out["summarize"]["output"] and out["summarize"]["output"] != out["describe"]["output"]
    with pytest.raises(ConfigError, match="no speech"):
        tasks.run_task(TaskInstruction("transcribe", "video", "Jane", "", str(photo)), st)


def test_transcribe_and_answer_on_speech(tmp_path):
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"RIFF")
    st = _Stages("He was not an ill disposed young man.", {})
    t = TaskInstruction("transcribe", "audio", "Tom", "", str(wav))
    assert tasks.run_task(t, st)["output"] == "He was not an ill disposed young man."
    q = TaskInstruction("answer", "audio", "Tom", "Does it mention a young man?", str(wav))
    assert tasks.run_task(q, st)["output"] == "yes"


@pytest.mark.parametrize("q, a", [("Is it black and white?", "no"), ("Is it a colour photo?", "yes"),
                                  ("What colour dominates?", "brown"), ("What animal is in the picture?", "cat"),
                                  ("How many people are in it?", "two")])
def test_qa_rules(q, a):
    sem = tasks.MediaSemantics("x", "image", "A photo of a cat.", "", EVIDENCE)
    assert answer_question(q, sem) == a


def test_alignment_split_is_by_caption_and_scenes_match_captions():
    from lamsc_sdr.m4sc.align_data import COLOURS, is_eval, moving_clip, shape_scene
    caps = [f"caption {i}" for i in range(2000)]
    share = np.mean([is_eval(c) for c in caps])
    assert 0.26 < share < 0.34 and is_eval("Caption 7 ") == is_eval("caption 7")
    rng = np.random.default_rng(0)
    for _ in range(20):
        img, cap = shape_scene(rng)
        assert img.shape == (224, 224, 3) and cap.endswith("background")
        for name, rgb in COLOURS.items():     # each named colour is drawn, each drawn colour named
            drawn = np.any(np.all(np.abs(img.astype(int) - rgb) < 3, axis=-1))
            assert drawn == (f" {name} " in f" {cap} ")
    v, cap = moving_clip(rng)
    assert v.shape[0] == 4 and " moves " in cap


def test_retrieval_and_projector_training():
    torch = pytest.importorskip("torch")
    from lamsc_sdr.m4sc.align import retrieval, train_projector
    caps = ["a red circle on a white background", "a blue square on a black background",
            "a green triangle on a gray background", "a purple circle on a black background",
            "a yellow square on a white background", "an orange triangle on a gray background"]
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(len(caps), 64)).astype(np.float32)
    idx = np.repeat(np.arange(len(caps)), 8)
    X = centers[idx] + 0.05 * rng.normal(size=(len(idx), 64)).astype(np.float32)
    torch.manual_seed(0)
    for kind in ("kan", "mlp"):
        proj, losses = train_projector(kind, X, [caps[i] for i in idx], epochs=150)
        assert losses[-1] < losses[0] / 3
        r = retrieval(proj, X[::8], caps)
        assert r["r1"]["rate"] == 1.0 and r["r1"]["n"] == len(caps) and r["n_captions"] == len(caps)


def test_experiment_media_and_task_mix(tmp_path):
    from lamsc_sdr.m4sc.experiment import TASK_CYCLE, media_items, templates_for
    m = media_items(tmp_path, 1)
    assert len(m["image"]) == 1 and m["image"][0].is_file()
    tpl = templates_for(8, "image", "x.png")
    assert len({t.user for t in tpl}) == 8 and [t.task for t in tpl[:4]] == [c[0] for c in TASK_CYCLE["image"][:4]]
    assert len({t.task for t in templates_for(4, "audio")}) == 4          # four different tasks
