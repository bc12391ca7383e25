"""`nndsl train SPEC -b tensorflow --nproc N`: N TensorFlow workers on this machine, one training.

Each worker runs the generated program with TF_CONFIG naming a cluster of N workers on
loopback ports; the program then trains in a MultiWorkerMirroredStrategy (templates/tensorflow/
device.py), every worker taking its share of each global batch. Worker 0 is the chief: it alone
prints epoch lines and writes weights.npz, history.json and checkpoints into --out. When every
worker has finished, nndsl adds model.py and the plots, as a one-process `nndsl train` does.

A worker that dies (a crash, a kill, an error) would leave the others waiting for it in their
next all-reduce for ever: the launcher watches them all, stops the rest at once and says which
one ended, and how.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from nndsl.errors import visible
from nndsl.files import write_atomic

POLL_SECONDS = 0.1  # how often the launcher looks whether a worker has ended
LOG_TAIL_LINES = 20  # lines of a failed worker's own output shown with the error


def free_loopback_ports(count: int) -> list[int]:
    """`count` distinct TCP ports that are free on 127.0.0.1 now (the system picks them; all are held
    open together so that none repeats, then released for the workers to bind)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


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


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


def _forward(stream, quiet: bool) -> None:
    """Copy the chief's output line by line: its epoch lines to stderr (none with --quiet), as a
    one-process nndsl train prints them, the rest (the validation line) to stdout."""
    for line in stream:
        epoch = line.startswith("epoch ")
        if not (quiet and epoch):
            target = sys.stderr if epoch else sys.stdout
            target.write(line)
            target.flush()


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-LOG_TAIL_LINES:])


class Workers:
    """N worker processes of one program, started together and stopped together."""

    def __init__(self, script: Path, options: list[str], nproc: int, target: str, logs: Path, quiet: bool) -> None:
        ports = free_loopback_ports(nproc)
        self.logs = [logs / f"worker{index}.log" for index in range(nproc)]
        self.processes: list[subprocess.Popen] = []
        self.forwarder = None
        try:
            for index in range(nproc):
                self.processes.append(self._start([sys.executable, str(script), *options],
                                                  worker_environment(ports, index, target), index, quiet))
        except BaseException:  # one could not start (an interrupt, no processes left): none may wait for it
            self.stop()
            raise

    def _start(self, command: list[str], env: dict[str, str], index: int, quiet: bool) -> subprocess.Popen:
        if index == 0:  # the chief: its output is the run's
            process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True,
                                       encoding="utf-8", errors="replace")
            self.forwarder = threading.Thread(target=_forward, args=(process.stdout, quiet), daemon=True)
            self.forwarder.start()
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
            failed = [(index, code) for index, code in enumerate(codes) if code not in (None, 0)]
            if failed:
                self.stop()
                return min(failed, key=lambda failure: (failure[1] > 0, failure[0]))
            if all(code == 0 for code in codes):
                if self.forwarder is not None:
                    self.forwarder.join()
                return None
            time.sleep(POLL_SECONDS)

    def stop(self) -> None:
        """Kill the workers still running. SIGKILL at once: a worker waiting in an all-reduce for one
        that died does not answer SIGTERM, and every file a worker writes is written atomically."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        if self.forwarder is not None:
            self.forwarder.join()


def train_on_workers(program, args, source: str, out: Path, resume: bool) -> int:
    """Train `source` (the generated TensorFlow program of `program`, with the run's overrides) on
    args.nproc local workers into `out` (prepared by the caller); returns the exit status."""
    nproc = args.nproc
    options = ["--out", str(out)] + (["--resume"] if resume else [])  # the workers start in this folder too
    options += ["--tensorboard", str(Path(args.tensorboard).resolve())] if args.tensorboard else []  # the chief writes
    options += ["--verbose"] if args.verbose else []
    with tempfile.TemporaryDirectory(prefix="nndsl-workers-") as folder:
        script = Path(folder) / "model.py"
        script.write_text(source, encoding="utf-8")
        workers = Workers(script, options, nproc, args.target, Path(folder), args.quiet)
        try:
            failed = workers.wait()
        finally:  # an interrupt, or an error in the launcher itself: no worker outlives it
            workers.stop()
        if failed is not None:
            index, code = failed
            tail = _tail(workers.logs[index]) if index else ""
            if tail:
                print(tail, file=sys.stderr)
            role = "the chief, worker 0," if index == 0 else f"worker {index}"
            print(f"nndsl: error: {role} of {nproc} {describe_exit(code)}; stopped the other workers "
                  f"(--resume continues from the last checkpoint in {visible(str(out))}, if one was written)",
                  file=sys.stderr)
            return 1
    try:
        write_atomic(out / "model.py", source)
        if not args.no_plots:
            _plot(program, source, out)
    except OSError as error:
        print(f"nndsl: error: cannot write in {visible(str(out))}: {error.strerror or error}", file=sys.stderr)
        return 1
    plots = "" if args.no_plots else " and plots"
    print(f"saved model.py{plots} in {visible(str(out))} ({nproc} workers trained)")
    return 0


def _plot(program, source: str, out: Path) -> None:
    """The plots of a one-process run, from the chief's weights and history, in this process (as one
    worker: without TF_CONFIG, which would make it wait for a cluster)."""
    from nndsl.codegen import load_module
    from nndsl.plots import plot_run

    os.environ.pop("TF_CONFIG", None)
    module = load_module(source)
    trainer = module.make_trainer(seed=program.seed)
    trainer.load(out / "weights.npz")
    trainer.history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    plot_run(program, module, trainer, out)
