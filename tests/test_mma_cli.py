"""``lamsc mma ...`` and ``lamsc eval mma`` end to end on the offline defaults."""
import json

from lamsc_sdr.cli import main


def test_cli_render_describe_and_eval(tmp_path, capsys):
    img, j1, j2, j3 = tmp_path / "cat.png", tmp_path / "r.json", tmp_path / "d.json", tmp_path / "e.json"
    assert main(["mma", "render", "image", "a tabby cat", "--out", str(img), "--json", str(j1)]) == 0
    assert "OFFLINE FALLBACK" in capsys.readouterr().out
    r = json.loads(j1.read_text())
    assert r["offline_fallback"] and r["details"]["match"] == "cat" and "config" in r and "provenance" in r
    assert main(["mma", "detect", str(img)]) == 0 and capsys.readouterr().out.strip() == "image"
    assert main(["mma", "describe", str(img), "--json", str(j2)]) == 0
    d = json.loads(j2.read_text())
    assert d["modality"] == "image" and "cat" in d["text"] and d["offline_fallback"]
    assert main(["eval", "mma", "--modalities", "image", "--images", "chelsea", "--json", str(j3)]) == 0
    e = json.loads(j3.read_text())
    item = e["image"]["items"][0]
    # the gallery holds this photo, but never returns the item under test (no leakage)
    assert item["retrieved_same_photo"] is False and item["gallery_match"] != "cat" and e["original_excluded"]
    assert item["similarity"] < 0.99
    assert set(item["latency_s"]) == {"to_text", "to_media", "back_to_text"}
    assert main(["mma", "describe", str(tmp_path / "missing.png")]) != 0


def test_cli_bad_backend_is_config_error(capsys):
    assert main(["mma", "render", "image", "x", "--out", "/tmp/never.png",
                 "--set", "mma.text_to_image=dalle"]) == 1
    assert "mma.text_to_image" in capsys.readouterr().err
