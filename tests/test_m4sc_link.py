"""M4SC multi-user link over the broadcast sim radio: addressing, recombination, loss reporting."""
from __future__ import annotations

import pytest

from lamsc_sdr.config import RunConfig
from lamsc_sdr.m4sc.link import broadcast_radio, send_session
from lamsc_sdr.m4sc.sharing import SharePlan
from lamsc_sdr.m4sc.template import TaskInstruction

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def codec():
    from lamsc_sdr.semantic.codec import SemanticCodec
    return SemanticCodec.load()


def _cfg():
    return RunConfig().replace(channel={"model": "awgn", "snr_db": 30.0, "cfo_hz": 0.0},
                               estimator={"kind": "ls"})


TPL = [TaskInstruction("describe", "image", "Jane"), TaskInstruction("answer", "image", "Tom", "what?"),
       TaskInstruction("describe", "image", "Rose")]
PLAN = SharePlan([((0, 2), ["the house is closed."])], [["the vote is today."], ["the answer is no."], []], 0.85)


def test_shared_session_each_user_gets_public_plus_own_private(codec):
    cfg = _cfg()
    radio = broadcast_radio(cfg, [{"cfo_hz": 2000.0}, {"cfo_hz": -3000.0}, {}], seed=1)
    res = send_session(radio, cfg, codec, [1, 2, 3], TPL, shared=PLAN, unicast=None)
    u = res["users"]
    assert [x.status for x in u] == ["ok"] * 3
    assert u[0].text_received == "the house is closed. the vote is today."
    assert u[1].text_received == "the answer is no."          # not in the group: its private part only
    assert u[2].text_received == "the house is closed."       # no private part: its group only
    # every receiver heard the frames meant for others and dropped them
    assert [x.foreign_frames for x in u] == [1, 2, 2]
    assert res["transmissions"] == 1 and res["frames"] == 3 and res["announcement_bits"] == 48
    uni = send_session(broadcast_radio(cfg, [{}, {}, {}], seed=1), cfg, codec, [1, 2, 3], TPL, shared=None,
                       unicast=["the house is closed. the vote is today.", "the answer is no.", "the house is closed."])
    assert res["channel_uses"] - res["announcement_bits"] < uni["channel_uses"]
    assert [x.text_received for x in uni["users"]] == [x.text_received for x in u]


def test_lost_public_part_is_reported_never_mixed(codec):
    cfg = _cfg()
    # receiver 3 is in a deep outage: nothing decodes; receiver 1 is fine
    radio = broadcast_radio(cfg, [{}, {}, {"snr_db": -25.0}], seed=2)
    res = send_session(radio, cfg, codec, [1, 2, 3], TPL, shared=PLAN, unicast=None, repair=1)
    bad = res["users"][2]
    assert bad.status == "public_lost" and not bad.public_ok
    assert bad.text_received == ""                            # nothing of user 1's private part
    assert res["users"][0].status == "ok"
    assert res["transmissions"] == 2          # one repair round for the missing parts
