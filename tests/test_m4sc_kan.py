"""The KAN layer against references we did not write: pykan's B_batch, SciPy's BSpline, closed forms."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lamsc_sdr.m4sc.kan import KAN, KANLinear, bspline_basis, mlp, mlp_hidden_for, n_params, uniform_knots  # noqa: E402


def _pykan_spline():
    """pykan's kan/spline.py loaded on its own (its package __init__ imports sympy, pandas...)."""
    spec = importlib.util.find_spec("kan")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pykan not installed (pip install pykan==0.2.8)")
    path = Path(list(spec.submodule_search_locations)[0]) / "spline.py"
    s = importlib.util.spec_from_file_location("pykan_spline", path)
    mod = importlib.util.module_from_spec(s)
    s.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_basis_matches_pykan_B_batch(k):
    sp = _pykan_spline()
    g = 5
    knots = uniform_knots(g, k)
    x = torch.rand(200, 3, generator=torch.Generator().manual_seed(k)) * 2 - 1
    ours = bspline_basis(x, knots, k)                                   # (200, 3, g + k)
    ref = sp.B_batch(x, knots[None, :].expand(3, -1), k=k)
    assert ours.shape == ref.shape == (200, 3, g + k)
    torch.testing.assert_close(ours, ref.to(ours.dtype), atol=1e-6, rtol=1e-5)


def test_basis_matches_scipy_and_partition_of_unity():
    from scipy.interpolate import BSpline
    g, k = 7, 3
    knots = uniform_knots(g, k, -2.0, 3.0)
    x = np.linspace(-2.0, 2.999, 301)
    ours = bspline_basis(torch.tensor(x, dtype=torch.float64)[:, None], knots.double(), k)[:, 0].numpy()
    ref = BSpline.design_matrix(x, knots.double().numpy(), k).toarray()
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    np.testing.assert_allclose(ours.sum(1), 1.0, atol=1e-12)           # inside [lo, hi]


def test_cubic_spline_reproduces_a_cubic_polynomial():
    """A cubic B-spline space contains every cubic: least squares on the basis fits x^3 - x exactly."""
    knots = uniform_knots(6, 3).double()
    x = torch.linspace(-1, 0.999, 400, dtype=torch.float64)
    B = bspline_basis(x[:, None], knots, 3)[:, 0]                       # (400, 9)
    y = x ** 3 - x
    coef = torch.linalg.lstsq(B, y[:, None]).solution
    torch.testing.assert_close((B @ coef)[:, 0], y, atol=1e-9, rtol=0)


def test_kan_layer_is_the_sum_of_edge_functions():
    torch.manual_seed(0)
    layer = KANLinear(4, 3, grid_size=5, order=3)
    x = torch.rand(10, 4) * 2 - 1
    y = layer(x)
    B = bspline_basis(x, layer.knots, 3)                                # (10, 4, 8)
    C = layer.scaled_spline_weight()
    ref = torch.zeros(10, 3)
    for j in range(3):
        for i in range(4):
            ref[:, j] += layer.base_weight[j, i] * torch.nn.functional.silu(x[:, i]) + B[:, i] @ C[j, i]
    torch.testing.assert_close(y, ref, atol=1e-5, rtol=1e-5)
    assert n_params(layer) == 3 * 4 * (5 + 3 + 2)


def test_mlp_of_equal_size():
    kan = KAN([32, 16, 384])
    h = mlp_hidden_for(32, 384, n_params(kan))
    m = mlp([32, h, 384])
    assert abs(n_params(m) - n_params(kan)) / n_params(kan) < 0.01
