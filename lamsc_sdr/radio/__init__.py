"""One radio interface, many backends: ``make_radio(cfg, run_cfg)`` picks one by ``cfg.backend``.

=================  ===========================================================================
``sim``            numpy channel model (``radio/sim.py``)
``gnuradio``       headless GNU Radio top block through ``channels.channel_model``
``pluto``          ADALM-PlutoSDR via pyadi-iio (``double:`` URIs: the in-process test double)
``gnuradio-pluto`` PlutoSDR via gr-iio ``fmcomms2_source_fc32`` / ``fmcomms2_sink_fc32``
``replay``         a SigMF recording played back as the receive stream
``sigmf-file``     transmit into a SigMF recording
=================  ===========================================================================
"""
from __future__ import annotations

import inspect

from ..errors import ConfigError
from .base import Radio
from .config import BACKENDS, RadioConfig

__all__ = ["Radio", "RadioConfig", "BACKENDS", "make_radio"]


def _sim(cfg: RadioConfig, run_cfg):
    from .sim import SimRadio
    if hasattr(SimRadio, "from_config"):
        return SimRadio.from_config(cfg, run_cfg)
    params = inspect.signature(SimRadio).parameters
    kw = {}
    for name, value in (("channel", run_cfg.channel), ("channel_cfg", run_cfg.channel),
                        ("sample_rate", run_cfg.frame.sample_rate), ("center_freq", cfg.center_freq),
                        ("tx_gain", cfg.tx_gain), ("rx_gain", cfg.rx_gain), ("buffer_size", cfg.buffer_size),
                        ("seed", run_cfg.seed), ("rng", None)):
        if name in params:
            kw[name] = value
    if "rng" in kw:
        import numpy as np
        kw["rng"] = np.random.default_rng(run_cfg.seed)
    return SimRadio(**kw)


def make_radio(cfg: RadioConfig | None = None, run_cfg=None, *, capture=None, output=None,
               device_factory=None, calibration=None) -> Radio:
    """Build the radio ``cfg.backend`` names.

    Args:
        cfg: the radio section (default: ``run_cfg.radio``).
        run_cfg: the RunConfig (channel for simulated backends, frame sample rate, seed).
        capture: SigMF recording for ``replay`` (default ``cfg.uri``).
        output: SigMF output for ``sigmf-file`` (default ``cfg.uri``).
        device_factory: ``uri -> device`` for ``pluto`` (tests inject the double).
        calibration: a Calibration or YAML path (default ``cfg.calibration``); when given the
            radio is wrapped in :class:`~lamsc_sdr.calibration.CalibratedRadio`.
    """
    if run_cfg is None:
        from ..config import RunConfig
        run_cfg = RunConfig()
    cfg = cfg or run_cfg.radio
    fs = run_cfg.frame.sample_rate
    b = cfg.backend
    if b == "sim":
        radio = _sim(cfg, run_cfg)
    elif b == "gnuradio":
        from .gnuradio import GnuRadioChannelRadio
        radio = GnuRadioChannelRadio(run_cfg.channel, fs, cfg.center_freq, buffer_size=cfg.buffer_size,
                                     seed=run_cfg.seed, clock_ppm=cfg.clock_ppm)
    elif b == "pluto":
        from .pluto import PlutoRadio
        radio = PlutoRadio(cfg.uri, rx_uri=cfg.rx_uri, sample_rate=fs, center_freq=cfg.center_freq,
                           rf_bandwidth=cfg.rf_bandwidth, tx_gain=cfg.tx_gain, rx_gain=cfg.rx_gain,
                           gain_control_mode=cfg.gain_control_mode, buffer_size=cfg.buffer_size,
                           tx_backoff_db=cfg.tx_backoff_db, tx_cyclic=cfg.tx_cyclic, loopback=cfg.loopback,
                           device_factory=device_factory)
    elif b == "gnuradio-pluto":
        from .gnuradio_pluto import GrPlutoRadio
        radio = GrPlutoRadio(cfg.uri, rx_uri=cfg.rx_uri, sample_rate=fs, center_freq=cfg.center_freq,
                             rf_bandwidth=cfg.rf_bandwidth, tx_gain=cfg.tx_gain, rx_gain=cfg.rx_gain,
                             gain_control_mode=cfg.gain_control_mode, buffer_size=min(cfg.buffer_size, 2 ** 15),
                             tx_backoff_db=cfg.tx_backoff_db, tx_cyclic=cfg.tx_cyclic)
    elif b == "replay":
        from .replay import ReplayRadio
        src = capture or cfg.uri
        if not src:
            raise ConfigError("radio.backend 'replay' needs a recording (radio.uri or the CAPTURE argument)")
        radio = ReplayRadio(src, fs, buffer_size=cfg.rx_chunk)
    elif b == "sigmf-file":
        from .replay import SigmfFileRadio
        radio = SigmfFileRadio(output or cfg.uri, fs, cfg.center_freq, buffer_size=cfg.rx_chunk,
                               extra_global={"lamsc:config": run_cfg.to_dict()})
    else:  # pragma: no cover - RadioConfig validates the name
        raise ConfigError(f"radio.backend: unknown backend {b!r}; known: {list(BACKENDS)}")
    cal = calibration if calibration is not None else cfg.calibration
    if cal:
        from ..calibration import CalibratedRadio, Calibration, load_calibration
        try:
            cal = cal if isinstance(cal, Calibration) else load_calibration(cal)
            radio = CalibratedRadio(radio, cal)
        except BaseException:
            radio.close()
            raise
    return radio
