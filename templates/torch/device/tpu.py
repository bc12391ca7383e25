def select_device():
    """A TPU through torch_xla (compiled with -t tpu); torch_xla is imported for this target only."""
    try:
        import torch_xla
    except ImportError as error:
        raise DeviceError(
            f"this program was compiled for a TPU (-t tpu), which needs the torch_xla package ({error}); "
            "install torch_xla on a TPU machine, or recompile with -t cpu or -t auto"
        ) from None
    return torch_xla.device()


def torch_xla_sync():
    """torch_xla records operations lazily: compile and run what one training step recorded."""
    import torch_xla

    torch_xla.sync()
