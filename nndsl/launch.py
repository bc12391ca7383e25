"""`nndsl train --nproc N`: run the generated program as N data-parallel processes on this machine.

One launcher per backend, in LAUNCHERS, all of one shape: `start(program, argv, nproc, folder,
target, quiet)` runs `python program argv` as N processes that train together, and returns when
all have finished, or raises LaunchError with one line naming the process that failed (the
others stopped). What they have in common is here once: process 0 (torch's rank 0, TensorFlow's
chief) alone prints and writes, and its output is the run's (epoch lines on stderr, none with
--quiet; the rest on stdout); the others' output goes to a log in `folder`, whose last lines are
shown when that process is the one that failed, so that a user error is printed once. nndsl.train
writes the program, passes the options through, and adds model.py and the plots after.

The generated program itself decides everything else (each process's share of a batch, who
writes), from the environment variables its launcher sets (`Launcher.variables`); nndsl's own
process trains in one process, without them (`one_process`). A user on several machines runs
the program with the backend's own launcher (README: "Several processes", "Several workers").
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

POLL_SECONDS = 0.1  # how often a launcher looks whether a process has ended, or printed
LOG_TAIL_LINES = 20  # lines of a failed process's own output shown with the error


class LaunchError(Exception):
    """A process failed, or the processes could not be started."""


# ---- what every launcher shares


def first_failed(codes: dict[int, int]) -> int:
    """Of the processes that failed (`codes`: their exit statuses by index, negative for a signal),
    the one whose failure ended the run: one killed by a signal first (the others then lost it and
    failed in their turn), then the lowest index (process 0's output is shown in full)."""
    return min(codes, key=lambda index: (codes[index] > 0, index))


def failure_line(noun: str, index: int, nproc: int, code: int) -> str:
    """LaunchError's line for process `index` (a `noun`: rank, worker) that ended with `code`."""
    if code < 0:
        try:
            how = f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"was killed by signal {-code}"
    else:
        how = f"stopped with exit status {code} (its message is above)"
    return f"the training process of {noun} {index} (of {nproc}) {how}; the other {noun}s were stopped"


class Output:
    """Process 0's output as the run's, and what it has said on stderr, so that a failed process's
    last lines (show_tail) leave out what process 0 printed already: a user error (a bad data
    file) that every process meets is printed once."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.said: set[str] = set()

    def out(self, line: str) -> None:
        """A line of process 0's stdout, as a one-process nndsl train prints it: an epoch line on
        stderr (none with --quiet), the rest (the validation line, the files saved) on stdout."""
        epoch = line.startswith("epoch ")
        if not (self.quiet and epoch):
            target = sys.stderr if epoch else sys.stdout
            target.write(line)
            target.flush()

    def err(self, line: str) -> None:
        """A line of process 0's stderr (notes, errors): on stderr, as it is."""
        self.said.add(line.rstrip("\n"))
        sys.stderr.write(line)
        sys.stderr.flush()

    def show_tail(self, path: Path) -> None:
        """The last lines of another process's log, on stderr: why it failed, in its own words."""
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return
        lines = [line for line in lines[-LOG_TAIL_LINES:] if line not in self.said]
        if lines:
            print("\n".join(lines), file=sys.stderr, flush=True)


@contextmanager
def _environment(**values):
    """os.environ with `values` set (None: removed) while the processes start (they inherit it), restored after."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def free_loopback_ports(count: int) -> list[int]:
    """`count` distinct TCP ports that are free on 127.0.0.1 now (the system picks them; all are held
    open together so that none repeats, then released for the processes to bind)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


# ---- PyTorch: torchrun's agent


def launch_torch(program: Path, argv: list[str], nproc: int, folder: Path, target: str = "auto",
                 quiet: bool = False) -> None:
    """torchrun's agent, in this process, starting `python program argv` N times on the loopback
    address (one machine): torchrun stops the other ranks when one fails, and its ChildFailedError
    says which rank failed and how, which a torchrun subprocess would only print. Each rank's
    output goes to its log in `folder`; rank 0's is followed there as it is written (Output). (`target`:
    the program picks each rank's GPU itself, LOCAL_RANK's.)"""
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, Std
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    run_id = f"nndsl-{uuid.uuid4().hex[:8]}"
    config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=run_id,
        rdzv_backend="static", rdzv_endpoint=f"127.0.0.1:{free_loopback_ports(1)[0]}", rdzv_configs={"rank": 0},
        max_restarts=0, monitor_interval=0.1, start_method="spawn", local_addr="127.0.0.1",
        logs_specs=DefaultLogsSpecs(log_dir=str(folder), redirects=Std.ALL),
    )
    # torchrun's default: one thread per rank unless OMP_NUM_THREADS says otherwise; the cores
    # shared out is at least as fast on a machine of its own.
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, (os.cpu_count() or 1) // nproc))
    logs = f"{run_id}_*/attempt_0/{{rank}}/{{name}}.log"  # where DefaultLogsSpecs puts each rank's output
    output = Output(quiet)
    followers = [_Follower(folder, logs.format(rank=0, name=name), write)
                 for name, write in (("stdout", output.out), ("stderr", output.err))]
    for follower in followers:
        follower.start()
    try:
        with _environment(OMP_NUM_THREADS=threads, MASTER_ADDR="127.0.0.1", PYTHONUNBUFFERED="1"), _quiet_agent():
            elastic_launch(config, sys.executable)(str(program), *argv)
    except ChildFailedError as error:
        for follower in followers:
            follower.finish()
        own = {rank: failed.exitcode for rank, failed in error.failures.items() if failed.signal_name() != "SIGTERM"}
        codes = own or {rank: failed.exitcode for rank, failed in error.failures.items()}  # SIGTERM: stopped by the agent
        rank = first_failed(codes)
        for log in folder.glob(logs.format(rank=rank, name="stderr")) if rank else ():
            output.show_tail(log)
        raise LaunchError(failure_line("rank", rank, nproc, codes[rank])) from None
    finally:
        for follower in followers:
            follower.finish()


class _Follower(threading.Thread):
    """Copies the lines of a log that a process writes, to `write` as they come (tail -f)."""

    def __init__(self, folder: Path, pattern: str, write: Callable[[str], None]) -> None:
        super().__init__(daemon=True)
        self.folder, self.pattern, self.write = folder, pattern, write  # the log: folder.glob(pattern)
        self.done = threading.Event()

    def run(self) -> None:
        path = None
        while path is None:
            finished = self.done.is_set()
            path = next(iter(self.folder.glob(self.pattern)), None)
            if path is None:
                if finished:
                    return
                time.sleep(POLL_SECONDS)
        with open(path, encoding="utf-8", errors="replace") as log:
            pending = ""
            while True:
                finished = self.done.is_set()  # before reading: what was written until then is read
                pending += log.readline()
                if pending.endswith("\n") or (finished and pending):
                    self.write(pending)
                    pending = ""
                elif finished:
                    return
                else:
                    time.sleep(POLL_SECONDS)

    def finish(self) -> None:
        """Copy what is left, then stop (the process has ended)."""
        self.done.set()
        if self.is_alive():
            self.join()


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


# ---- TensorFlow: N workers with TF_CONFIG


def launch_tensorflow(program: Path, argv: list[str], nproc: int, folder: Path, target: str = "auto",
                      quiet: bool = False) -> None:
    """N TensorFlow workers on this machine, one training: each runs the program with TF_CONFIG naming
    a cluster of N workers on loopback ports, and trains in a MultiWorkerMirroredStrategy
    (templates/tensorflow/device.py). Worker 0 is the chief.

    A worker that dies (a crash, a kill, an error) would leave the others waiting for it in their
    next all-reduce for ever: the launcher watches them all and stops the rest at once."""
    output = Output(quiet)
    workers = _Workers([sys.executable, str(program), *argv], nproc, target, folder, output)
    try:
        failed = workers.wait()
    finally:  # an interrupt, or an error in the launcher itself: no worker outlives it
        workers.stop()
    if failed is not None:
        index, code = failed
        if index:
            output.show_tail(workers.logs[index])
        raise LaunchError(failure_line("worker", index, nproc, code))


def tf_config(ports: list[int], index: int) -> str:
    """TF_CONFIG for worker `index` of a cluster of workers on these loopback ports."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


def worker_environment(ports: list[int], index: int, target: str) -> dict[str, str]:
    """The environment of worker `index`: TF_CONFIG, and which GPU it may use. With -t cpu it sees
    none; otherwise worker i sees the i-th GPU only (a MultiWorkerMirroredStrategy trains one
    replica per worker here), and takes GPU memory as it needs it rather than all at once."""
    env = dict(os.environ, TF_CONFIG=tf_config(ports, index), PYTHONUNBUFFERED="1")
    visible_gpus = [gpu for gpu in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if gpu.strip()]
    if target == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = "-1"
    else:
        env["CUDA_VISIBLE_DEVICES"] = visible_gpus[index] if index < len(visible_gpus) else str(index)
        env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
    return env


class _Workers:
    """N worker processes of one program, started together and stopped together."""

    def __init__(self, command: list[str], nproc: int, target: str, folder: Path, output: Output) -> None:
        ports = free_loopback_ports(nproc)
        self.logs = [folder / f"worker{index}.log" for index in range(nproc)]
        self.processes: list[subprocess.Popen] = []
        self.forwarders: list[threading.Thread] = []
        try:
            for index in range(nproc):
                self.processes.append(self._start(command, worker_environment(ports, index, target), index, output))
        except BaseException:  # one could not start (an interrupt, no processes left): none may wait for it
            self.stop()
            raise

    def _start(self, command: list[str], env: dict[str, str], index: int, output: Output) -> subprocess.Popen:
        if index == 0:  # the chief: its output is the run's
            process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                       encoding="utf-8", errors="replace")
            for stream, write in ((process.stdout, output.out), (process.stderr, output.err)):
                self.forwarders.append(threading.Thread(target=_copy, args=(stream, write), daemon=True))
                self.forwarders[-1].start()
            return process
        with open(self.logs[index], "wb") as log:  # the others print only start-up noise and their errors
            return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    def wait(self) -> tuple[int, int] | None:
        """Wait until every worker has ended; None if all succeeded, else a failure's (worker index,
        return code), once the other workers are stopped. A worker that dies takes the others down
        within moments (their all-reduce fails), so of the failures seen together, one killed by
        a signal is named first: the others only followed it."""
        while True:
            codes = [process.poll() for process in self.processes]
            failed = {index: code for index, code in enumerate(codes) if code not in (None, 0)}
            if failed:
                self.stop()
                index = first_failed(failed)
                return index, failed[index]
            if all(code == 0 for code in codes):
                for forwarder in self.forwarders:
                    forwarder.join()
                return None
            time.sleep(POLL_SECONDS)

    def stop(self) -> None:
        """Kill the workers still running. SIGKILL at once: a worker waiting in an all-reduce for one
        that died does not answer SIGTERM, and every file a worker writes is written atomically."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        for forwarder in self.forwarders:
            forwarder.join()


def _copy(stream, write: Callable[[str], None]) -> None:
    for line in stream:
        write(line)


# ---- the launchers


@dataclass(frozen=True)
class Launcher:
    """How nndsl starts a backend's program as N processes."""

    start: Callable[..., None]  # (program, argv, nproc, folder, target, quiet); raises LaunchError
    variables: tuple[str, ...]  # the environment that tells the program it is one of several processes


#: backend → its launcher; a backend without one trains in one process.
LAUNCHERS = {
    "torch": Launcher(launch_torch, ("WORLD_SIZE", "RANK", "LOCAL_RANK")),  # Processes.from_environment
    "tensorflow": Launcher(launch_tensorflow, ("TF_CONFIG",)),  # cluster_tasks()
}


def launcher(backend: str) -> Launcher:
    """The launcher of `backend`, or LaunchError saying why there is none."""
    if backend in LAUNCHERS:
        return LAUNCHERS[backend]
    if backend == "numpy":
        raise LaunchError("--nproc: the NumPy backend trains in one process; data-parallel training needs -b torch or -b tensorflow")
    raise LaunchError(f"--nproc: data-parallel training on {backend} is not in nndsl yet; train without --nproc, "
                      "or with -b torch")


@contextmanager
def one_process():
    """os.environ without the launchers' variables while nndsl trains in its own process (restored
    after): a TF_CONFIG or WORLD_SIZE left in a user's shell must not make `nndsl train` join a
    cluster or wait for other ranks. Each launched process gets its own from its launcher; the
    generated program run by hand reads them, as a run on several machines needs. Yields the names
    it removed."""
    names = sorted({name for entry in LAUNCHERS.values() for name in entry.variables if name in os.environ})
    with _environment(**dict.fromkeys(names)):
        yield names
