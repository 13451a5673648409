"""The perfect-CSI oracle of the sim radio agrees with what the receiver really sees: at 60 dB the
received pilots equal truth x pilot values (NMSE < -35 dB), for multi-frame bursts with CFO,
timing offset, TX gain and Doppler."""
import numpy as np
import pytest

from lamsc_sdr.config import load_config
from lamsc_sdr.phy.genie import sim_radio_truth
from lamsc_sdr.radio import make_radio
from lamsc_sdr.transport import Sender, make_receiver, receive_stream


@pytest.mark.parametrize("model,doppler", [("lammsc", 0.0), ("epa", 0.0), ("rayleigh", 50.0)])
def test_sim_radio_truth_matches_received_pilots(model, doppler):
    cfg = load_config(overrides={"channel.model": model, "channel.snr_db": 60.0, "channel.cfo_hz": 17000.0,
                                 "channel.doppler_hz": doppler, "channel.timing_offset": 37,
                                 "estimator.kind": "perfect", "radio.tx_gain": -4.0, "seed": 5})
    radio = make_radio(cfg.radio, cfg)
    plan = Sender(cfg.frame, "digital").plan(["hello world " * 40, "second message " * 30])
    rx = make_receiver(cfg, "digital")
    radio.tx(plan.iq)
    frames, _ = receive_stream(radio, rx, chunk=65536, max_samples=plan.iq.size + 3 * 65536,
                               truth=sim_radio_truth(radio, plan, rx.cfg))
    ok = [f for f in frames if f.status == "ok"]
    assert len(ok) == len(plan.frames)
    pp = rx.cfg.pilot_pattern
    t, f = pp.pilot_index
    for fr in ok:
        ref = fr.h_true[:, t, f] * pp.values[t, f]
        nmse = np.mean(np.abs(fr.grid[:, t, f] - ref) ** 2) / np.mean(np.abs(ref) ** 2)
        assert 10 * np.log10(nmse) < -35
        assert fr.payload_ok


def test_truth_for_a_later_transmission_on_the_same_radio():
    """A second send on the same radio, received by a fresh receiver (counting from the radio's
    next unread sample), still gets the right truth."""
    cfg = load_config(overrides={"channel.model": "lammsc", "channel.snr_db": 60.0, "channel.cfo_hz": 9000.0,
                                 "estimator.kind": "perfect", "seed": 2})
    radio = make_radio(cfg.radio, cfg)
    for k in range(2):
        plan = Sender(cfg.frame, "digital").plan([f"message {k} " * 30])
        rx = make_receiver(cfg, "digital")
        radio.tx(plan.iq)
        frames, _ = receive_stream(radio, rx, chunk=65536, max_samples=plan.iq.size + 65536,
                                   truth=sim_radio_truth(radio, plan, rx.cfg))
        pp = rx.cfg.pilot_pattern
        t, f = pp.pilot_index
        for fr in [f_ for f_ in frames if f_.status == "ok"]:
            ref = fr.h_true[:, t, f] * pp.values[t, f]
            nmse = np.mean(np.abs(fr.grid[:, t, f] - ref) ** 2) / np.mean(np.abs(ref) ** 2)
            assert 10 * np.log10(nmse) < -35, k
