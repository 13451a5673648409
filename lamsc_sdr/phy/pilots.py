"""Pilot patterns: where pilots sit on a slot and what they are. Configuration objects.

All patterns use the same unit-modulus (constant-envelope, hence low-PAPR) sequence: a
Zadoff-Chu sequence over the used subcarriers, so ``|p| = 1`` and the LS error variance at a
pilot is exactly the noise variance ``N0``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np

from ..errors import ConfigError
from .grid import ResourceGrid


def zadoff_chu(length: int, root: int = 25) -> np.ndarray:
    """Zadoff-Chu values ``exp(-j pi u n (n+1) / Nzc)`` for the smallest odd prime ``Nzc >= length``,
    truncated to ``length``. Output: (length,) complex64, all of modulus 1."""
    nzc = max(3, length)
    while any(nzc % d == 0 for d in range(2, int(nzc ** 0.5) + 1)) or nzc % 2 == 0:
        nzc += 1
    u = root % nzc or 1
    n = np.arange(length)
    return np.exp(-1j * np.pi * u * n * (n + 1) / nzc).astype(np.complex64)


@dataclass(frozen=True)
class PilotPattern:
    """Pilot positions on a slot of ``grid``.

    - ``block``: every used subcarrier of OFDM symbols ``t % time_spacing == offset``.
    - ``comb``: subcarriers ``i % freq_spacing == offset`` of every OFDM symbol.
    - ``scattered``: a lattice: symbols ``t % time_spacing == 0`` carry subcarriers
      ``(i - shift * (t // time_spacing)) % freq_spacing == offset`` (a diamond pattern for
      ``shift = freq_spacing // 2``).

    ``i`` indexes the used subcarriers (0..n_used-1). The last used subcarrier is always a pilot
    in comb/scattered rows so interpolation never extrapolates far at the band edge.
    """

    grid: ResourceGrid
    kind: Literal["block", "comb", "scattered"] = "scattered"
    time_spacing: int = 1
    freq_spacing: int = 6
    shift: int = 3
    offset: int = 0

    def __post_init__(self):
        if self.kind not in ("block", "comb", "scattered"):
            raise ConfigError(f"frame.pilots.kind: must be block, comb or scattered, got {self.kind!r}")
        if self.time_spacing < 1 or self.freq_spacing < 1:
            raise ConfigError("frame.pilots.time_spacing/freq_spacing: must be >= 1")
        if self.kind == "block" and self.time_spacing > self.grid.n_symbols:
            raise ConfigError(
                f"frame.pilots.time_spacing: {self.time_spacing} > n_symbols ({self.grid.n_symbols}); "
                "the pilots do not fit in the slot")
        if self.kind != "block" and self.freq_spacing > self.grid.n_used:
            raise ConfigError(
                f"frame.pilots.freq_spacing: {self.freq_spacing} > used subcarriers ({self.grid.n_used}); "
                "the pilots do not fit")
        m = self.mask
        if m.all():
            raise ConfigError("frame.pilots: the pattern leaves no data resource elements")
        if not m.any():
            raise ConfigError("frame.pilots: the pattern places no pilots on the slot")

    @cached_property
    def mask(self) -> np.ndarray:
        """True where a pilot sits. (n_symbols, n_used) bool."""
        t = np.arange(self.grid.n_symbols)[:, None]
        i = np.arange(self.grid.n_used)[None, :]
        if self.kind == "block":
            m = np.broadcast_to((t % self.time_spacing) == self.offset % self.time_spacing, self.grid.shape)
        elif self.kind == "comb":
            m = np.broadcast_to((i % self.freq_spacing) == self.offset % self.freq_spacing, self.grid.shape).copy()
            m[:, -1] = True
        else:
            row = (t % self.time_spacing) == 0
            col = ((i - self.shift * (t // self.time_spacing)) % self.freq_spacing) == self.offset % self.freq_spacing
            m = row & col
            m[row[:, 0], -1] = True
        return np.ascontiguousarray(m)

    @cached_property
    def values(self) -> np.ndarray:
        """Pilot symbols on the full slot (zero where no pilot). (n_symbols, n_used) complex64, |p| = 1."""
        zc = zadoff_chu(self.grid.n_used)
        full = np.broadcast_to(zc, self.grid.shape)
        return np.where(self.mask, full, 0).astype(np.complex64)

    @property
    def n_pilots(self) -> int:
        return int(self.mask.sum())

    @property
    def n_data(self) -> int:
        """Data resource elements per slot."""
        return int(self.mask.size - self.mask.sum())

    @cached_property
    def pilot_index(self) -> tuple[np.ndarray, np.ndarray]:
        """(symbol, subcarrier) indices of the pilots in row-major order."""
        return np.nonzero(self.mask)

    @cached_property
    def data_index(self) -> tuple[np.ndarray, np.ndarray]:
        """(symbol, subcarrier) indices of the data resource elements in row-major order."""
        return np.nonzero(~self.mask)
