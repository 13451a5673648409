"""Regenerate the .grc flowgraphs of this folder (a developer tool; the .grc files are what users open).

    python flowgraphs/make_grc.py

Blocks ``lamsc_frame_source`` / ``lamsc_frame_sink`` are defined in ``flowgraphs/blocks``: point
GNU Radio Companion at them with ``GRC_BLOCKS_PATH=flowgraphs/blocks`` (or ``local_blocks_path``
in ``~/.config/gnuradio/grc.conf``), and make ``lamsc_sdr`` importable (``pip install -e .``);
see docs/HARDWARE.md.

The Pluto flowgraphs carry what gr-iio 3.10.5.1 needs to behave: the TX source pads its last
frames to whole sink buffers (the non-cyclic sink drops a partial last buffer); a snippet after
init writes the RX gain mode and bandwidth that the GRC Pluto source never writes; a snippet
after stop lets the queued buffers play and leaves the Pluto silent (maximum attenuation, TX LO
down). TX amplitude ``0.5 * 10**(-12/20)`` gives the same DAC words as ``--radio pluto``.
"""
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
STATES = {"bus_sink": False, "bus_source": False, "bus_structure": None, "rotation": 0, "state": "enabled"}


def block(name, bid, xy, **params):
    p = {"alias": "", "comment": "", "affinity": "", "maxoutbuf": "0", "minoutbuf": "0"}
    p.update({k: str(v) for k, v in params.items()})
    return {"name": name, "id": bid, "parameters": p, "states": {**STATES, "coordinate": list(xy)}}


def param(name, label, ptype, value, xy, short=""):
    return {"name": name, "id": "parameter", "parameters": {
        "alias": "", "comment": "", "hide": "none", "label": label, "short_id": short, "type": ptype,
        "value": str(value)}, "states": {**STATES, "coordinate": list(xy)}}


def variable(name, value, xy):
    return {"name": name, "id": "variable", "parameters": {"comment": "", "value": str(value)},
            "states": {**STATES, "coordinate": list(xy)}}


def flowgraph(fid, title, description, blocks, connections):
    return {"options": {"parameters": {
        "author": "lamsc_sdr", "catch_exceptions": "True", "category": "[GRC Hier Blocks]", "cmake_opt": "",
        "comment": "", "copyright": "Apache-2.0", "description": description, "gen_cmake": "Off",
        "gen_linking": "dynamic", "generate_options": "no_gui", "hier_block_src_path": ".:", "id": fid,
        "max_nouts": "0", "output_language": "python", "placement": "(0,0)", "qt_qss_theme": "",
        "realtime_scheduling": "", "run": "True", "run_command": "{python} -u {filename}", "run_options": "run",
        "sizing_mode": "fixed", "thread_safe_setters": "", "title": title, "window_size": ""},
        "states": {**STATES, "coordinate": [8, 8]}},
        "blocks": blocks, "connections": [list(c) for c in connections],
        "metadata": {"file_format": 1, "grc_version": "3.10.5.1"}}


def pluto_sink(xy):
    return block("pluto_sink", "iio_pluto_sink", xy, type="fc32", uri="uri", frequency="int(center_freq)",
                 samplerate="int(samp_rate)", buffer_size=str(TX_BUF), cyclic="False", attenuation1="attenuation",
                 len_tag_key="''", filter_source="'Auto'", filter="''", fpass="0", fstop="0",
                 bandwidth="int(rf_bandwidth)")


def pluto_source(xy):
    return block("pluto_source", "iio_pluto_source", xy, type="fc32", uri="rx_uri", frequency="int(center_freq)",
                 samplerate="int(samp_rate)", buffer_size="32768", quadrature="True", rfdc="True", bbdc="True",
                 gain1="'manual'", manual_gain1="rx_gain", len_tag_key="''", filter_source="'Auto'", filter="''",
                 fpass="0", fstop="0", bandwidth="int(rf_bandwidth)")


TX_BUF = 32768
TX_AMPLITUDE = "0.5 * 10 ** (-12 / 20)"     # gr-iio: 1.0 -> 2^15; pyadi-iio's 2^14 full scale, 12 dB backoff


def snippet(bid, section, code, xy):
    return block(bid, "snippet", xy, section=section, priority="0", code=code)


def fix_source(xy):
    return snippet("fix_pluto_source", "main_after_init",
                   "from lamsc_sdr.radio.gnuradio_pluto import fix_gr_iio_source\n"
                   "from lamsc_sdr.radio.iio_control import IioControl\n"
                   "fix_gr_iio_source(self.pluto_source, IioControl.open(self.rx_uri), self.rf_bandwidth, 'manual')", xy)


def silence(xy):
    return snippet("silence_pluto", "main_after_stop",
                   "from lamsc_sdr.radio.gnuradio_pluto import silence_tx\n"
                   f"silence_tx(self.uri, 4 * {TX_BUF} / self.samp_rate)", xy)


COMMON = [param("config", "Run config YAML", "str", "''", (200, 8)),
          param("n_frames", "Frames", "intx", 20, (360, 8), "n"),
          param("message", "Message", "str", "'Hello from lamsc_sdr over GNU Radio'", (480, 8)),
          param("json_path", "Results JSON", "str", "''", (680, 8))]
RADIO = [param("uri", "TX URI", "str", "'ip:pluto.local'", (200, 96)),
         param("rx_uri", "RX URI", "str", "'ip:pluto.local'", (320, 96)),
         param("center_freq", "Centre frequency", "eng_float", "2.4e9", (440, 96), "f"),
         param("attenuation", "TX attenuation dB", "eng_float", "10.0", (600, 96)),
         param("rx_gain", "RX gain dB", "eng_float", "40.0", (760, 96)),
         variable("samp_rate", "1e6", (8, 160)), variable("rf_bandwidth", "1.5e6", (8, 230))]

SOURCE = dict(message="message", n_frames="n_frames", config="config", codec="'digital'")
SINK = dict(config="config", json_path="json_path", expected_frames="n_frames", codec="'digital'", verbose="True",
            dc_block="False")
PLUTO_SINK = {**SINK, "dc_block": "True"}      # a Pluto's DC / TX LO leakage residual sits above the gap noise

graphs = {
    "lamsc_loopback": flowgraph(
        "lamsc_loopback", "lamsc loopback over channels.channel_model",
        "lamsc frames through GNU Radio's channel model (AWGN at snr_db, CFO, multipath taps, clock drift), "
        "decoded by the lamsc frame sink. Headless; results JSON at json_path.",
        COMMON + [param("snr_db", "Es/N0 dB", "eng_float", "20.0", (840, 8), "s"),
                  param("cfo_hz", "CFO Hz", "eng_float", "0.0", (960, 8)),
                  param("clock_ppm", "Clock offset ppm", "eng_float", "0.0", (1080, 8)),
                  variable("samp_rate", "1e6", (8, 160)),
                  variable("taps", "[1.0, 0.0, 0.3j, 0.0, 0.1]", (8, 230)),
                  block("src", "lamsc_frame_source", (200, 300), amplitude="1.0", pad_to="0", idle="False", delay="0",
                        **SOURCE),
                  block("channel", "channels_channel_model", (480, 300), noise_voltage="10 ** (-snr_db / 20)",
                        freq_offset="cfo_hz / samp_rate", epsilon="1.0 + clock_ppm * 1e-6",
                        taps="[t / sum(abs(x) ** 2 for x in taps) ** 0.5 for t in taps]", seed="7",
                        block_tags="True"),
                  block("sink", "lamsc_frame_sink", (800, 300), **SINK)],
        [("src", "0", "channel", "0"), ("channel", "0", "sink", "0")]),
    "lamsc_pluto_tx": flowgraph(
        "lamsc_pluto_tx", "lamsc frames to a PlutoSDR (gr-iio)",
        "Transmits lamsc frames through iio_pluto_sink; n_frames = 0 transmits until stopped.",
        COMMON + RADIO + [block("src", "lamsc_frame_source", (200, 300), amplitude=TX_AMPLITUDE, pad_to=TX_BUF,
                                idle="False", delay="0", **SOURCE),
                          pluto_sink((520, 300)), silence((200, 420))],
        [("src", "0", "pluto_sink", "0")]),
    "lamsc_pluto_rx": flowgraph(
        "lamsc_pluto_rx", "lamsc frames from a PlutoSDR (gr-iio)",
        "Receives from iio_pluto_source and decodes lamsc frames until stopped (Ctrl-C).",
        COMMON + RADIO + [pluto_source((200, 300)), block("sink", "lamsc_frame_sink", (560, 300), **PLUTO_SINK),
                          fix_source((200, 420))],
        [("pluto_source", "0", "sink", "0")]),
    "lamsc_pluto_loopback": flowgraph(
        "lamsc_pluto_loopback", "lamsc single-Pluto loopback (gr-iio)",
        "One PlutoSDR transmits lamsc frames to itself (cable with attenuator, or antennas): set uri and "
        "rx_uri to the same device.",
        COMMON + RADIO + [block("src", "lamsc_frame_source", (200, 300), amplitude=TX_AMPLITUDE, pad_to=TX_BUF,
                                idle="True", delay="int(samp_rate)", **SOURCE),
                          pluto_sink((520, 300)), pluto_source((200, 420)),
                          block("sink", "lamsc_frame_sink", (560, 420), **PLUTO_SINK), fix_source((200, 540)),
                          silence((400, 540))],
        [("src", "0", "pluto_sink", "0"), ("pluto_source", "0", "sink", "0")]),
}

if __name__ == "__main__":
    for name, g in graphs.items():
        (HERE / f"{name}.grc").write_text(yaml.safe_dump(g, sort_keys=False, width=110))
        print("wrote", HERE / f"{name}.grc")
