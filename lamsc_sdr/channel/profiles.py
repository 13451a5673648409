"""Published power-delay profiles (tapped delay lines) as validated configuration objects.

Every table is typed in from its standard, with the citation next to it. Delays are kept in
seconds once resolved (``TDLProfile.delays_s``); the LAM-MSC authors' profile is defined in
*samples*, so it is resolved at a sample rate (``get_profile(..., sample_rate=)`` or
``profile.at_sample_rate(fs)``). Powers are kept in dB as published; ``profile.powers`` is the
linear PDP normalized to unit total power, which is what every fading model uses.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from ..errors import ConfigError

# --------------------------------------------------------------------------------------------
# 3GPP TR 38.901 V16.1.0, Section 7.7.2, Tables 7.7.2-1..7.7.2-5: TDL-A..TDL-E.
# Delays are *normalized* (multiply by the desired RMS delay spread DS); powers in dB.
# TDL-D/E: the first tap is a LOS (specular) path plus a Rayleigh tap at the same delay; the
# tables give both powers and K1 (13.3 dB for TDL-D, 22 dB for TDL-E). We merge them into one
# Rician tap with the combined power and the table's K-factor.
# --------------------------------------------------------------------------------------------
_TDL_A = (  # Table 7.7.2-1, NLOS
    (0.0000, -13.4), (0.3819, 0.0), (0.4025, -2.2), (0.5868, -4.0), (0.4610, -6.0),
    (0.5375, -8.2), (0.6708, -9.9), (0.5750, -10.5), (0.7618, -7.5), (1.5375, -15.9),
    (1.8978, -6.6), (2.2242, -16.7), (2.1718, -12.4), (2.4942, -15.2), (2.5119, -10.8),
    (3.0582, -11.3), (4.0810, -12.7), (4.4579, -16.2), (4.5695, -18.3), (4.7966, -18.9),
    (5.0066, -16.6), (5.3043, -19.9), (9.6586, -29.7))
_TDL_B = (  # Table 7.7.2-2, NLOS
    (0.0000, 0.0), (0.1072, -2.2), (0.2155, -4.0), (0.2095, -3.2), (0.2870, -9.8),
    (0.2986, -1.2), (0.3752, -3.4), (0.5055, -5.2), (0.3681, -7.6), (0.3697, -3.0),
    (0.5700, -8.9), (0.5283, -9.0), (1.1021, -4.8), (1.2756, -5.7), (1.5474, -7.5),
    (1.7842, -1.9), (2.0169, -7.6), (2.8294, -12.2), (3.0219, -9.8), (3.6187, -11.4),
    (4.1067, -14.9), (4.2790, -9.2), (4.7834, -11.3))
_TDL_C = (  # Table 7.7.2-3, NLOS
    (0.0000, -4.4), (0.2099, -1.2), (0.2219, -3.5), (0.2329, -5.2), (0.2176, -2.5),
    (0.6366, 0.0), (0.6448, -2.2), (0.6560, -3.9), (0.6584, -7.4), (0.7935, -7.1),
    (0.8213, -10.7), (0.9336, -11.1), (1.2285, -5.1), (1.3083, -6.8), (2.1704, -8.7),
    (2.7105, -13.2), (4.2589, -13.9), (4.6003, -13.9), (5.4902, -15.8), (5.6077, -17.1),
    (6.3065, -16.0), (6.6374, -15.7), (7.0427, -21.6), (8.6523, -22.8))
_TDL_D = (  # Table 7.7.2-4, LOS: tap 1 = LOS -0.2 dB + Rayleigh -13.5 dB at delay 0, K1 = 13.3 dB
    (0.0, "los", -0.2, -13.5), (0.035, -18.8), (0.612, -21.0), (1.363, -22.8), (1.405, -17.9),
    (1.804, -20.1), (2.596, -21.9), (1.775, -22.9), (4.042, -27.8), (7.937, -23.6),
    (9.424, -24.8), (9.708, -30.0), (12.525, -27.7))
_TDL_E = (  # Table 7.7.2-5, LOS: tap 1 = LOS -0.03 dB + Rayleigh -22.03 dB at delay 0, K1 = 22 dB
    (0.0, "los", -0.03, -22.03), (0.5133, -15.8), (0.5440, -18.1), (0.5630, -19.8),
    (0.5440, -22.9), (0.7112, -22.4), (1.9092, -18.6), (1.9293, -20.8), (1.9589, -22.6),
    (2.6426, -22.3), (3.7136, -25.6), (5.4524, -20.2), (12.0034, -29.8), (20.6519, -29.2))

# 3GPP TS 36.104 (E-UTRA BS radio transmission and reception), Annex B.2, Tables B.2-2..B.2-4.
# Table B.2-1 gives the RMS delay spreads: EPA 43 ns, EVA 357 ns, ETU 991 ns.
_EPA = ((0, 0.0), (30, -1.0), (70, -2.0), (90, -3.0), (110, -8.0), (190, -17.2), (410, -20.8))
_EVA = ((0, 0.0), (30, -1.5), (150, -1.4), (310, -3.6), (370, -0.6), (710, -9.1),
        (1090, -7.0), (1730, -12.0), (2510, -16.9))
_ETU = ((0, -1.0), (50, -1.0), (120, -1.0), (200, 0.0), (230, 0.0), (500, 0.0),
        (1600, -3.0), (2300, -5.0), (5000, -7.0))

# ITU-R Rec. M.1225 (1997), Annex 2, Section 1.2.2: tapped-delay-line parameters,
# Table 4 (outdoor-to-indoor and pedestrian, channels A and B) and Table 5 (vehicular, A and B).
# Delays in ns, average powers in dB.
_PED_A = ((0, 0.0), (110, -9.7), (190, -19.2), (410, -22.8))
_PED_B = ((0, 0.0), (200, -0.9), (800, -4.9), (1200, -8.0), (2300, -7.8), (3700, -23.9))
_VEH_A = ((0, 0.0), (310, -1.0), (710, -9.0), (1090, -10.0), (1730, -15.0), (2510, -20.0))
_VEH_B = ((0, -2.5), (300, 0.0), (8900, -12.8), (12900, -10.0), (17100, -25.2), (20000, -16.0))

# Jiang et al., LAM-MSC (arXiv 2309.01249), the authors' CGAN estimator data: 5 taps with powers
# 0, -8, -17, -21, -25 dB at delays of 0, 3, 5, 6, 8 *samples* of the OFDM sample rate.
_LAMMSC = ((0, 0.0), (3, -8.0), (5, -17.0), (6, -21.0), (8, -25.0))

_CITE_38901 = "3GPP TR 38.901 V16.1.0, Table 7.7.2-{}"
_CITE_36104 = "3GPP TS 36.104 Annex B.2, Table B.2-{}"
_CITE_1225 = "ITU-R M.1225 Annex 2, Table {}"

#: Published RMS delay spreads (seconds) of the fixed-delay profiles, for reference and tests.
PUBLISHED_RMS_DELAY_S = {"epa": 43e-9, "eva": 357e-9, "etu": 991e-9}


@dataclass(frozen=True)
class TDLProfile:
    """A tapped-delay-line power-delay profile.

    Attributes:
        name: canonical lower-case name.
        delays_s: (n_paths,) float64 path delays in seconds (not sorted: tables keep their order).
        powers_db: (n_paths,) float64 path powers in dB as published (not normalized).
        k_factor_db: Rician K-factor of the *first* path in dB (LOS profiles), ``inf`` for a
            purely deterministic path (``awgn``), ``None`` when every path is Rayleigh.
        citation: where the numbers come from.
        sample_delays: the delays in samples for profiles defined at the sample rate (``lammsc``),
            else ``None``; such a profile is re-resolved by :meth:`at_sample_rate`.
        sample_rate: the rate ``delays_s`` was resolved at for sample-defined profiles.
    """

    name: str
    delays_s: tuple
    powers_db: tuple
    k_factor_db: float | None = None
    citation: str = ""
    sample_delays: tuple | None = None
    sample_rate: float | None = None

    def __post_init__(self):
        if len(self.delays_s) != len(self.powers_db) or not self.delays_s:
            raise ConfigError(f"channel profile '{self.name}': delays and powers must be non-empty "
                              f"and of equal length, got {len(self.delays_s)} and {len(self.powers_db)}")
        if min(self.delays_s) < 0:
            raise ConfigError(f"channel profile '{self.name}': delays must be >= 0")

    @property
    def n_paths(self) -> int:
        return len(self.delays_s)

    @cached_property
    def delays(self) -> np.ndarray:
        """(n_paths,) float64 delays in seconds."""
        return np.asarray(self.delays_s, dtype=np.float64)

    @cached_property
    def powers(self) -> np.ndarray:
        """(n_paths,) float64 linear path powers normalized to unit total."""
        p = 10.0 ** (np.asarray(self.powers_db, dtype=np.float64) / 10.0)
        return p / p.sum()

    @property
    def is_los(self) -> bool:
        return self.k_factor_db is not None

    @property
    def k_linear(self) -> float:
        """K-factor of the first path, linear (0 for Rayleigh, inf for a deterministic path)."""
        if self.k_factor_db is None:
            return 0.0
        return math.inf if math.isinf(self.k_factor_db) else 10.0 ** (self.k_factor_db / 10.0)

    @property
    def mean_delay_s(self) -> float:
        return float(np.sum(self.powers * self.delays))

    @property
    def rms_delay_spread_s(self) -> float:
        """RMS delay spread sqrt(sum P tau^2 - (sum P tau)^2) of the normalized PDP, seconds."""
        m = self.mean_delay_s
        return float(np.sqrt(max(np.sum(self.powers * self.delays ** 2) - m * m, 0.0)))

    def at_sample_rate(self, sample_rate: float) -> "TDLProfile":
        """This profile with sample-defined delays resolved at ``sample_rate`` (others unchanged)."""
        if self.sample_delays is None or self.sample_rate == sample_rate:
            return self
        if not sample_rate > 0:
            raise ConfigError(f"sample_rate must be > 0, got {sample_rate}")
        return replace(self, delays_s=tuple(d / sample_rate for d in self.sample_delays),
                       sample_rate=float(sample_rate))


def _tdl_38901(name: str, table: tuple, table_no: int, ds_s: float, k_db: float | None) -> TDLProfile:
    delays, powers = [], []
    for row in table:
        if len(row) == 4:  # LOS row: merge specular and Rayleigh powers into one Rician tap
            delays.append(row[0] * ds_s)
            powers.append(10 * math.log10(10 ** (row[2] / 10) + 10 ** (row[3] / 10)))
        else:
            delays.append(row[0] * ds_s)
            powers.append(row[1])
    return TDLProfile(name, tuple(delays), tuple(powers), k_db, _CITE_38901.format(table_no))


def _ns_table(name: str, table: tuple, citation: str) -> TDLProfile:
    return TDLProfile(name, tuple(d * 1e-9 for d, _ in table), tuple(float(p) for _, p in table),
                      None, citation)


#: Every name :func:`get_profile` knows.
PROFILE_NAMES = ("awgn", "rayleigh", "rician", "tdl-a", "tdl-b", "tdl-c", "tdl-d", "tdl-e",
                 "epa", "eva", "etu", "ped-a", "ped-b", "veh-a", "veh-b", "lammsc")

_ALIASES = {"tdla": "tdl-a", "tdlb": "tdl-b", "tdlc": "tdl-c", "tdld": "tdl-d", "tdle": "tdl-e",
            "peda": "ped-a", "pedb": "ped-b", "veha": "veh-a", "vehb": "veh-b", "lam-msc": "lammsc"}


def canonical_name(name: str) -> str:
    """Lower-case, ``_`` -> ``-``, a few aliases (``TDL_A``, ``PedA``, ``lam-msc``)."""
    if not isinstance(name, str):
        raise ConfigError(f"channel.model: expected a profile name, got {name!r}")
    n = name.strip().lower().replace("_", "-").replace(" ", "-")
    return _ALIASES.get(n.replace("-", ""), n) if n not in PROFILE_NAMES else n


def get_profile(name: str, delay_spread_ns: float = 100.0, *, sample_rate: float = 1e6,
                k_factor_db: float = 6.0) -> TDLProfile:
    """The named power-delay profile.

    Args:
        name: one of :data:`PROFILE_NAMES` (case-insensitive, ``_`` allowed for ``-``).
        delay_spread_ns: RMS delay spread that scales the normalized TDL-A..E delays (38.901
            Section 7.7.3 gives e.g. 10 ns "very short" ... 1000 ns "very long"); ignored otherwise.
        sample_rate: resolves ``lammsc``'s sample delays to seconds.
        k_factor_db: K-factor of the flat ``rician`` profile (TDL-D/E use their tables' K).
    Raises:
        ConfigError: unknown name (the message lists the known ones) or bad parameter.
    """
    n = canonical_name(name)
    if n not in PROFILE_NAMES:
        raise ConfigError(f"channel.model: unknown channel profile {name!r}; known profiles: "
                          f"{', '.join(PROFILE_NAMES)}")
    if not delay_spread_ns > 0:
        raise ConfigError(f"channel.delay_spread_ns: must be > 0, got {delay_spread_ns}")
    ds = delay_spread_ns * 1e-9
    if n == "awgn":
        return TDLProfile("awgn", (0.0,), (0.0,), math.inf, "no fading: one deterministic unit tap")
    if n == "rayleigh":
        return TDLProfile("rayleigh", (0.0,), (0.0,), None, "flat Rayleigh block fading")
    if n == "rician":
        return TDLProfile("rician", (0.0,), (0.0,), float(k_factor_db), "flat Rician block fading")
    if n.startswith("tdl-"):
        idx = "abcde".index(n[-1])
        table = (_TDL_A, _TDL_B, _TDL_C, _TDL_D, _TDL_E)[idx]
        k = (None, None, None, 13.3, 22.0)[idx]
        return _tdl_38901(n, table, idx + 1, ds, k)
    if n in ("epa", "eva", "etu"):
        return _ns_table(n, {"epa": _EPA, "eva": _EVA, "etu": _ETU}[n],
                         _CITE_36104.format({"epa": 2, "eva": 3, "etu": 4}[n]))
    if n in ("ped-a", "ped-b"):
        return _ns_table(n, _PED_A if n == "ped-a" else _PED_B, _CITE_1225.format(4))
    if n in ("veh-a", "veh-b"):
        return _ns_table(n, _VEH_A if n == "veh-a" else _VEH_B, _CITE_1225.format(5))
    # lammsc: defined in samples
    if not sample_rate > 0:
        raise ConfigError(f"frame.sample_rate: must be > 0, got {sample_rate}")
    sd = tuple(float(d) for d, _ in _LAMMSC)
    return TDLProfile("lammsc", tuple(d / sample_rate for d in sd), tuple(p for _, p in _LAMMSC),
                      None, "Jiang et al., LAM-MSC (arXiv 2309.01249), CGE data", sd, float(sample_rate))


def resolve_profile(profile, sample_rate: float, delay_spread_ns: float = 100.0,
                    k_factor_db: float = 6.0) -> TDLProfile:
    """A :class:`TDLProfile` from a name or a profile, resolved at ``sample_rate``."""
    if isinstance(profile, TDLProfile):
        return profile.at_sample_rate(sample_rate)
    return get_profile(profile, delay_spread_ns, sample_rate=sample_rate, k_factor_db=k_factor_db)
