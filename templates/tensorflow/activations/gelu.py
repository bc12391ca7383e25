import keras


@keras.saving.register_keras_serializable(package="nndsl")
def gelu_tanh(x):
    """GELU in its tanh approximation, ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as the NumPy and PyTorch programs compute it.
    Keras' "gelu" string is the exact erf form."""
    return keras.activations.gelu(x, approximate=True)
