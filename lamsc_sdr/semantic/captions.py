"""Caption-style training text for the semantic codec, generated offline from the describers' own code.

The LAM-MSC pipeline does not send Europarl prose: it sends what the offline MMA writes about a
photo or a video, rewritten by the LKB into the sender's first person. This module composes such
sentences without any media, by feeding random *evidence* to the describers' pure functions:

* images: :func:`lamsc_sdr.mma.image_offline.compose` itself, on random ImageNet probabilities
  (a confident class, a two-way tie, a coarse group, or an unclear subject; names from
  ``lamsc_sdr/mma/imagenet_classes.txt``), random face/body counts, brightness, black-and-white
  and dominant colours;
* videos: the sentence template of :func:`lamsc_sdr.mma.video.condense` (duration, motion word,
  "Later: ..." clauses from other frames' first sentences) -- reproduced here because ``condense``
  needs the sentence embedder to pick the medoid frame; the frame texts come from ``compose``;
* the LKB: :func:`lamsc_sdr.kb.rules.extract_rules` with a random sender / receiver / intent
  from the example prompt base (``lamsc_sdr/kb/profiles_example.yaml``: Mike, Jane, Rose, Tom,
  Anna, Lucy, David, Leo), which turns "a person" into "me", "two people" into "Jane and me" ...;
* the receiver gallery's hand-written descriptions (``lamsc_sdr/mma/gallery/gallery.yaml``).

Everything is a pure function of a ``numpy.random.Generator``: ``generate_captions(n, rng)``.
Hold-out: a caption is a test caption when ``is_heldout(caption, CAPTION_HOLDOUT_PERMILLE)``
(sha256 rule of :mod:`.train`); training drops those, ``heldout_captions`` keeps only those, so a
test file drawn with another seed never overlaps the training captions.

Command line (writes one caption a line)::

    python -m lamsc_sdr.semantic.captions --n 300 --seed 12345 --heldout --out captions_test.txt
"""
from __future__ import annotations

import argparse
import hashlib
from functools import lru_cache
from importlib import resources

import numpy as np

CAPTION_HOLDOUT_PERMILLE = 100          # 10 % of distinct captions are test-only
GENERATOR_VERSION = "captions/1"
_COLOURS = ["gray", "black", "white", "red", "orange", "yellow", "green", "teal", "blue", "purple",
            "pink", "brown"]
_INTENTS = [None, None, None, "a selfie of me", "me and my family", "look at this", "guess where I am",
            "me and Jane", "my dog", "for grandma"]


@lru_cache(maxsize=1)
def _gallery() -> tuple[str, ...]:
    import yaml
    text = resources.files("lamsc_sdr.mma").joinpath("gallery/gallery.yaml").read_text()
    return tuple(str(im["description"]).strip() for im in yaml.safe_load(text)["images"])


@lru_cache(maxsize=1)
def _prompt_base():
    from ..kb.profiles import load_example
    base = load_example()
    return base, [p for p in base if not p.is_pet]


def _random_probs(rng: np.random.Generator) -> np.ndarray:
    """(1000,) float probabilities shaped like a classifier's: one of four confidence regimes."""
    from ..mma.imagenet import group_of
    p = rng.dirichlet(np.full(1000, 0.05)) * 0.05                     # background mass
    regime = rng.choice(4, p=[0.35, 0.35, 0.2, 0.1])
    if regime == 0:                                                    # one confident class
        p[rng.integers(1000)] += rng.uniform(0.5, 0.95)
    elif regime == 1:                                                  # two plausible classes
        i, j = rng.choice(1000, 2, replace=False)
        a = rng.uniform(0.15, 0.45)
        p[i] += a
        p[j] += rng.uniform(0.05, a)
    elif regime == 2:                                                  # spread over one coarse group
        groups = group_of()
        g = groups[int(rng.choice([k for k in range(1000) if groups[k]]))]
        members = [k for k in range(1000) if groups[k] == g]
        w = rng.dirichlet(np.ones(len(members))) * rng.uniform(0.5, 0.9)
        p[members] += w
    else:                                                              # unclear: near uniform
        p += rng.uniform(0, 0.1, 1000) / 1000
    return p / p.sum()


def _random_people(rng: np.random.Generator) -> dict:
    n_faces = int(rng.choice([0, 1, 2, 3, 4], p=[0.5, 0.25, 0.13, 0.08, 0.04]))
    n_bodies = int(rng.choice([0, 1, 2], p=[0.8, 0.15, 0.05])) if n_faces == 0 else 0
    return {"faces": [[0, 0, 1, 1]] * n_faces, "bodies": [[0, 0, 1, 1]] * n_bodies}


def _random_scene(rng: np.random.Generator) -> dict:
    gray = bool(rng.random() < 0.1)
    k = int(rng.integers(0, 4))
    cols = list(rng.choice(_COLOURS, size=k, replace=False)) if k else []
    if gray:
        cols = [c for c in cols if c in ("gray", "black", "white")]
    return {"brightness": float(rng.uniform(0.05, 0.9)), "saturation": 0.0, "grayscale": gray,
            "colours": [str(c) for c in cols]}


def image_caption(rng: np.random.Generator) -> str:
    """One offline-image-describer sentence (``compose`` on random evidence)."""
    from ..mma.image_offline import compose
    text, _ = compose(_random_probs(rng), _random_people(rng), _random_scene(rng))
    return text


def video_caption(rng: np.random.Generator) -> str:
    """One offline-video-describer text: ``condense``'s template over random frame sentences."""
    frames = [image_caption(rng) for _ in range(int(rng.integers(1, 4)))]
    duration = float(rng.choice([rng.uniform(0.3, 1.0), rng.uniform(1, 15), rng.uniform(15, 120)], p=[0.1, 0.7, 0.2]))
    motion = float(rng.uniform(0, 0.15))
    from ..mma.video import video_sentence
    return video_sentence(frames[0], frames[1:], duration, motion)


def personalize(text: str, rng: np.random.Generator) -> str:
    """The LKB's sender-side rewrite (``extract_rules``) for a random sender, receiver and intent."""
    from ..kb.rules import extract_rules
    base, people = _prompt_base()
    i, j = rng.choice(len(people), 2, replace=False)
    intent = _INTENTS[int(rng.integers(len(_INTENTS)))]
    return extract_rules(text, base, people[int(i)], people[int(j)], intent)


def caption(rng: np.random.Generator) -> str:
    """One caption-style message: image 60 %, video 30 %, gallery 10 %; LKB-rewritten 70 % of the time."""
    kind = rng.choice(3, p=[0.6, 0.3, 0.1])
    if kind == 0:
        text = image_caption(rng)
    elif kind == 1:
        text = video_caption(rng)
    else:
        g = _gallery()
        text = g[int(rng.integers(len(g)))]
    return personalize(text, rng) if rng.random() < 0.7 else text


def generate_captions(n: int, rng: np.random.Generator, heldout: bool | None = False) -> list[str]:
    """``n`` captions. ``heldout=False``: training captions only (hash-rule test captions dropped);
    ``True``: test captions only; ``None``: no filter."""
    from .train import is_heldout
    out: list[str] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 50 * n + 1000:
            raise RuntimeError(f"caption generator: could not draw {n} captions with heldout={heldout}")
        c = caption(rng)
        if heldout is None or is_heldout(c, CAPTION_HOLDOUT_PERMILLE) == heldout:
            out.append(c)
    return out


def corpus_description(n: int, seed: int, captions: list[str]) -> dict:
    """What goes into a checkpoint: generator version, seed, count, holdout rule and hashes."""
    sha = hashlib.sha256("\n".join(captions).encode("utf-8")).hexdigest()
    src = hashlib.sha256()
    for mod in ("captions.py",):
        src.update(resources.files("lamsc_sdr.semantic").joinpath(mod).read_bytes())
    for mod in ("image_offline.py", "video.py", "imagenet_classes.txt", "gallery/gallery.yaml"):
        src.update(resources.files("lamsc_sdr.mma").joinpath(mod).read_bytes())
    for mod in ("rules.py", "profiles_example.yaml"):
        src.update(resources.files("lamsc_sdr.kb").joinpath(mod).read_bytes())
    return {"generator": GENERATOR_VERSION, "module": "lamsc_sdr.semantic.captions", "seed": seed, "n": n,
            "n_distinct": len(set(captions)), "sha256": sha, "generator_sources_sha256": src.hexdigest(),
            "holdout_rule": f"int(sha256(caption)[:16], 16) % 1000 < {CAPTION_HOLDOUT_PERMILLE} -> test only",
            "mix": "image 60 % / video 30 % / gallery 10 %, LKB extract_rules 70 %"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--heldout", action="store_true", help="test captions only (default: training captions)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    caps = generate_captions(a.n, np.random.default_rng(a.seed), heldout=a.heldout)
    with open(a.out, "w", encoding="utf-8") as f:
        f.write("\n".join(caps) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
