"""ImageNet-1k class names (shipped) and a coarse grouping of the 1000 classes.

The grouping follows the contiguous ranges of the ILSVRC-2012 class order (e.g. 151..268 are
dog breeds): the offline describer sums probabilities per group so that "Egyptian cat 0.78,
tiger cat 0.10, tabby 0.07" reads as "a cat (likely an Egyptian cat)".
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

# (first, last, group noun) -- inclusive index ranges in the ILSVRC-2012 order.
_GROUPS: list[tuple[int, int, str]] = [
    (0, 6, "fish"), (7, 24, "bird"), (25, 32, "amphibian"), (33, 37, "turtle"),
    (38, 48, "lizard"), (49, 50, "crocodile"), (52, 68, "snake"), (69, 79, "spider or bug"),
    (80, 100, "bird"), (101, 101, "elephant"), (102, 106, "small mammal"),
    (107, 126, "sea creature"), (127, 146, "bird"), (147, 150, "marine mammal"),
    (151, 268, "dog"), (269, 280, "wild dog or fox"), (281, 285, "cat"), (286, 293, "big cat"),
    (294, 297, "bear"), (298, 299, "small mammal"), (300, 326, "insect"),
    (327, 329, "sea creature"), (330, 338, "small mammal"), (339, 339, "horse"),
    (340, 353, "hoofed animal"), (354, 355, "camel or llama"), (356, 364, "small mammal"),
    (365, 384, "monkey or ape"), (385, 386, "elephant"), (387, 388, "panda"),
    (389, 397, "fish"), (924, 969, "dish or drink"), (970, 980, "landscape"),
    (981, 983, "person"), (984, 998, "plant or mushroom"),
]

# Ambiguous short names made readable.
_RENAME = {134: "crane (bird)", 517: "crane (machine)", 638: "swimsuit", 639: "tank suit",
           836: "sunglass", 837: "sunglasses"}


@lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    """The 1000 ImageNet class names, index-aligned with the classifier's logits."""
    text = resources.files("lamsc_sdr.mma").joinpath("imagenet_classes.txt").read_text()
    names = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if len(names) != 1000:
        raise RuntimeError(f"imagenet_classes.txt holds {len(names)} names, expected 1000")
    return tuple(_RENAME.get(i, n) for i, n in enumerate(names))


@lru_cache(maxsize=1)
def group_of() -> tuple[str | None, ...]:
    """Per class index, its coarse group noun (None for the 'object' classes 398..923 etc.)."""
    out: list[str | None] = [None] * 1000
    for a, b, g in _GROUPS:
        for i in range(a, b + 1):
            out[i] = g
    return tuple(out)


def article(noun: str) -> str:
    """``"an espresso"``, ``"a cat"`` (plural-looking nouns get no article)."""
    n = noun.strip()
    if not n:
        return n
    if n.lower().endswith(("sunglasses", "jeans", "binoculars", "pajamas")):
        return n
    return ("an " if n[0].lower() in "aeiou" else "a ") + n
