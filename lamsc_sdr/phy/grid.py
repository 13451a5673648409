"""The OFDM resource grid: a validated configuration object, read-only after construction.

Subcarriers are named by their centred index ``k`` in ``[-N/2, N/2)``; ``used_bins`` maps the
used (non-guard, non-DC) subcarriers to FFT bin numbers ``k mod N``. Grids handed between
blocks hold only the used subcarriers: shape ``(..., n_symbols, n_used)``, complex64.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..errors import ConfigError


#: Sanity limits: a typo such as fft_size 2**40 must be an error, not an 8 TiB allocation.
MAX_FFT = 8192
MAX_SYMBOLS = 1024


@dataclass(frozen=True)
class ResourceGrid:
    """OFDM numerology of one slot.

    Defaults suit a PlutoSDR over USB at 1 Msps: 64-point FFT (15.625 kHz spacing), cyclic
    prefix 16 samples (16 us, longer than any published TDL profile's delay spread at this rate),
    6 + 5 guard subcarriers and a nulled DC (the Pluto's LO leakage sits there): 52 used
    subcarriers, 8 OFDM symbols per slot (the LAM-MSC authors' estimator grid).
    """

    fft_size: int = 64
    cp_len: int = 16
    n_symbols: int = 8
    guard_left: int = 6
    guard_right: int = 5
    dc_null: bool = True
    sample_rate: float = 1e6

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        n = self.fft_size
        if not isinstance(n, int) or n < 8 or n & (n - 1) or n > MAX_FFT:
            raise ConfigError(f"frame.fft_size: must be a power of two in [8, {MAX_FFT}], got {n!r}")
        if not 0 <= self.cp_len < n:
            raise ConfigError(f"frame.cp_len: must satisfy 0 <= cp_len < fft_size ({n}), got {self.cp_len}")
        if not 0 < self.sample_rate < 1e11:
            raise ConfigError(f"frame.sample_rate: must be a positive finite rate (Hz), got {self.sample_rate}")
        if not 1 <= self.n_symbols <= MAX_SYMBOLS:
            raise ConfigError(f"frame.n_symbols: must be in [1, {MAX_SYMBOLS}], got {self.n_symbols}")
        if self.guard_left < 0 or self.guard_right < 0:
            raise ConfigError("frame.guard_left/guard_right: must be >= 0")
        if self.guard_left + self.guard_right + int(self.dc_null) >= n - 1:
            raise ConfigError(
                f"frame.guard_left + guard_right ({self.guard_left}+{self.guard_right}) leave no used subcarriers")
        if not self.sample_rate > 0:
            raise ConfigError(f"frame.sample_rate: must be > 0, got {self.sample_rate}")

    @cached_property
    def used_k(self) -> np.ndarray:
        """Centred indices of used subcarriers, ascending. (n_used,) int64."""
        n = self.fft_size
        k = np.arange(-n // 2 + self.guard_left, n // 2 - self.guard_right)
        if self.dc_null:
            k = k[k != 0]
        return k.astype(np.int64)

    @cached_property
    def used_bins(self) -> np.ndarray:
        """FFT bin numbers of the used subcarriers (``k mod N``). (n_used,) int64."""
        return np.mod(self.used_k, self.fft_size)

    @property
    def n_used(self) -> int:
        return int(self.used_k.size)

    @property
    def symbol_len(self) -> int:
        """Samples per OFDM symbol including the cyclic prefix."""
        return self.fft_size + self.cp_len

    @property
    def slot_len(self) -> int:
        return self.n_symbols * self.symbol_len

    @property
    def subcarrier_spacing(self) -> float:
        return self.sample_rate / self.fft_size

    @property
    def shape(self) -> tuple[int, int]:
        """(n_symbols, n_used) of one slot."""
        return (self.n_symbols, self.n_used)
