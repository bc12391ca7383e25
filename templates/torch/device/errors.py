class DeviceError(RuntimeError):
    """The device this program was compiled for (see TARGET) is not available here."""
