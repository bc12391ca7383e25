"""`nndsl train --nproc N`: run the generated program as N data-parallel processes on this machine.

One launcher per backend, in LAUNCHERS: each takes the program file, its command-line arguments
and N, runs the processes to the end and returns normally, or raises LaunchError with one line
naming the rank that failed. The generated program itself decides everything else (each rank's
share of a batch, rank 0 alone writing); a user on several machines runs it with the backend's
own launcher (README: "Several processes").
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

from nndsl.launch_tensorflow import train_on_workers


class LaunchError(Exception):
    """A rank failed, or the processes could not be started."""


def launch_torch(program: Path, argv: list[str], nproc: int, log_dir: Path, quiet: bool = False) -> None:
    """torchrun's agent, in this process, starting `python program argv` N times on the loopback
    address (one machine): torchrun stops the other ranks when one fails, and its ChildFailedError
    says which rank failed and how, which a torchrun subprocess would only print."""
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, Std
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    port = _free_port()
    config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=f"nndsl-{uuid.uuid4().hex[:8]}",
        rdzv_backend="static", rdzv_endpoint=f"127.0.0.1:{port}", rdzv_configs={"rank": 0},
        max_restarts=0, monitor_interval=0.1, start_method="spawn", local_addr="127.0.0.1",
        logs_specs=DefaultLogsSpecs(log_dir=str(log_dir), redirects=Std.OUT if quiet else Std.NONE),
    )
    # torchrun's default: one thread per rank unless OMP_NUM_THREADS says otherwise; the cores
    # shared out is at least as fast on a machine of its own.
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, (os.cpu_count() or 1) // nproc))
    try:
        with _environment(OMP_NUM_THREADS=threads, MASTER_ADDR="127.0.0.1"), _quiet_agent():
            elastic_launch(config, sys.executable)(str(program), *argv)
    except ChildFailedError as error:
        raise LaunchError(failure_line(error.failures, nproc)) from None


def failure_line(failures: dict, nproc: int) -> str:
    """One line for the rank whose failure ended the run. `failures`: torch's ProcessFailure by rank,
    in the order the agent saw them: those that failed first, then those it stopped itself (with
    SIGTERM). A rank killed by another signal (SIGKILL, SIGSEGV) comes first, since the others then
    lost it and failed in their turn."""
    crashed = [rank for rank, failure in failures.items() if failure.exitcode < 0 and failure.signal_name() != "SIGTERM"]
    rank = crashed[0] if crashed else next(iter(failures))
    failure = failures[rank]
    if failure.exitcode < 0:
        how = f"was killed by {failure.signal_name()}"
    else:
        how = f"stopped with exit status {failure.exitcode} (its message is above)"
    return f"the training process of rank {rank} (of {nproc}) {how}; the other ranks were stopped"


def _free_port() -> int:
    """A TCP port free on the loopback address now, for the ranks to meet at."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _environment(**values):
    """os.environ with `values` set while the processes start (they inherit it), restored after."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _quiet_agent():
    """The agent logs each start and failure; LaunchError's line says what matters."""
    logger = logging.getLogger("torch.distributed.elastic")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


#: backend → its launcher; a backend without one trains in one process. torch: torchrun's agent
#: runs the program's ranks; tensorflow: N workers with TF_CONFIG (nndsl/launch_tensorflow.py,
#: which also writes model.py and the plots).
LAUNCHERS = {"torch": launch_torch, "tensorflow": train_on_workers}


def launcher(backend: str):
    """The launcher of `backend`, or LaunchError saying why there is none."""
    if backend in LAUNCHERS:
        return LAUNCHERS[backend]
    if backend == "numpy":
        raise LaunchError("--nproc: the NumPy backend trains in one process; data-parallel training needs -b torch or -b tensorflow")
    raise LaunchError(f"--nproc: data-parallel training on {backend} is not in nndsl yet; train without --nproc, "
                      "or with -b torch")
