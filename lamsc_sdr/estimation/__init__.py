"""Channel estimation: one interface (:class:`ChannelEstimator`), LS, LMMSE, the perfect oracle and
the CGAN estimator, plus the per-resource-element equalizers.

Use from a receiver::

    est = make_estimator(cfg.estimator, cfg.frame, profile=cfg.channel.model,
                         doppler_hz=cfg.channel.doppler_hz)
    h_hat, err_var = est(y_grid, cfg.frame.pilot_pattern, noise_var)     # (..., T, F)
    x_hat, nv_eff = equalize(y_grid, h_hat, err_var, noise_var, kind=cfg.estimator.equalizer)
"""
from __future__ import annotations

from ..errors import ConfigError
from ..phy.config import FrameConfig
from .base import ChannelEstimator, check_grid
from .classical import LMMSEEstimator, LSEstimator, PerfectEstimator, interpolation_matrix, robust_lmmse
from .config import EstimatorConfig
from .equalize import equalize

KINDS = ("ls", "lmmse", "lmmse-mismatched", "lmmse-robust", "lmmse-est", "perfect", "cgan", "cgan-plain")


def make_estimator(cfg: EstimatorConfig, frame: FrameConfig, profile: str | None = None, *,
                   doppler_hz: float = 0.0, delay_spread_ns: float = 100.0) -> ChannelEstimator:
    """Build the estimator ``cfg.kind`` for ``frame``.

    - ``ls``: LS + linear interpolation.
    - ``lmmse``: genie LMMSE with the statistics of the true channel ``profile`` (and
      ``doppler_hz``, ``delay_spread_ns``) and the true noise variance of each call. With
      ``profile=None`` (e.g. over the air) it falls back to ``cfg.assumed_profile``.
    - ``lmmse-mismatched``: LMMSE with ``cfg.assumed_profile``, ``cfg.assumed_doppler_hz`` and a
      fixed noise variance from ``cfg.assumed_snr_db``.
    - ``lmmse-robust``: LMMSE with worst-case statistics known without the profile (uniform
      power-delay profile over the cyclic prefix, flat Doppler spectrum up to
      ``cfg.robust_max_doppler_hz``) and the true N0 of each call.

    The LMMSE frequency statistics are widened by ``cfg.timing_uncertainty_samples`` (the residual
    timing error of a frame receiver, :func:`stats.timing_spread`); grid-level evaluation, where
    there is no timing error, sets it to 0.
    - ``lmmse-est``: LMMSE with the power-delay profile and Doppler estimated from the pilots of
      the slots seen so far (:mod:`.adaptive`), the CGAN's conditioning stage.
    - ``perfect``: oracle; give it the truth with ``set_truth(h)`` or ``truth=`` before each call.
    - ``cgan``: the conditional-GAN estimator from ``cfg.checkpoint`` (None: the shipped one), run
      on ``cfg.backend`` (auto: ONNX Runtime on CPU) and ``cfg.device`` (auto: CUDA when present);
      raises :class:`CheckpointMismatchError` if it was trained for another grid/pilot pattern.
    - ``cgan-plain``: the paper's plain CGAN (no LMMSE bank, no residual; :mod:`.cgan_plain`) from
      its shipped checkpoint (``cfg.checkpoint`` is the hybrid CGAN's and is not used), PyTorch on CPU.
    """
    from . import stats
    grid = frame.grid
    u = cfg.timing_uncertainty_samples
    if cfg.kind == "ls":
        return LSEstimator()
    if cfg.kind == "lmmse":
        prof = profile or cfg.assumed_profile
        r_f = stats.frequency_correlation(prof, grid, delay_spread_ns)
        return LMMSEEstimator(stats.time_correlation(doppler_hz, grid),
                              stats.timing_spread(r_f, grid, u), None, name="lmmse")
    if cfg.kind == "lmmse-mismatched":
        r_f = stats.frequency_correlation(cfg.assumed_profile, grid)
        return LMMSEEstimator(stats.time_correlation(cfg.assumed_doppler_hz, grid),
                              stats.timing_spread(r_f, grid, u),
                              10 ** (-cfg.assumed_snr_db / 10), name="lmmse-mismatched")
    if cfg.kind == "lmmse-robust":
        return robust_lmmse(grid, cfg.robust_max_doppler_hz, pre_samples=u)
    if cfg.kind == "lmmse-est":
        from .adaptive import AdaptiveLMMSEEstimator
        return AdaptiveLMMSEEstimator(frame.pilot_pattern)
    if cfg.kind == "perfect":
        return PerfectEstimator()
    if cfg.kind == "cgan":
        from .cgan import CGANEstimator
        return CGANEstimator.from_checkpoint(cfg.checkpoint, frame, backend=cfg.backend, device=cfg.device)
    if cfg.kind == "cgan-plain":
        from .cgan_plain import PlainCGANEstimator
        return PlainCGANEstimator.from_checkpoint(None, frame)
    raise ConfigError(f"estimator.kind: {cfg.kind!r} is not one of {list(KINDS)}")


__all__ = ["ChannelEstimator", "EstimatorConfig", "LMMSEEstimator", "LSEstimator", "PerfectEstimator",
           "KINDS", "check_grid", "equalize", "interpolation_matrix", "make_estimator", "robust_lmmse"]
