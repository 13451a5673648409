"""M4SC over emulated Plutos: one emulated transmitter, several emulated receivers (lamsc_sdr.emulator)."""
from __future__ import annotations

import pytest

pytest.importorskip("adi")
pytest.importorskip("torch")


@pytest.mark.slow
def test_shared_session_over_three_emulated_plutos():
    from lamsc_sdr.config import RunConfig
    from lamsc_sdr.emulator import PlutoEmulator
    from lamsc_sdr.m4sc.link import send_session
    from lamsc_sdr.m4sc.sharing import SharePlan
    from lamsc_sdr.m4sc.template import TaskInstruction
    from lamsc_sdr.radio.broadcast import RadioGroup
    from lamsc_sdr.radio.pluto import PlutoRadio
    from lamsc_sdr.semantic.codec import SemanticCodec
    cfg = RunConfig().replace(estimator={"kind": "ls"}, channel={"model": "awgn"})
    codec = SemanticCodec.load()
    tpl = [TaskInstruction("describe", "image", "Jane"), TaskInstruction("describe", "image", "Tom")]
    plan = SharePlan([((0, 1), ["the house is closed."])], [["the vote is today."], ["the answer is no."]], 0.85)
    with PlutoEmulator(devices=3, port=0, snr_db=35, channel="awgn", seed=1) as emu:
        radios = [PlutoRadio(u, sample_rate=1e6, center_freq=915e6, tx_gain=-10, rx_gain=40, buffer_size=2 ** 15)
                  for u in emu.uris]
        group = RadioGroup(radios[0], radios[1:])
        try:
            res = send_session(group, cfg, codec, [1, 2], tpl, shared=plan, unicast=None)
        finally:
            group.close()
    u = res["users"]
    assert [x.status for x in u] == ["ok", "ok"]
    assert u[0].text_received == "the house is closed. the vote is today."
    assert u[1].text_received == "the house is closed. the answer is no."
    assert u[0].foreign_frames >= 1 and u[1].foreign_frames >= 1
