"""The receiver's gallery is also indexed by its own image describer, so a description the
sender's MMA made of a photo retrieves that photo (like-for-like matching)."""
from lamsc_sdr.mma import MMAConfig, make_media_to_text, make_text_to_media


def test_self_indexed_gallery_retrieves_the_described_photo(tmp_path):
    cfg = MMAConfig()
    t2i = make_text_to_media("image", cfg)
    item = next(it for it in t2i.items() if it.id.startswith("coffee"))
    text = make_media_to_text("image", cfg).describe(item.path).text
    res = t2i.render(text, tmp_path / "out.png")
    assert res.details["match"] == item.id and res.offline_fallback
    plain = make_text_to_media("image", MMAConfig(gallery_self_index=False))
    assert plain.describer is None and len(plain.rank("a cup of coffee")) == len(t2i.items())
