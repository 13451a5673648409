"""Small English helpers for the deterministic perspective rewriter: tokens, cases, agreement.

Pure functions over a token list; no model, no I/O. Tokens are ``(text, start, end)``.
"""
from __future__ import annotations

import re

WORD_RE = re.compile(r"[A-Za-z]+(?:[-'’][A-Za-z]+)*|\d+|[^\w\s]")

PREPOSITIONS = {
    "with", "to", "for", "of", "at", "by", "from", "behind", "beside", "besides", "near", "like",
    "than", "about", "between", "among", "around", "into", "onto", "on", "in", "under", "over",
    "after", "before", "beneath", "above", "below", "towards", "toward", "without", "next",
    "against", "along", "across", "through", "past", "except", "including", "and", "or", "nor",
}
CLAUSE_STARTERS = {"but", "because", "that", "when", "while", "so", "then", "if", "as", "where",
                   "although", "though", "since", "until", "whereas", "whom", "who"}
AUX_TO_FIRST = {"is": "am", "has": "have", "does": "do", "'s": "'m", "’s": "’m"}
AUX_TO_THIRD = {"am": "is", "have": "has", "do": "does", "'m": "'s", "’m": "’s", "are": "is", "were": "was"}
AUX_SECOND_TO_FIRST = {"are": "am", "were": "was", "'re": "'m", "’re": "’m"}
FINITE = {"am", "is", "are", "was", "were", "has", "have", "had", "will", "would", "can", "could",
          "should", "shall", "may", "might", "must", "do", "does", "did", "'s", "'re", "'m", "'ve",
          "'ll", "'d", "’s", "’re", "’m"}
MODALS = {"will", "would", "can", "could", "should", "shall", "may", "might", "must", "did", "had",
          "was", "were", "'ll", "'d", "’ll", "’d", "'ve", "’ve"}
IRREGULAR_PAST = {"was", "were", "went", "saw", "took", "made", "had", "got", "came", "ran", "sat",
                  "stood", "held", "met", "gave", "found", "felt", "thought", "said", "told", "wrote",
                  "ate", "drank", "bought", "brought", "caught", "knew", "left", "lost", "won", "began",
                  "swam", "sang", "rode", "drove", "flew", "threw", "kept", "slept", "built", "spent",
                  "sent", "taught", "fell", "hid", "let", "put", "read", "set", "cut", "hit", "hurt"}
ADVERBS = {"really", "also", "always", "never", "just", "still", "often", "sometimes", "usually",
           "already", "even", "only", "truly", "finally", "both", "all", "together", "happily"}
NOT_VERBS = PREPOSITIONS | CLAUSE_STARTERS | {"a", "an", "the", "this", "that", "these", "those", "my",
                                             "your", "his", "her", "its", "our", "their", "not", "too",
                                             "very", "so", "here", "there", "now", "again", "who", "which"}


def tokenize(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(), m.start(), m.end()) for m in WORD_RE.finditer(text)]


def is_word(tok: str) -> bool:
    return tok[:1].isalpha()


def low(tokens, i: int) -> str | None:
    """Lower-cased token ``i`` (curly apostrophes straightened) or None out of range."""
    if 0 <= i < len(tokens):
        return tokens[i][0].lower().replace("’", "'")
    return None


def clause_start(tokens, i: int) -> bool:
    """True when token ``i`` begins a clause (text start, after . ! ? ; : , or a clause conjunction)."""
    prev = low(tokens, i - 1)
    return prev is None or prev in {".", "!", "?", ";", ":", ",", "(", "-", "—"} or prev in CLAUSE_STARTERS


def grammatical_role(tokens, a: int, b: int) -> str:
    """Role of the noun phrase tokens[a:b]: ``"subject"``, ``"object"`` or ``"fragment"``.

    A phrase after a preposition or a verb is an object; one followed by a finite verb is a
    subject; one opening a clause and followed by a preposition, an -ing word or nothing is a
    caption fragment ("Jane and me in a playful pose").
    """
    prev, nxt = low(tokens, a - 1), low(tokens, b)
    if prev in PREPOSITIONS - {"and", "or", "nor"}:
        return "object"
    if nxt in FINITE:
        return "subject"
    if clause_start(tokens, a):
        if nxt is None or not is_word(nxt) or nxt in PREPOSITIONS or nxt.endswith("ing"):
            return "fragment"
        return "subject"
    if prev is not None and is_word(prev) and prev not in NOT_VERBS:
        return "object"
    return "subject"


def third_person(verb: str) -> str:
    """``play`` -> ``plays``, ``miss`` -> ``misses``, ``carry`` -> ``carries``, ``have`` -> ``has``."""
    v = verb.lower()
    if v in AUX_TO_THIRD:
        return _match_case(AUX_TO_THIRD[v], verb)
    if v == "go":
        return _match_case("goes", verb)
    if re.search(r"(ss|sh|ch|x|z|o)$", v):
        return verb + "es"
    if v in MODALS or v in IRREGULAR_PAST or (v.endswith("ed") and not v.endswith("eed")) or v.endswith("s") \
            or v.endswith("ing"):
        return verb
    if re.search(r"[^aeiou]y$", v):
        return verb[:-1] + "ies"
    return verb + "s"


def base_form(verb: str) -> str:
    """``plays`` -> ``play``, ``misses`` -> ``miss``, ``is`` -> ``am`` (first person singular)."""
    v = verb.lower().replace("’", "'")
    if v in AUX_TO_FIRST:
        return _match_case(AUX_TO_FIRST[v], verb)
    if v in FINITE or v in IRREGULAR_PAST or v.endswith("ss") or not v.endswith("s") or len(v) < 4:
        return verb
    if v == "goes":
        return verb[:-2]
    if v.endswith("ies"):
        return verb[:-3] + "y"
    if re.search(r"(sh|ch|x|z|o)es$", v):
        return verb[:-2]
    return verb[:-1]


def verb_index(tokens, i: int) -> int | None:
    """Index of the verb that follows a subject ending at token ``i - 1`` (skipping adverbs)."""
    j = i
    while low(tokens, j) in ADVERBS:
        j += 1
    w = low(tokens, j)
    if w is None or not is_word(w) or w in NOT_VERBS:
        return None
    return j


def _match_case(word: str, like: str) -> str:
    return word[:1].upper() + word[1:] if like[:1].isupper() else word


def capitalize_sentences(text: str) -> str:
    """Upper-case the first letter of the text and of every sentence."""
    return re.sub(r"(^\s*|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


def join_names(labels: list[str]) -> str:
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " and " + labels[-1]


def render(text: str, tokens, edits: dict[int, str], deletes: set[int] = frozenset(),
           inserts: dict[int, str] | None = None) -> str:
    """Rebuild ``text`` with token ``i`` replaced by ``edits[i]``, ``deletes`` removed and
    ``inserts[i]`` placed before token ``i``; whitespace and punctuation between tokens are kept."""
    out, pos = [], 0
    inserts = inserts or {}
    for i, (tok, s, e) in enumerate(tokens):
        gap, pos = text[pos:s], e
        if i in deletes:
            continue  # the token and the space before it go
        out.append(gap)
        if i in inserts:
            out.append(inserts[i] + " " if is_word(tok) else " " + inserts[i])
        out.append(edits.get(i, tok))
    out.append(text[pos:])
    s = "".join(out)
    s = re.sub(r"[ \t]{2,}", " ", s)
    s = re.sub(r" +([,.!?;:])", r"\1", s)
    return s.strip()
