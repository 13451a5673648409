"""The paper's plain CGAN (ablation row): loads, keeps shapes, and estimates the channel of held-out
simulated slots at its training SNR better than knowing nothing (NMSE well below 0 dB)."""
import numpy as np
import pytest

from lamsc_sdr.errors import CheckpointMismatchError
from lamsc_sdr.estimation.cgan_plain import DEFAULT_CHECKPOINT, PlainCGANEstimator
from lamsc_sdr.phy.config import FrameConfig

needs_ck = pytest.mark.skipif(not DEFAULT_CHECKPOINT.is_file(), reason="no plain-CGAN checkpoint")


@needs_ck
def test_plain_cgan_estimates_held_out_slots():
    from lamsc_sdr.estimation import make_estimator
    from lamsc_sdr.estimation.config import EstimatorConfig
    from lamsc_sdr.estimation.cge_data import SimDataConfig, SimSource
    frame = FrameConfig()
    est = PlainCGANEstimator.from_checkpoint(None, frame)
    src = SimSource(SimDataConfig(profiles=("lammsc",), snr_db=(15.0, 15.0), doppler_hz=(0.0, 50.0)), frame)
    y, h, snr = src.sample(256, np.random.default_rng(987654))          # seed never used in training
    n0 = 10 ** (-snr / 10)
    h_hat, err = est(y, frame.pilot_pattern, n0)
    assert h_hat.shape == h.shape and h_hat.dtype == np.complex64 and err.shape == h.shape
    nmse = 10 * np.log10(np.mean(np.abs(h_hat - h) ** 2) / np.mean(np.abs(h) ** 2))
    ls = make_estimator(EstimatorConfig(kind="ls"), frame)
    h_ls, _ = ls(y, frame.pilot_pattern, n0)
    nmse_ls = 10 * np.log10(np.mean(np.abs(h_ls - h) ** 2) / np.mean(np.abs(h) ** 2))
    assert nmse < -8.0, (nmse, nmse_ls)
    # the batch shape is kept and slots are independent: one slot alone gives the same estimate
    one, _ = est(y[:1], frame.pilot_pattern, n0[:1])
    np.testing.assert_allclose(one[0], h_hat[0], atol=1e-5)


@needs_ck
def test_plain_cgan_rejects_another_grid():
    import dataclasses
    other = dataclasses.replace(FrameConfig(), fft_size=128)
    with pytest.raises(CheckpointMismatchError):
        PlainCGANEstimator.from_checkpoint(None, other)
