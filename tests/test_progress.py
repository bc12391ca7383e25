"""What a run prints while it trains (templates/common/progress.py), in `nndsl train` and in the
generated programs: the live bar on a terminal, the thinned epoch lines elsewhere, every line with
--verbose. The terminal runs go through a real pseudo-terminal, as a user's shell gives them."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import nndsl
from nndsl.codegen import generate
from nndsl.train import _LINES as progress

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "checkerboard.nn"
LINE = re.compile(r"^epoch (\d+)/(\d+) - ", re.MULTILINE)  # an epoch's line, not the bar


def shown_epochs(start, last, seconds_per_epoch):
    """The epochs whose lines the thinned report prints when each epoch takes `seconds_per_epoch`."""
    step = progress.line_step(last - start)
    clock = printed = 0.0
    shown = []
    for epoch in range(start + 1, last + 1):
        clock += seconds_per_epoch
        if progress.prints_line(epoch, start + 1, last, step, clock - printed):
            shown.append(epoch)
            printed = clock
    return shown


def test_the_thinned_lines_are_the_first_the_last_and_about_ten_between():
    assert [progress.line_step(n) for n in (1, 10, 11, 20, 21, 50, 51, 100, 200, 1000, 10**6)] == [
        1, 1, 2, 2, 5, 5, 10, 10, 20, 100, 100_000]
    assert shown_epochs(0, 200, 0.001) == [1, *range(20, 201, 20)]
    assert shown_epochs(0, 7, 0.001) == [1, 2, 3, 4, 5, 6, 7]
    assert shown_epochs(0, 25, 0.001) == [1, 5, 10, 15, 20, 25]
    assert shown_epochs(150, 200, 0.001) == [151, *range(155, 201, 5)]  # resumed: its own first epoch
    assert shown_epochs(0, 30, 12.0) == list(range(1, 31))  # slow epochs: every one (10 s or more apart)
    shown = shown_epochs(0, 100, 4.0)  # a line at least every 12 s, and every 10th epoch
    assert shown[:5] == [1, 4, 7, 10, 13] and set(range(10, 101, 10)) <= set(shown)
    assert all(later - earlier <= 3 for earlier, later in zip(shown, shown[1:], strict=False))


def lines_of(report_epochs, last=200, verbose=False, stop=None):
    """What an EpochReport prints on a log (not a terminal) for fast epochs 1 .. stop (default: last)."""
    log = io.StringIO()
    report = progress.EpochReport(0, last, stream=log, verbose=verbose)
    for epoch in range(1, (stop or last) + 1):
        report.on_epoch(epoch, {"loss": 1 / epoch, "lr": 0.1})
    report.close()
    return [int(first) for first, _ in LINE.findall(log.getvalue())], log.getvalue()


def test_an_epoch_report_on_a_log_thins_its_lines_and_ends_with_the_last_epoch_trained():
    epochs, text = lines_of(200)
    assert epochs == [1, *range(20, 201, 20)] and "\r" not in text
    assert text.splitlines()[0].startswith("epoch 1/200 - ") and text.endswith(" - loss: 0.0050 - lr: 0.1\n")
    assert lines_of(200, stop=37)[0] == [1, 20, 37]  # stopped early (or failed): its last epoch still shows
    assert lines_of(200, verbose=True)[0] == list(range(1, 201))


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_an_epoch_report_on_a_terminal_draws_one_bar_with_the_latest_metrics():
    terminal = FakeTerminal()
    report = progress.EpochReport(3, 10, stream=terminal)  # resumed at epoch 3
    for epoch in range(4, 11):
        report.on_epoch(epoch, {"loss": 1 / epoch, "lr": 0.01})
    report.close()
    text = terminal.getvalue()
    assert "\repoch 3/10 |" in text and "\repoch 10/10 |" in text  # redrawn in place
    assert "epoch/s, loss: 0.1000 - lr: 0.01\n" in text and not LINE.search(text)
    verbose = FakeTerminal()
    report = progress.EpochReport(0, 3, stream=verbose, verbose=True)
    for epoch in (1, 2, 3):
        report.on_epoch(epoch, {"loss": 0.5})
    report.close()
    assert [int(epoch) for epoch, _ in LINE.findall(verbose.getvalue().replace("\r", "\n"))] == [1, 2, 3]


def on_a_terminal(command, cwd, stdout_too=False):
    """Run `command` with its stderr (and with stdout_too its stdout) on a pseudo-terminal: its exit
    status, what the terminal showed, and the piped stdout."""
    controller, terminal = os.openpty()
    chunks = []

    def read_all():  # while the child writes: a full terminal buffer would block it
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read_all)
    reader.start()
    try:
        result = subprocess.run(command, stdout=terminal if stdout_too else subprocess.PIPE, stderr=terminal,
                                text=True, cwd=cwd)
    finally:
        os.close(terminal)
        reader.join(timeout=60)
        os.close(controller)
    shown = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")  # the terminal turns \n into \r\n
    assert "Traceback" not in shown, shown
    return result.returncode, shown, result.stdout or ""


@pytest.mark.parametrize("verbose", [False, True])
def test_nndsl_train_on_a_terminal_shows_one_live_bar_and_with_verbose_every_line(verbose, tmp_path):
    status, shown, stdout = on_a_terminal(
        [sys.executable, "-m", "nndsl", "train", str(SPEC), "--epochs", "200", "--out", str(tmp_path / "run"),
         "--no-plots", *(["--verbose"] if verbose else [])], cwd=tmp_path)
    assert status == 0, shown
    assert "\repoch 0/200 |" in shown and "\repoch 200/200 |" in shown  # the bar, redrawn in place
    assert re.search(r"\| 00:\d\d<00:00, +[\d.]+epoch/s, loss: \d\.\d{4} - accuracy: ", shown)  # rate, time left, metrics
    lines = [int(epoch) for epoch, _ in LINE.findall(shown.replace("\r", "\n"))]
    assert lines == (list(range(1, 201)) if verbose else [])
    assert shown.count("\n") < 5 + (200 if verbose else 0)
    assert stdout.startswith("validation: loss: ")


def test_a_generated_program_draws_the_bar_and_without_tqdm_prints_the_thinned_lines(tmp_path):
    (tmp_path / "model.py").write_text(generate(nndsl.load(str(SPEC))), encoding="utf-8")
    run = ["--epochs", "200", "--out", str(tmp_path / "run")]
    status, shown, _ = on_a_terminal([sys.executable, "model.py", *run], cwd=tmp_path, stdout_too=True)
    assert status == 0, shown
    assert "\repoch 200/200 |" in shown and not LINE.search(shown.replace("\r", "\n"))
    without = f"import runpy, sys; sys.modules['tqdm'] = None; sys.argv = ['model.py', *{run!r}]; " \
              "runpy.run_path('model.py', run_name='__main__')"
    status, shown, _ = on_a_terminal([sys.executable, "-c", without], cwd=tmp_path, stdout_too=True)
    assert status == 0, shown
    lines = [int(epoch) for epoch, _ in LINE.findall(shown)]
    assert "\r" not in shown.replace("\n", "") and lines[0] == 1 and lines[-1] == 200
    assert set(range(20, 201, 20)) <= set(lines) and len(lines) < 20  # a line 10 s after another may join them
