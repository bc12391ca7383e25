"""--tensorboard DIR: the run's history as TensorBoard event files, the same in every generated program and
in `nndsl train`. tensorboardX writes them (pure Python, the same writer whatever the framework); it is
imported only when --tensorboard is given."""

import os
import time


class TensorBoardError(Exception):
    """--tensorboard cannot be honoured: tensorboardX is not installed, or DIR cannot receive files."""


class TensorBoardLog:
    """fit()'s on_epoch writing each epoch's logs (the history's keys: loss, the metrics, their val_
    forms, lr) as TensorBoard scalars of those names at step = the epoch, counted from 1.

    The writer starts at the run's first epoch E, telling TensorBoard to hide what earlier runs wrote
    in `logdir` at step E or later (tensorboardX's purge_step; the files stay): a resumed run carries
    on from its checkpoint without the epochs that a run killed after it had logged, and a fresh run
    (E = 1) replaces the curves of the one before.
    """

    def __init__(self, logdir):
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise TensorBoardError("--tensorboard needs tensorboardX: pip install tensorboardX") from None
        if os.path.exists(logdir) and not os.path.isdir(logdir):
            raise TensorBoardError(f"--tensorboard {logdir} exists and is not a folder")
        self.logdir = logdir
        self.summary_writer = SummaryWriter
        self.writer = None  # created by the first epoch: a run that trains nothing writes nothing

    def on_epoch(self, epoch, logs):
        if self.writer is None:
            self.writer = self.open(purge_step=epoch)
        for key, value in logs.items():
            self.writer.add_scalar(key, value, global_step=epoch)

    def open(self, purge_step):
        # tensorboardX names its file by the second; TensorBoard reads a folder's files in name order,
        # so the nanoseconds after it keep the files of two runs in one second apart, and in order.
        suffix = f".{time.time_ns() % 10**9:09d}"
        try:
            return self.summary_writer(self.logdir, purge_step=purge_step, flush_secs=5, filename_suffix=suffix)
        except OSError as error:
            raise TensorBoardError(f"cannot write in --tensorboard {self.logdir}: {error.strerror or error}") from None

    def close(self):
        if self.writer is not None:
            self.writer.close()
