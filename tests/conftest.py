import os

import numpy as np
import pytest

# Nothing in the tests may reach a hub or the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_addoption(parser):
    parser.addoption("--pluto-uri", default=None,
                     help="URI of a real PlutoSDR for tests marked 'hardware' (e.g. usb:1.2.5)")


@pytest.fixture
def pluto_uri(request):
    uri = request.config.getoption("--pluto-uri")
    if not uri:
        pytest.skip("no --pluto-uri given: hardware test skipped")
    return uri


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
