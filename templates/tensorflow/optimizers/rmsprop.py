import keras
from keras import ops


class RMSprop(keras.optimizers.Optimizer):
    """RMSprop: s ← rho·s + (1 − rho)·g², θ ← θ − lr·g / (√s + eps).

    keras.optimizers.RMSprop divides by √(s + eps) instead, a different update while s is
    small, so this update, the one the NumPy and PyTorch programs make, is written out.
    """

    def __init__(self, learning_rate, rho, epsilon, name="rmsprop", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho, self.epsilon = rho, epsilon

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.square_avg = self.add_optimizer_variables(variables, "square_avg")

    def update_step(self, gradient, variable, learning_rate):
        s = self.square_avg[self._get_variable_index(variable)]  # how Keras' own optimizers find a slot
        self.assign(s, self.rho * s + (1 - self.rho) * ops.square(gradient))
        lr = ops.cast(learning_rate, variable.dtype)
        self.assign_sub(variable, lr * gradient / (ops.sqrt(s) + self.epsilon))

    def get_config(self):
        return super().get_config() | {"rho": self.rho, "epsilon": self.epsilon}
