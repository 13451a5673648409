"""Issue 14: a text file's newlines never become junk tokens in the semantic codec."""
import numpy as np
import pytest


@pytest.fixture(scope="module")
def codec():
    from lamsc_sdr.semantic.codec import SemanticCodec
    return SemanticCodec.load("lamsc")


def test_trailing_newline_is_not_a_token(codec):
    text = "Today.\nI will call you tomorrow.\n"
    assert codec.n_tokens(codec.segments(text)[0]) == codec.n_tokens("Today. I will call you tomorrow.")
    syms = codec.encode_message(text)
    out = codec.decode_message(syms, [1e-6] * len(syms))       # a clean channel
    assert out == "today. i will call you tomorrow."
    assert codec.normalize(text) == out


def test_whitespace_runs_collapse(codec):
    from lamsc_sdr.semantic.codec import clean_whitespace
    assert clean_whitespace("  a\t\tb \r\n c\n") == "a b c"
    a = codec.encode(["hello world\n\n"])[0]
    b = codec.encode(["hello world"])[0]
    np.testing.assert_array_equal(a, b)
