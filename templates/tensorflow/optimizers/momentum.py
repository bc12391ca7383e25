import keras
from keras import ops


class Momentum(keras.optimizers.Optimizer):
    """SGD with momentum as torch.optim.SGD and the NumPy program make it: v ← momentum·v + g,
    θ ← θ − lr·v (Nesterov: θ ← θ − lr·(g + momentum·v)).

    keras.optimizers.SGD keeps lr inside its velocity (v ← momentum·v − lr·g, θ ← θ + v): the
    same steps while lr stays put, other ones once a schedule or the plateau changes it, as the
    velocity then carries the earlier rates. So this update is written out.
    """

    def __init__(self, learning_rate, momentum, nesterov, name="momentum", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum, self.nesterov = momentum, nesterov

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.velocity = self.add_optimizer_variables(variables, "velocity")

    def update_step(self, gradient, variable, learning_rate):
        v = self.velocity[self._get_variable_index(variable)]  # how Keras' own optimizers find a slot
        self.assign(v, self.momentum * v + gradient)
        lr = ops.cast(learning_rate, variable.dtype)
        step = gradient + self.momentum * v if self.nesterov else v
        self.assign_sub(variable, lr * step)

    def get_config(self):
        return super().get_config() | {"momentum": self.momentum, "nesterov": self.nesterov}
