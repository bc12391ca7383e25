"""The compiler is safe to call from many threads at once.

Its only shared state is the LALR parser and the Jinja environment (each
built once, under a lock, then only read) and the cache of verbatim
snippets; everything else lives in the call. Every example spec that trains,
on every backend, compiled three times round robin from 8 threads (162
compiles, each job in flight beside 7 others), must give byte for byte what
the same compiles give one after another, starting from cold caches so that
the first calls race to build them. A garbage collection hands the processor
to another thread while the collector runs (a `gc.callbacks` hook), so thread
switches also land inside C code that would otherwise run without one, such as
CPython 3.11's AST constructor (see `render.parse_python`).
"""

from __future__ import annotations

import gc
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nndsl
from nndsl import syntax
from nndsl.codegen import BACKENDS, generate, render

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 3  # each job compiled this many times, on different threads
THREADS = 8


def trains(path: Path) -> bool:
    program = nndsl.load(path)
    return program.data is not None and program.loss is not None and program.train is not None


SPECS = [path for path in sorted((ROOT / "specs").glob("*.nn")) if trains(path)]
JOBS = [(spec, backend) for spec in SPECS for backend in BACKENDS]


def compile_spec(job: tuple[Path, str]) -> str:
    """What `nndsl compile` does, without the file: read, parse, check, generate."""
    spec, backend = job
    return generate(nndsl.load(spec), backend=backend, data_dir="data")


def forget_caches() -> None:
    with syntax._parser_lock:
        syntax._parser = None
    with render._env_lock:
        render._env = None
    render.snippet.cache_clear()


def test_threads_compile_byte_identical_to_serial():
    assert len(SPECS) >= 5
    serial = {job: compile_spec(job) for job in JOBS}
    assert {job: compile_spec(job) for job in JOBS} == serial  # deterministic when serial

    work = JOBS * ROUNDS
    forget_caches()
    start = threading.Barrier(THREADS)

    def first_waits(job):
        if threading.current_thread().name not in started:
            started.add(threading.current_thread().name)
            start.wait(timeout=60)  # every worker's first compile starts at once, on cold caches
        return job, compile_spec(job)

    def switch_threads(phase, info):
        time.sleep(0)  # let another thread run, in the middle of whatever allocated

    started: set[str] = set()
    gc.callbacks.append(switch_threads)
    try:
        with ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(first_waits, work))
    finally:
        gc.callbacks.remove(switch_threads)
    assert len(results) == len(JOBS) * ROUNDS
    mismatched = [job for job, text in results if text != serial[job]]
    assert not mismatched, f"{len(mismatched)} threaded compiles differ, e.g. {mismatched[0]}"
