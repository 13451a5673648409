"""A Kolmogorov-Arnold Network (KAN) layer with B-spline edges, and an MLP of equal size.

Formulation of efficient-kan (Blealtan/efficient-kan, the registry name ``efficient-kan`` has no
wheel on PyPI here) and of pykan's ``KANLayer`` (Liu et al. 2024): every edge ``i -> j`` carries a
learnable function ``phi_ij(x) = w_b[j, i] * silu(x) + w_s[j, i] * sum_c C[j, i, c] B_c(x)``;
``y_j = sum_i phi_ij(x_i)``. The B-spline basis ``B_c`` of order ``k`` lives on a uniform grid of
``G`` intervals over ``[lo, hi]`` extended by ``k`` knots on each side (``G + 2k + 1`` knots,
``G + k`` basis functions), evaluated with the Cox-de Boor recursion -- the same formula as
pykan's ``kan.spline.B_batch`` (the tests compare against it and against SciPy's ``BSpline``).

Parameter count of one layer: ``out * in * (G + k + 2)`` (spline coefficients, base weight,
spline scale). :func:`mlp_hidden_for` sizes an MLP with the same count.
"""
from __future__ import annotations

import torch
from torch import nn


def uniform_knots(grid_size: int, order: int, lo: float = -1.0, hi: float = 1.0) -> torch.Tensor:
    """(G + 2k + 1,) float32 uniform knots over [lo, hi], extended by ``order`` knots each side."""
    h = (hi - lo) / grid_size
    return torch.arange(-order, grid_size + order + 1, dtype=torch.float32) * h + lo


def bspline_basis(x: torch.Tensor, knots: torch.Tensor, order: int) -> torch.Tensor:
    """Cox-de Boor B-spline basis.

    Input: x (..., n_in) float; knots (n_knots,) float increasing; order k >= 0.
    Output: (..., n_in, n_knots - 1 - k) float. Half-open order-0 intervals ``[t_c, t_{c+1})``.
    """
    x = x.unsqueeze(-1)                                               # (..., n_in, 1)
    t = knots
    b = ((x >= t[:-1]) & (x < t[1:])).to(x.dtype)                     # (..., n_in, n_knots - 1)
    for p in range(1, order + 1):
        left = (x - t[: -(p + 1)]) / (t[p:-1] - t[: -(p + 1)]) * b[..., :-1]
        right = (t[p + 1:] - x) / (t[p + 1:] - t[1:-p]) * b[..., 1:]
        b = left + right                                              # (..., n_in, n_knots - 1 - p)
    return b


class KANLinear(nn.Module):
    """One KAN layer ``in_features -> out_features`` (see the module docstring).

    Input x: (B, in) float32, expected mostly within [lo, hi] (outside, only the SiLU base acts).
    Output: (B, out) float32.
    """

    def __init__(self, in_features: int, out_features: int, grid_size: int = 5, order: int = 3,
                 lo: float = -1.0, hi: float = 1.0, noise_scale: float = 0.1):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.grid_size, self.order = grid_size, order
        self.register_buffer("knots", uniform_knots(grid_size, order, lo, hi))
        n_basis = grid_size + order
        self.base_weight = nn.Parameter(torch.empty(out_features, in_features))
        self.spline_weight = nn.Parameter(torch.randn(out_features, in_features, n_basis) * noise_scale / n_basis)
        self.spline_scaler = nn.Parameter(torch.ones(out_features, in_features))
        nn.init.kaiming_uniform_(self.base_weight, a=5 ** 0.5)

    def scaled_spline_weight(self) -> torch.Tensor:
        """(out, in, G + k): the coefficients ``w_s * C``."""
        return self.spline_weight * self.spline_scaler.unsqueeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = nn.functional.silu(x) @ self.base_weight.T                                  # (B, out)
        basis = bspline_basis(x, self.knots, self.order)                                   # (B, in, G + k)
        spline = basis.flatten(1) @ self.scaled_spline_weight().flatten(1).T               # (B, out)
        return base + spline


class KAN(nn.Module):
    """Stacked KAN layers, widths ``[in, hidden..., out]``. Input (B, in) -> output (B, out)."""

    def __init__(self, widths: list[int], grid_size: int = 5, order: int = 3):
        super().__init__()
        self.widths = list(widths)
        self.layers = nn.ModuleList(KANLinear(a, b, grid_size, order) for a, b in zip(widths[:-1], widths[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = torch.tanh(x)             # keep hidden activations on the next layer's grid
        return x


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


def mlp(widths: list[int]) -> nn.Sequential:
    """Linear-GELU MLP with widths ``[in, hidden..., out]``."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


def mlp_hidden_for(n_in: int, n_out: int, target_params: int) -> int:
    """Hidden width of a one-hidden-layer MLP ``n_in -> h -> n_out`` with about ``target_params``."""
    return max(1, round((target_params - n_out) / (n_in + n_out + 1)))
