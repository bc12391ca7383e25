import os


class DeviceError(RuntimeError):
    """The device this program was compiled for (see TARGET) is not available here."""


def refuse_several_processes():
    """One process trains. Under `torchrun --nproc-per-node N` (WORLD_SIZE > 1) each process
    would train its own copy of the model into the same --out, one deleting the other's
    checkpoint: until data-parallel training lands, refuse at once."""
    world = os.environ.get("WORLD_SIZE", "1").strip()
    if world.isdigit() and int(world) > 1:
        raise DeviceError(
            f"WORLD_SIZE is {world}: this program trains in one process, and under torchrun each of the "
            f"{world} processes would train its own copy into the same --out; data-parallel training is "
            "not in nndsl yet, so run it once, as 'python model.py'"
        )
