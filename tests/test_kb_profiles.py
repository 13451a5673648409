"""Prompt base: YAML/CSV profiles validated into dataclasses, errors naming the field and file."""
import pytest

from lamsc_sdr.config import load_config
from lamsc_sdr.errors import ConfigError
from lamsc_sdr.kb.profiles import load_example, load_profiles, profile_from_mapping


def test_example_base_has_fig3_people():
    base = load_example()
    mike, jane = base.get("Mike"), base.get("jane")
    assert mike.gender == "male" and mike.age == 10 and mike.relationships["Jane"] == "sister"
    assert jane.name == "Jane" and "ballet" in jane.interests


def test_yaml_and_csv_give_the_same_profiles(tmp_path):
    y = tmp_path / "p.yaml"
    y.write_text("schema_version: 1\nprofiles:\n  - {name: Ada, age: 30, gender: F, identity: pilot, "
                 "interests: [chess, tea], relationships: {Bo: husband}}\n")
    c = tmp_path / "p.csv"
    c.write_text("name,age,gender,identity,interests,language,relationships\n"
                 "Ada,30,female,pilot,chess;tea,,Bo:husband\n")
    assert load_profiles(y).get("Ada") == load_profiles(c).get("Ada")


@pytest.mark.parametrize("row, field", [
    ({"name": "Ada", "age": -3}, "profiles[0].age"),
    ({"name": "Ada", "gender": "robot"}, "profiles[0].gender"),
    ({"name": "ada"}, "profiles[0].name"),
    ({"name": "Ada", "hobby": "x"}, "profiles[0].hobby"),
    ({"name": "Ada", "relationships": {"Bo": 3}}, "profiles[0].relationships.Bo"),
    ({"name": "Ada", "interests": 5}, "profiles[0].interests"),
])
def test_bad_field_is_named_with_file(tmp_path, row, field):
    import yaml
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump({"profiles": [row]}))
    with pytest.raises(ConfigError) as err:
        load_profiles(p)
    assert field in str(err.value) and str(p) in str(err.value)


def test_csv_error_names_file(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("name,age\nAda,old\n")
    with pytest.raises(ConfigError, match=r"profiles\[0\]\.age.*bad\.csv"):
        load_profiles(p)


def test_unknown_profile_and_duplicates():
    with pytest.raises(ConfigError, match="no profile named 'Zed'"):
        load_example().get("Zed")
    with pytest.raises(ConfigError, match="duplicate"):
        from lamsc_sdr.kb.profiles import PromptBase
        PromptBase([profile_from_mapping({"name": "A"}), profile_from_mapping({"name": "A"})])


def test_kb_config_section_is_checked():
    assert load_config(None).kb.llm == "offline"
    with pytest.raises(ConfigError, match="kb.llm"):
        load_config(None, {"kb.llm": "gpt5"})
    with pytest.raises(ConfigError, match="kb.runtime"):
        load_config(None, {"kb.runtime": "onnx"})
