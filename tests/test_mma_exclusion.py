"""No leakage by construction: the receiver's retrieval stand-ins never return the item under test.

The gallery once held the very photos the experiments and the demo sent, and a description of a
photo retrieved the photo itself (accuracy 1.00 guaranteed). Now the original is withheld by
content fingerprint (file hash, pixel hash, perceptual hash) in every path that regenerates media.
"""
import io
import json

import numpy as np
import pytest
import skimage.data
from PIL import Image

from lamsc_sdr.mma import MMAConfig, make_media_to_text, make_text_to_media
from lamsc_sdr.mma.fingerprint import MAX_HAMMING, hamming, image_fingerprint, media_fingerprint, phash
from lamsc_sdr.mma.image_gen import GalleryRetriever, gallery_fingerprints
from lamsc_sdr.mma.video import write_mp4


def _jpeg_roundtrip(img: np.ndarray, size: int, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).resize((size, size * img.shape[0] // img.shape[1])).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def test_phash_is_invariant_to_resizing_and_jpeg_but_separates_different_photos():
    photos = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea(), skimage.data.rocket()]
    for p in photos:
        assert hamming(phash(p), phash(_jpeg_roundtrip(p, 200, 40))) <= 6
    d = [hamming(phash(a), phash(b)) for i, a in enumerate(photos) for b in photos[i + 1:]]
    assert min(d) > 2 * MAX_HAMMING


def test_phash_matches_a_scipy_reference():
    """The published recipe with SciPy's DCT-II (norm='ortho') in place of OpenCV's."""
    import cv2
    from scipy.fft import dctn
    for img in (skimage.data.astronaut(), skimage.data.camera()):
        g = img if img.ndim == 2 else cv2.cvtColor(img.astype(np.float32), cv2.COLOR_RGB2GRAY)
        low = dctn(cv2.resize(g.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA), norm="ortho")[:8, :8]
        ref = int("".join("1" if b else "0" for b in (low.ravel() > np.median(low.ravel()[1:]))), 2)
        assert hamming(phash(img), ref) <= 1        # float32 vs float64 ties at the median


def test_gallery_items_are_pairwise_distinct_so_exclusion_withholds_only_the_original():
    fps = [fp for fp, _ in gallery_fingerprints(GalleryRetriever().items())]
    d = [hamming(a.phashes[0], b.phashes[0]) for i, a in enumerate(fps) for b in fps[i + 1:]]
    assert min(d) > MAX_HAMMING


def test_described_gallery_photo_never_comes_back_as_itself(tmp_path):
    """Replaces the old test that required the leak (self-indexing found the original)."""
    cfg = MMAConfig()
    t2i = make_text_to_media("image", cfg)
    coffee = skimage.data.coffee()                          # the full-size original, not the gallery file
    text = make_media_to_text("image", cfg).describe(coffee).text
    with t2i.excluding(image_fingerprint(coffee)):
        res = t2i.render(text, tmp_path / "out.png")
        assert t2i.excluded_ids() == {"coffee"}
    assert res.details["match"] != "coffee" and res.details["excluded"] == ["coffee"]
    assert "original excluded" in res.details["note"]
    out = np.asarray(Image.open(res.path).convert("RGB"))
    assert hamming(phash(out), phash(coffee)) > MAX_HAMMING
    assert t2i.excluded_ids() == set()                      # withheld only while the context is open


def test_a_still_of_the_sent_video_is_withheld(tmp_path):
    cat = np.asarray(Image.fromarray(skimage.data.chelsea()).resize((320, 240)))
    frames = np.stack([np.roll(cat, 3 * t, axis=1) for t in range(12)])     # (T, H, W, 3) a slow pan
    clip = write_mp4(tmp_path / "pan.mp4", frames, fps=8)
    g = GalleryRetriever()
    with g.excluding(media_fingerprint(clip, video_every=3)):
        assert "cat" in g.excluded_ids()
        assert all(it.id != "cat" for it, _ in g.rank("A close-up of a tabby cat's face"))


def test_origin_hash_withholds_items_cut_from_a_file(tmp_path):
    src = tmp_path / "source.bin"
    src.write_bytes(b"any original the item was cut from")
    from lamsc_sdr.mma.fingerprint import file_sha256
    Image.fromarray(skimage.data.rocket()).save(tmp_path / "r.jpg")
    Image.fromarray(skimage.data.coffee()).save(tmp_path / "c.jpg")
    (tmp_path / "gallery.yaml").write_text(
        "schema_version: 1\nimages:\n"
        f"  - {{file: r.jpg, description: a rocket, origin_sha256: [{file_sha256(src)}]}}\n"
        "  - {file: c.jpg, description: a cup of coffee}\n")
    g = GalleryRetriever(tmp_path)
    with g.excluding(media_fingerprint(src)):
        assert g.excluded_ids() == {"r"}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_lamsc_link_never_returns_the_original(tmp_path):
    """Contract: ``lamsc link IMAGE --json`` -> media_out is never the original file or its pixels,
    even when the image sent is a gallery photo itself, at an SNR where the text arrives intact."""
    from lamsc_sdr.cli import main
    from lamsc_sdr.mma.image_gen import default_gallery_dir
    src = default_gallery_dir() / "astronaut.jpg"
    out = tmp_path / "link.json"
    assert main(["link", str(src), "--radio", "sim", "--json", str(out), "--media-out", str(tmp_path / "media"),
                 "--set", "channel.model=awgn", "--set", "channel.snr_db=30", "--set", "estimator.kind=ls",
                 "--set", "kb.llm=rules"]) == 0
    m = json.loads(out.read_text())["messages"][0]
    assert m["text_received"] is not None and m["similarity"] > 0.9
    got = np.asarray(Image.open(m["media_out"]).convert("RGB"))
    orig = np.asarray(Image.open(src).convert("RGB"))
    assert got.shape != orig.shape or not np.array_equal(got, orig)
    assert hamming(phash(got), phash(orig)) > MAX_HAMMING
    assert "original excluded" in m["media_out_note"]
    assert any("original excluded" in lb for lb in m["labels"])
