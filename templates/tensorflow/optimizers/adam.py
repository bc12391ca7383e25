import keras
from keras import ops


class Adam(keras.optimizers.Optimizer):
    """Adam as Kingma & Ba's Algorithm 1 writes it: m and v are running means of g and g²,
    bias-corrected to m̂ and v̂, and θ ← θ − lr·m̂ / (√v̂ + eps).

    keras.optimizers.Adam adds eps to √v before the bias correction, which amounts to
    eps·√(1 − beta2ᵗ) in Algorithm 1's terms: a different update, most of all in the first
    steps. The NumPy and PyTorch programs follow Algorithm 1, so the update is written out.
    """

    def __init__(self, learning_rate, beta1, beta2, epsilon, name="adam", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.m = self.add_optimizer_variables(variables, "m")
        self.v = self.add_optimizer_variables(variables, "v")

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)  # Keras' own optimizers find their slots this way
        m, v = self.m[index], self.v[index]
        t = ops.cast(self.iterations + 1, variable.dtype)
        self.assign(m, self.beta1 * m + (1 - self.beta1) * gradient)
        self.assign(v, self.beta2 * v + (1 - self.beta2) * ops.square(gradient))
        step_size = ops.cast(learning_rate, variable.dtype) / (1 - ops.power(self.beta1, t))
        denominator = ops.sqrt(v) / ops.sqrt(1 - ops.power(self.beta2, t)) + self.epsilon  # √v̂ + eps
        self.assign_sub(variable, step_size * m / denominator)

    def get_config(self):
        return super().get_config() | {"beta1": self.beta1, "beta2": self.beta2, "epsilon": self.epsilon}
