"""Run a sweep's items in-process or as Ray tasks, with the same results for any worker count.

A sweep is a list of *items* (plain dicts, each carrying its own ``seed``) and a *worker factory*:
``"package.module:function"`` called once per worker with ``init`` (plain data) and returning
``run(item) -> dict``. Models therefore load once per worker, and an item's result depends only on
the item, never on which worker ran it or what ran before, so 1, 2 or 200 workers agree.

- ``workers=1`` and no address: a plain loop in this process (Ray is not imported).
- ``workers=N``: a local Ray runtime with N actors (``ray.init(num_cpus=N)``).
- ``ray_address="ray://host:10001"`` or ``"auto"``: an existing cluster; one actor per CPU unless
  ``workers`` says otherwise. lamsc_sdr (and its models) must be installed on the cluster's nodes.

Usage::

    results = run_items("lamsc_sdr.experiments.paper:make_worker", {"cfg": cfg.to_dict()}, items, workers=2)
"""
from __future__ import annotations

import importlib
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError

log = logging.getLogger(__name__)


def load_factory(spec: str) -> Callable[..., Callable[[dict], dict]]:
    """``"pkg.mod:func"`` -> the function (an error naming ``spec`` if it does not resolve)."""
    mod, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(mod), name)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"worker factory {spec!r} does not resolve: {err}") from err


class _Worker:
    """One worker's state: the ``run`` callable built once (models loaded once)."""

    def __init__(self, factory: str, init: dict, threads: int | None):
        if threads:
            os.environ.setdefault("OMP_NUM_THREADS", str(threads))
            try:
                import torch
                torch.set_num_threads(threads)
            except ImportError:
                pass
        self.run_fn = load_factory(factory)(**init)

    def run(self, index: int, item: dict) -> tuple[int, dict, float]:
        t0 = time.perf_counter()
        return index, self.run_fn(item), time.perf_counter() - t0


def run_items(factory: str, init: dict, items: list[dict], workers: int = 1, ray_address: str | None = None,
              desc: str = "items", threads_per_worker: int | None = None, progress: bool = True) -> list[dict]:
    """Run ``items`` and return their results in item order (see module docstring); ``progress``:
    a tqdm bar over the items."""
    from tqdm import tqdm
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if workers == 1 and not ray_address:
        w = _Worker(factory, init, threads_per_worker)
        return [w.run(i, it)[1] for i, it in enumerate(tqdm(items, desc=desc, unit="item", disable=not progress))]
    return _run_ray(factory, init, items, workers, ray_address, desc, threads_per_worker or 1, progress)


#: actors kept for the life of the process, per (factory, init, workers, address): an experiment
#: that runs several sweeps (sender side, then transmissions) loads its models once per worker
_POOLS: dict = {}


def _ray_pool(factory, init, workers, address, threads):
    import atexit
    import json as _json
    import ray
    key = (factory, _json.dumps(init, sort_keys=True, default=str), workers, address)
    if key in _POOLS:
        return _POOLS[key]
    if not ray.is_initialized():
        import lamsc_sdr
        pkg_root = str(Path(lamsc_sdr.__file__).resolve().parents[1])
        env = {"PYTHONPATH": os.pathsep.join([pkg_root, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}
        kw: dict[str, Any] = {"runtime_env": {"env_vars": env}, "log_to_driver": False, "logging_level": "warning"}
        if address:
            ray.init(address=address, **kw)
        else:
            # On a shared machine the raylet's memory monitor kills *our* workers when other
            # processes fill the memory; leave out-of-memory handling to the kernel.
            os.environ.setdefault("RAY_memory_monitor_refresh_ms", "0")
            ray.init(num_cpus=workers, include_dashboard=False, **kw)
        atexit.register(ray.shutdown)
    for _, old in _POOLS.values():           # one pool at a time: idle actors of another factory would
        for a in old:                        # hold the CPUs the new ones need (the new pool would hang)
            ray.kill(a)
    _POOLS.clear()
    n = workers if (workers > 1 or not address) else max(1, int(ray.cluster_resources().get("CPU", 1)))
    actor = ray.remote(num_cpus=1)(_Worker)
    _POOLS[key] = (n, [actor.remote(factory, init, threads) for _ in range(n)])
    return _POOLS[key]


def _run_ray(factory, init, items, workers, address, desc, threads, progress=True) -> list[dict]:
    from tqdm import tqdm
    try:
        from ray.util import ActorPool
    except ImportError as err:
        raise ConfigError("--workers N > 1 / --ray-address need Ray: pip install 'lamsc_sdr[scale]'") from err
    n, actors = _ray_pool(factory, init, workers, address, threads)
    pool = ActorPool(actors)
    out: list[Any] = [None] * len(items)
    bar = tqdm(total=len(items), desc=f"{desc} ({n} Ray workers)", unit="item", disable=not progress)
    for idx, res, _ in pool.map_unordered(lambda a, iv: a.run.remote(*iv), list(enumerate(items))):
        out[idx] = res
        bar.update()
    bar.close()
    return out


def shutdown() -> None:
    """Drop the kept actors and stop a Ray runtime this process started (tests, benchmarks)."""
    _POOLS.clear()
    try:
        import sys
        if "ray" in sys.modules:
            import ray
            if ray.is_initialized():
                ray.shutdown()
    except ImportError:
        pass


def add_scale_args(p) -> None:
    """``--workers N`` and ``--ray-address ADDR`` for any sweep command."""
    p.add_argument("--workers", type=int, default=1,
                   help="run the sweep's items on N workers (N > 1: a local Ray runtime; default 1, in-process)")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="run on an existing Ray cluster (e.g. ray://head:10001 or auto)")


def selftest_worker(scale: float = 1.0):
    """A model-free worker for tests and ``lamsc bench``-style checks: each item's result is a pure
    function of its seed (plus the worker's pid, to show which process ran it)."""
    import numpy as np
    pid = os.getpid()

    def run(item: dict) -> dict:
        rng = np.random.default_rng(int(item["seed"]))
        x = rng.standard_normal(int(item.get("n", 1000)))
        for _ in range(int(item.get("work", 0))):   # a fixed amount of CPU-bound work (speed-up)
            x = np.sin(x) * scale + x * 0.5
        return {"seed": int(item["seed"]), "value": float(np.round(x.mean(), 12)), "pid": pid}

    return run
