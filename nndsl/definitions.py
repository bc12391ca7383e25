"""What each word of the language means, in a line or two: the language server's hovers and
completions read them here, and the docs can. In the lecture's words where it has them
(lecture-building-blocks: the activations, the Glorot/He initialisation, the losses, gradient
descent); tests/test_lsp.py checks that every name in nndsl/catalog.py has one.

Also the arguments each statement and call takes by keyword, for completion (the checker
decides; tests/test_lsp.py checks that it accepts each one listed here).
"""

from __future__ import annotations

ACTIVATIONS = {
    "linear": "No activation: y = W·x + b. The lecture's last activation for regression.",
    "sigmoid": "Logistic function σ(x) = 1 / (1 + e^−x), a probability q ∈ [0, 1]: the last activation "
               "for two classes.",
    "relu": "Rectified Linear Unit σ(x) = max(0, x); initialised with He (σ² = 2/n_in).",
    "tanh": "Hyperbolic tangent σ(x) = (e^2x − 1) / (e^2x + 1), in (−1, 1); initialised with Glorot.",
    "softmax": "exp(z_j) / Σ_k exp(z_k) over a row: probabilities of c classes that sum to 1, the last "
               "activation for several classes.",
    "leaky_relu": "max(αx, x), ReLU with a small slope α below zero (leaky_relu(α), default 0.01).",
    "elu": "x for x > 0, α·(e^x − 1) below (elu(α), default 1): a smooth ReLU.",
    "gelu": "x·Φ(x) in its tanh approximation ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as GPT and BERT use it.",
    "softplus": "log(1 + e^x), a smooth ReLU.",
}

LOSSES = {
    "mse": "Mean squared error L = 1/n Σ (y_true − y_pred)²: the lecture's loss for regression "
           "(last activation linear).",
    "mae": "Mean absolute error L = 1/n Σ |y_true − y_pred|: regression, less swayed by outliers than mse.",
    "binary_crossentropy": "Cross-entropy of two classes, L = −1/n Σ [p·log q + (1 − p)·log(1 − q)], after a "
                           "sigmoid output (fused with it, for stability); labels 0/1.",
    "categorical_crossentropy": "Cross-entropy with c classes, L = −1/n Σ_i Σ_j p_ij·log(q_ij), after a softmax "
                                "output (fused with it); integer class labels.",
}

INITIALIZERS = {
    "glorot_normal": "Gaussian weights with σ² = 2/(n_in + n_out), the lecture's choice for sigmoid and tanh.",
    "he_normal": "Gaussian weights with σ² = 2/n_in, the lecture's choice for ReLU.",
    "glorot_uniform": "Uniform weights in ±√(6/(n_in + n_out)): Glorot's variance from a uniform draw.",
    "he_uniform": "Uniform weights in ±√(6/n_in): He's variance from a uniform draw.",
    "zeros": "Every value 0 (the default for biases).",
    "ones": "Every value 1.",
    "constant": "Every value v: constant(v).",
    "normal": "Gaussian values with standard deviation std: normal(std).",
}

OPTIMIZERS = {
    "sgd": "(Stochastic) gradient descent θ → θ − α·dL/dθ, α the learning rate lr; momentum keeps a velocity, "
           "nesterov looks ahead along it.",
    "adam": "Adam: gradient descent with running means of the gradient (beta1) and of its square (beta2), "
            "each step scaled by 1/(√v + eps).",
    "rmsprop": "RMSprop: each step divided by the root of a running mean (rho) of the squared gradient.",
}

OPTIMIZER_ARGUMENTS = {
    "lr": "the learning rate α, the step size scale",
    "momentum": "the velocity's decay, 0 for plain gradient descent",
    "nesterov": "true: the gradient is taken ahead, along the velocity",
    "beta1": "decay of the running mean of gradients",
    "beta2": "decay of the running mean of squared gradients",
    "rho": "decay of the running mean of squared gradients",
    "eps": "added to the denominator, against division by zero",
}

METRICS = {
    "accuracy": "The fraction of samples whose predicted class is the label.",
    "mse": "Mean squared error of the predictions.",
    "mae": "Mean absolute error of the predictions.",
    "precision": "Of the samples predicted in a class, the fraction truly in it: for one sigmoid output, of "
                 "class 1 (p > ½); for a softmax, the mean over the classes. Counted over the whole epoch.",
    "recall": "Of the samples truly in a class, the fraction predicted in it: for one sigmoid output, of "
              "class 1 (p > ½); for a softmax, the mean over the classes. Counted over the whole epoch.",
    "top_k_accuracy": "top_k_accuracy(k=5): the fraction of samples whose true class is among the k highest "
                      "scores (fewer than k classes score strictly higher); history key top_5_accuracy.",
}

REGULARIZERS = {
    "l1": "l1(rate) adds rate·Σ|W| to the loss (never the biases): many weights become zero.",
    "l2": "l2(rate) adds rate·ΣW² to the loss (never the biases): weight decay.",
}

DATA_SOURCES = {
    "xor": "The TensorFlow Playground's XOR (checkerboard) set: points in four quadrants, two classes.",
    "checkerboard": "The lecture's name for xor: the TensorFlow Playground's checkerboard, two classes.",
    "circle": "The Playground's circle: a disc of one class inside a ring of the other.",
    "gauss": "The Playground's two Gaussian blobs, one per class.",
    "spiral": "The Playground's spiral: two (or classes=N) interleaved arms, one class each.",
    "plane": "The Playground's regression plane: y a linear function of x1, x2.",
    "multigauss": "The Playground's regression of several Gaussians.",
    "csv": 'A CSV file: csv("file.csv", target=column), the other columns the features.',
    "npz": 'NumPy arrays x and y saved with np.savez: npz("file.npz"), rows or images.',
    "images": 'A folder with one subfolder of images per class: images("folder", size=HxW, color=grayscale|rgb).',
}

#: What the blocks are, for hovers on their keywords.
BLOCKS = {
    "data": "The data: a Playground set, a CSV or npz file or an image folder, its features, its split and "
            "its feature scaling (normalize standard|minmax).",
    "model": "The model: the input, then its layers in order.",
    "loss": "The objective, the fit between training data and prediction, that training minimises.",
    "train": "Training: the optimizer, batch size, epochs, metrics and seed.",
}

#: Keyword arguments of each statement (layers in the model block, and the train block's).
STATEMENT_KEYWORDS = {
    "dense": ("init", "bias", "weights", "trainable", "name"),
    "conv2d": ("kernel", "stride", "padding", "init", "bias", "weights", "trainable", "name"),
    "maxpool": ("stride", "padding", "name"),
    "avgpool": ("stride", "padding", "name"),
    "global_avgpool": ("name",),
    "global_maxpool": ("name",),
    "flatten": ("name",),
    "batchnorm": ("momentum", "eps", "name"),
    "activation": ("name",),
    "dropout": ("name",),
    "checkpoint": ("every",),
}

#: Options of each data source.
DATA_OPTIONS = {
    "xor": ("samples", "noise", "seed"),
    "checkerboard": ("samples", "noise", "seed"),
    "circle": ("samples", "noise", "seed"),
    "gauss": ("samples", "noise", "seed"),
    "spiral": ("samples", "noise", "classes", "seed"),
    "plane": ("samples", "noise", "seed"),
    "multigauss": ("samples", "noise", "seed"),
    "csv": ("target", "seed"),
    "npz": ("x", "y", "seed"),
    "images": ("size", "color", "seed"),
}


def definition(word: str) -> tuple[str, str] | None:
    """(what kind of word, its definition) for a word of the language, or None."""
    for kind, table in (("activation", ACTIVATIONS), ("loss", LOSSES), ("initializer", INITIALIZERS),
                        ("optimizer", OPTIMIZERS), ("regularizer", REGULARIZERS), ("data set", DATA_SOURCES),
                        ("metric", METRICS), ("block", BLOCKS)):
        if word in table:
            return kind, table[word]
    return None
