"""The IIO device tree of a Pluto (firmware v0.38 layout): names, channels, attribute files.

``iio:device0`` adm1177 (power monitor), ``iio:device1`` ad9361-phy, ``iio:device2`` xadc,
``iio:device3`` cf-ad9361-dds-core-lpc (TX DMA + four DDS tones), ``iio:device4`` cf-ad9361-lpc
(RX DMA). Attribute names and sysfs file names are the driver's; values come from
:class:`~.ad9361.PhyState` and :class:`~.device.EmulatedPluto`.
"""
from __future__ import annotations

import errno

from .ad9361 import GAIN_MODES, RX_PORTS, TX_PORTS
from .iio_model import Attr, IioChannel, IioDevice, IioError, einval, parse_bool, parse_fixpoint, parse_int

_CONST_DEBUG = {"adi,agc-gain-update-interval-us": "1000", "adi,agc-inner-thresh-high": "10",
                "adi,agc-inner-thresh-low": "16", "adi,rx-rf-port-input-select": "0",
                "adi,tx-rf-port-input-select": "0", "adi,frequency-division-duplex-mode-enable": "1",
                "adi,2rx-2tx-mode-enable": "0", "adi,xo-disable-use-ext-refclk-enable": "0",
                "adi,tx-lo-powerdown-managed-enable": "1"}


def _const(name: str, value: str, filename: str | None = None) -> Attr:
    return Attr(name, lambda: value, None, filename)


def _reg_attr(dev, devname: str) -> Attr:
    """``direct_reg_access``: write ``ADDR`` to select, ``ADDR VALUE`` to write; read -> ``0xVALUE``."""
    def get():
        return f"0x{dev.reg_read(devname, dev.reg_addr[devname]):X}"

    def put(text: str):
        parts = text.strip().rstrip("\x00").split()
        try:
            vals = [int(p, 0) for p in parts]
        except ValueError:
            raise einval(f"direct_reg_access: bad number in {text.strip()!r}") from None
        if len(vals) not in (1, 2):
            raise einval("direct_reg_access: expected ADDR or ADDR VALUE")
        dev.reg_addr[devname] = vals[0] & 0xFFFFFFFF
        if len(vals) == 2:
            dev.reg_write(devname, vals[0], vals[1])
    return Attr("direct_reg_access", get, put)


def _lo_channel(dev, cid: str, label: str) -> IioChannel:
    phy = dev.phy
    rx = label == "RX_LO"
    ch = IioChannel(cid, True, name=label)
    pre = f"out_{cid}_{label}_"
    rng = phy.rx_lo_range if rx else phy.tx_lo_range
    ch.add(Attr("external", lambda: "0", lambda t: parse_bool(t, "external"), pre + "external"))
    ch.add(Attr("fastlock_load", lambda: "0", lambda t: parse_int(t, "fastlock_load"), pre + "fastlock_load"))
    ch.add(Attr("fastlock_recall", lambda: "0", lambda t: parse_int(t, "fastlock_recall"), pre + "fastlock_recall"))
    ch.add(_const("fastlock_save", "0 " + ",".join(["111"] * 16), pre + "fastlock_save"))
    ch.add(Attr("fastlock_store", lambda: "0", lambda t: parse_int(t, "fastlock_store"), pre + "fastlock_store"))
    ch.add(Attr("frequency", lambda: str(phy.rx_lo if rx else phy.tx_lo),
                lambda t: dev.change(lambda: phy.set_lo("RX" if rx else "TX", t)), pre + "frequency"))
    ch.add(_const("frequency_available", f"[{rng[0]} 1 {rng[1]}]", pre + "frequency_available"))
    key = "rx_lo_powerdown" if rx else "tx_lo_powerdown"
    ch.add(Attr("powerdown", lambda: str(getattr(phy, key)),
                lambda t: dev.change(lambda: setattr(phy, key, parse_bool(t, "powerdown"))), pre + "powerdown"))
    return ch


def _flag(dev, name: str, key: str, filename: str) -> Attr:
    phy = dev.phy
    return Attr(name, lambda: str(getattr(phy, key)),
                lambda t: dev.change(lambda: setattr(phy, key, parse_bool(t, name))), filename)


def _rate_attrs(dev, ch: IioChannel, io: str) -> None:
    phy = dev.phy
    ch.add(Attr("sampling_frequency", lambda: str(phy.rate), lambda t: dev.change(lambda: phy.set_rate(t)),
                f"{io}_voltage_sampling_frequency"))
    ch.add(Attr("sampling_frequency_available", lambda: f"[{phy.rate_range[0]} 1 {phy.rate_range[1]}]", None,
                f"{io}_voltage_sampling_frequency_available"))
    ch.add(Attr("filter_fir_en", lambda: str(phy.fir_enabled), lambda t: dev.change(lambda: phy.set_fir_enable(t)),
                f"{io}_voltage_filter_fir_en"))


def _bw_port_attrs(dev, ch: IioChannel, which: str) -> None:
    """rf_bandwidth (clamped by the driver) and rf_port_select of the RX or TX path."""
    phy = dev.phy
    io, low = ("in", "rx") if which == "RX" else ("out", "tx")
    ports = RX_PORTS if which == "RX" else TX_PORTS
    ch.add(Attr("rf_bandwidth", lambda: str(getattr(phy, f"{low}_bw")),
                lambda t: dev.change(lambda: phy.set_bw(which, t)), f"{io}_voltage_rf_bandwidth"))
    ch.add(Attr("rf_bandwidth_available", lambda: f"[200000 1 {getattr(phy, f'{low}_bw_max')}]", None,
                f"{io}_voltage_rf_bandwidth_available"))
    ch.add(Attr("rf_port_select", lambda: getattr(phy, f"{low}_port"),
                lambda t: phy.set_choice(f"{low}_port", ports, t), f"{io}_voltage0_rf_port_select"))
    ch.add(_const("rf_port_select_available", " ".join(ports), f"{io}_voltage_rf_port_select_available"))


def _phy(dev) -> IioDevice:
    phy = dev.phy
    d = IioDevice("iio:device1", "ad9361-phy")
    d.channels.append(_lo_channel(dev, "altvoltage1", "TX_LO"))
    rx = IioChannel("voltage0", False)
    _rate_attrs(dev, rx, "in")
    rx.add(_flag(dev, "bb_dc_offset_tracking_en", "bb_dc_tracking", "in_voltage_bb_dc_offset_tracking_en"))
    rx.add(_flag(dev, "rf_dc_offset_tracking_en", "rf_dc_tracking", "in_voltage_rf_dc_offset_tracking_en"))
    rx.add(_flag(dev, "quadrature_tracking_en", "quad_tracking", "in_voltage_quadrature_tracking_en"))
    rx.add(Attr("gain_control_mode", lambda: phy.gain_mode, lambda t: dev.change(lambda: phy.set_gain_mode(t)),
                "in_voltage0_gain_control_mode"))
    rx.add(_const("gain_control_mode_available", " ".join(GAIN_MODES), "in_voltage_gain_control_mode_available"))

    def rx_gain_get():
        if phy.gain_mode != "manual":
            dev.idle_measure()
        return phy.db(phy.rx_gain)
    rx.add(Attr("hardwaregain", rx_gain_get, lambda t: dev.change(lambda: phy.set_rx_gain(t)),
                "in_voltage0_hardwaregain"))
    rx.add(Attr("hardwaregain_available", lambda: "[{} 1 {}]".format(*phy.rx_gain_range), None,
                "in_voltage0_hardwaregain_available"))
    _bw_port_attrs(dev, rx, "RX")
    rx.add(Attr("rssi", dev.rssi_text, None, "in_voltage0_rssi"))
    d.channels.append(rx)
    tx = IioChannel("voltage0", True)
    _rate_attrs(dev, tx, "out")
    tx.add(Attr("hardwaregain", lambda: phy.db(-phy.tx_atten_mdb / 1000.0),
                lambda t: dev.change(lambda: phy.set_tx_gain(t)), "out_voltage0_hardwaregain"))
    tx.add(_const("hardwaregain_available", "[-89.750000 0.250000 0.000000]", "out_voltage0_hardwaregain_available"))
    _bw_port_attrs(dev, tx, "TX")
    tx.add(_const("rssi", "0.00 dB", "out_voltage0_rssi"))
    d.channels.append(tx)
    temp = IioChannel("temp0", False)
    temp.add(_const("input", "35500", "in_temp0_input"))
    d.channels.append(temp)
    d.channels.append(_lo_channel(dev, "altvoltage0", "RX_LO"))
    out = IioChannel("out", False)
    out.add(Attr("voltage_filter_fir_en", lambda: str(phy.fir_enabled),
                 lambda t: dev.change(lambda: phy.set_fir_enable(t)), "in_out_voltage_filter_fir_en"))
    d.channels.append(out)

    def add(name, get, put=None):
        d.attrs[name] = Attr(name, get, put)
    add("calib_mode", lambda: phy.calib_mode,
        lambda t: phy.set_choice("calib_mode", ("auto", "manual", "manual_tx_quad", "tx_quad", "rf_dc_offs",
                                                "rssi_gain_step"), t))
    add("calib_mode_available", lambda: "auto manual manual_tx_quad tx_quad rf_dc_offs rssi_gain_step")
    add("dcxo_tune_coarse", lambda: "0")
    add("dcxo_tune_coarse_available", lambda: "[0 0 0]")
    add("dcxo_tune_fine", lambda: "0")
    add("dcxo_tune_fine_available", lambda: "[0 0 0]")
    add("ensm_mode", lambda: phy.ensm_mode,
        lambda t: phy.set_choice("ensm_mode", ("sleep", "wait", "alert", "fdd", "pinctrl", "pinctrl_fdd_indep"), t))
    add("ensm_mode_available", lambda: "sleep wait alert fdd pinctrl pinctrl_fdd_indep")
    add("filter_fir_config", phy.fir_config_text, lambda t: dev.change(lambda: phy.set_fir_config(t)))
    add("multichip_sync", lambda: "0", lambda t: parse_int(t, "multichip_sync"))
    add("rssi_gain_step_error", lambda: "lna_error: 0 0 0 0\nmixer_error: " + " ".join(["0"] * 16)
        + "\ngain_step_calib_reg_val: 0 0 0 0 0")
    add("rx_path_rates", lambda: phy.path_rates(False))
    add("trx_rate_governor", lambda: phy.rate_governor,
        lambda t: phy.set_choice("rate_governor", ("nominal", "highest_osr"), t))
    add("trx_rate_governor_available", lambda: "nominal highest_osr")
    add("tx_path_rates", lambda: phy.path_rates(True))

    def xo_put(t):
        v = parse_int(t, "xo_correction")
        if not 39_992_000 <= v <= 40_008_000:
            raise einval(f"xo_correction {v} outside 39992000..40008000")
        dev.change(lambda: setattr(phy, "xo_correction", v))
    add("xo_correction", lambda: str(phy.xo_correction), xo_put)
    add("xo_correction_available", lambda: "[39992000 1 40008000]")

    def loop_put(t):
        v = parse_int(t, "loopback")
        if v not in (0, 1, 2):
            raise einval("loopback must be 0 (off), 1 (digital) or 2 (RF)")
        dev.change(lambda: setattr(phy, "loopback", v))
    d.debug_attrs["loopback"] = Attr("loopback", lambda: str(phy.loopback), loop_put)
    for name in ("initialize", "bist_tone", "bist_prbs", "digital_tune", "calibration_switch_control"):
        d.debug_attrs[name] = Attr(name, lambda: "0", lambda t, n=name: parse_int(t, n))
    d.debug_attrs["gaininfo_rx1"] = Attr("gaininfo_rx1", lambda: f"{int(phy.rx_gain)} 0 0 0 0 0 0 0")
    for k, v in _CONST_DEBUG.items():
        d.debug_attrs[k] = _const(k, v)
    d.debug_attrs["direct_reg_access"] = _reg_attr(dev, "ad9361-phy")
    return d


def _dds_core(dev) -> IioDevice:
    d = IioDevice("iio:device3", "cf-ad9361-dds-core-lpc")
    for i in (0, 1):
        ch = IioChannel(f"voltage{i}", True, scan=(i, "le:S16/16>>0"))
        ch.add(_const("calibphase", "0.000000", f"out_voltage{i}_calibphase"))
        ch.add(_const("calibscale", "1.000000", f"out_voltage{i}_calibscale"))
        _fpga_rate(dev, ch, "out", tx=True)
        d.channels.append(ch)
    for k, label in enumerate(("TX1_I_F1", "TX1_I_F2", "TX1_Q_F1", "TX1_Q_F2")):
        cid = ("altvoltage0", "altvoltage1", "altvoltage2", "altvoltage3")[k]
        tone = dev.dds[k]
        ch = IioChannel(cid, True, name=label)
        pre = f"out_{cid}_{label}_"

        def setter(key, conv, tone=tone):
            return lambda t: dev.change(lambda: tone.__setitem__(key, conv(t)))

        def freq(t):
            v = parse_int(t, "frequency")
            if not 0 <= v <= dev.phy.rate // 2:
                raise einval(f"DDS frequency {v} outside 0..{dev.phy.rate // 2}")
            return v

        def scale(t):
            v = parse_fixpoint(t, "scale")
            if not 0 <= v <= 1:
                raise einval(f"DDS scale {v} outside 0..1")
            return v
        ch.add(Attr("frequency", lambda tone=tone: str(tone["frequency"]), setter("frequency", freq), pre + "frequency"))
        ch.add(Attr("phase", lambda tone=tone: str(tone["phase"]),
                    setter("phase", lambda t: parse_int(t, "phase") % 360_000), pre + "phase"))
        ch.add(Attr("raw", lambda tone=tone: str(tone["raw"]), setter("raw", lambda t: parse_bool(t, "raw")), pre + "raw"))
        ch.add(Attr("sampling_frequency", lambda: str(dev.phy.rate), None, "out_altvoltage_sampling_frequency"))
        ch.add(Attr("scale", lambda tone=tone: f"{tone['scale']:.6f}", setter("scale", scale), pre + "scale"))
        d.channels.append(ch)
    _buffer_attrs(d)
    d.debug_attrs["direct_reg_access"] = _reg_attr(dev, "cf-ad9361-dds-core-lpc")
    return d


def _fpga_rate(dev, ch: IioChannel, io: str, tx: bool) -> None:
    """The FPGA's x8 decimator/interpolator: ``sampling_frequency_available`` = "RATE RATE/8"."""
    key = "tx_int8" if tx else "rx_dec8"

    def get():
        return str(dev.tx_rate() if tx else dev.rx_rate())

    def put(t):
        v = int(parse_fixpoint(t, "sampling_frequency"))
        if v == dev.phy.rate:
            dev.change(lambda: setattr(dev, key, False))
        elif v == dev.phy.rate // 8:
            dev.change(lambda: setattr(dev, key, True))
        else:
            raise einval(f"sampling_frequency must be {dev.phy.rate} or {dev.phy.rate // 8}")
    ch.add(Attr("sampling_frequency", get, put, f"{io}_voltage_sampling_frequency"))
    ch.add(Attr("sampling_frequency_available", lambda: f"{dev.phy.rate} {dev.phy.rate // 8} ", None,
                f"{io}_voltage_sampling_frequency_available"))


def _buffer_attrs(d: IioDevice) -> None:
    d.buffer_attrs["data_available"] = _const("data_available", "0")
    d.buffer_attrs["length_align_bytes"] = _const("length_align_bytes", "8")
    d.buffer_attrs["watermark"] = _const("watermark", "2048")


def _no_pps() -> str:
    raise IioError(errno.ENODEV, "no PPS input on a Pluto")


def _adc_core(dev) -> IioDevice:
    d = IioDevice("iio:device4", "cf-ad9361-lpc")
    for i in (0, 1):
        ch = IioChannel(f"voltage{i}", False, scan=(i, "le:S12/16>>0"))
        ch.add(_const("calibbias", "0", f"in_voltage{i}_calibbias"))
        ch.add(_const("calibphase", "0.000000", f"in_voltage{i}_calibphase"))
        ch.add(_const("calibscale", "1.000000", f"in_voltage{i}_calibscale"))
        ch.add(Attr("samples_pps", _no_pps, None, "in_voltage_samples_pps"))
        _fpga_rate(dev, ch, "in", tx=False)
        d.channels.append(ch)
    _buffer_attrs(d)
    d.debug_attrs["direct_reg_access"] = _reg_attr(dev, "cf-ad9361-lpc")
    return d


def _monitors() -> list[IioDevice]:
    adm = IioDevice("iio:device0", "adm1177")
    v = IioChannel("voltage0", False)
    v.add(_const("raw", "1385", "in_voltage0_raw"))
    v.add(_const("scale", "3.638916015", "in_voltage0_scale"))
    c = IioChannel("current0", False)
    c.add(_const("raw", "530", "in_current0_raw"))
    c.add(_const("scale", "0.516601562", "in_current0_scale"))
    adm.channels += [v, c]
    xadc = IioDevice("iio:device2", "xadc")
    t = IioChannel("temp0", False)
    t.add(_const("offset", "-2219", "in_temp0_offset"))
    t.add(_const("raw", "2618", "in_temp0_raw"))
    t.add(_const("scale", "123.040771484", "in_temp0_scale"))
    xadc.channels.append(t)
    xadc.attrs["sampling_frequency"] = _const("sampling_frequency", "961538")
    return [adm, xadc]


def build_devices(dev) -> list[IioDevice]:
    """The five IIO devices of a Pluto, in the order its iiod lists them."""
    adm, xadc = _monitors()
    return [adm, _phy(dev), xadc, _dds_core(dev), _adc_core(dev)]
