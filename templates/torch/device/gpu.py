import torch


def select_device():
    """A CUDA GPU (compiled with -t gpu): without one, fail at once rather than fall back to the CPU."""
    if not torch.cuda.is_available():
        reason = "this torch build has no CUDA support" if torch.version.cuda is None else "no CUDA GPU is visible"
        raise DeviceError(
            f"this program was compiled for a CUDA GPU (-t gpu), but {reason} (torch {torch.__version__}); "
            "run it on a machine with an NVIDIA GPU and a CUDA build of torch, or recompile with -t cpu or -t auto"
        )
    return torch.device("cuda")
