import datetime
import os
import sys
import warnings

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

PROCESS_TIMEOUT = datetime.timedelta(minutes=5)  # a rank waiting longer for the others ends the run


class Processes:
    """The processes that train together: this one alone (`python model.py`), or the WORLD_SIZE
    processes `torchrun` started, this one being rank RANK (LOCAL_RANK on its machine).

    Every rank draws the same shuffled order and trains on its own contiguous share of each
    batch; DistributedDataParallel adds up the gradients, so all ranks take the same steps as one
    process would. Rank 0 alone prints and writes files. With one process, every method here
    does nothing, and torch.distributed is never started.
    """

    def __init__(self, world=1, rank=0, local_rank=0):
        self.world, self.rank, self.local_rank = world, rank, local_rank

    @classmethod
    def from_environment(cls):
        """The ranks torchrun describes in WORLD_SIZE, RANK and LOCAL_RANK; one process without them."""
        values = [os.environ.get(name, default).strip() for name, default in
                  (("WORLD_SIZE", "1"), ("RANK", "0"), ("LOCAL_RANK", "0"))]
        if not all(value.isdigit() for value in values) or int(values[1]) >= int(values[0]):
            raise DeviceError(f"WORLD_SIZE, RANK and LOCAL_RANK are {', '.join(values)}: not torchrun's "
                              "(a count and two ranks below it)")
        return cls(*map(int, values))

    @property
    def main(self):
        """Rank 0: the one that prints and writes."""
        return self.rank == 0

    def start(self, device):
        """Join the other ranks (gloo on the CPU, nccl on CUDA GPUs, one GPU per rank: LOCAL_RANK's);
        returns this rank's device. torchrun's MASTER_ADDR and MASTER_PORT say where to meet."""
        if self.world == 1:
            return device
        if device.type not in ("cpu", "cuda"):
            raise DeviceError(f"data-parallel training runs on CPUs and CUDA GPUs, not on {device.type}; "
                              "run this program in one process")
        if device.type == "cuda":
            if self.local_rank >= torch.cuda.device_count():
                raise DeviceError(f"rank {self.rank} would train on GPU {self.local_rank} (LOCAL_RANK), but this machine "
                                  f"shows {torch.cuda.device_count()}: start at most one process per GPU, "
                                  "or compile with -t cpu")
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=PROCESS_TIMEOUT)
        return device

    def stop(self):
        """Leave the other ranks (the group stays usable until every rank has left)."""
        if dist.is_initialized():
            dist.destroy_process_group()

    def parallel(self, module):
        """What a training step runs: `module` in DistributedDataParallel, whose backward pass
        averages the ranks' gradients; `module` itself in one process."""
        if self.world == 1 or not any(param.requires_grad for param in module.parameters()):
            return module  # (with every layer frozen there are no gradients to average)
        # A conv with one input channel gets its gradient with another (meaningless) stride for that
        # size-1 axis than DDP's bucket has; DDP copies it, and says so at every step.
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        device_ids = [self.local_rank] if next(module.parameters()).is_cuda else None
        return DistributedDataParallel(module, device_ids=device_ids)

    def rows(self, n):
        """This rank's share of a batch of n rows: a contiguous slice, the shares as even as can be."""
        return slice(n * self.rank // self.world, n * (self.rank + 1) // self.world)

    def lost(self, error):
        """Whether `error` says that another rank is gone or cannot be reached: torch.distributed's
        own errors, and gloo's and NCCL's, which DDP's backward pass raises as RuntimeError."""
        text = str(error)
        return self.world > 1 and (isinstance(error, dist.DistError) or "gloo" in text or "NCCL" in text)

    def total(self, tensor):
        """The tensor summed over the ranks (in place); the tensor itself in one process."""
        if self.world > 1:
            dist.all_reduce(tensor)
        return tensor


def leave(status):
    """End this process with `status`. One of several ranks (torchrun's WORLD_SIZE) ends at once,
    without Python's shutdown: a gloo thread may still be letting go of the last all-reduce's
    tensors, and a thread that takes the interpreter's lock while Python shuts down aborts the
    process ("terminate called without an active exception"). Its files are written and closed."""
    if os.environ.get("WORLD_SIZE", "1").strip() != "1":
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)
