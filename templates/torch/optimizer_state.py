import torch


def optimizer_arrays(optimizer, names):
    """The optimizer's state as NumPy arrays keyed `<parameter name>.<entry>` (e.g. `dense_1.W.exp_avg`);
    `names` are the parameter names in the order the optimizer holds them."""
    return {
        f"{names[index]}.{entry}": value.detach().cpu().numpy()
        for index, entries in optimizer.state_dict()["state"].items()
        for entry, value in entries.items()
    }


def load_optimizer_arrays(optimizer, names, arrays):
    """Restore what optimizer_arrays() saved; the hyper-parameters stay the spec's."""
    index = {name: i for i, name in enumerate(names)}
    state = {}
    for key, value in arrays.items():
        name, entry = key.rsplit(".", 1)
        state.setdefault(index[name], {})[entry] = torch.from_numpy(value)
    optimizer.load_state_dict({"state": state, "param_groups": optimizer.state_dict()["param_groups"]})


def optimizer_shapes(params, names, saved):
    """The shape of each state array (`<parameter name>.<entry>`) that a checkpoint of this optimizer holds,
    given the ones it `saved`: torch creates the state at the first step, so the saved entries
    (exp_avg, step, …) say which there are; each parameter in `names` has every one of them, a step
    count as a scalar, the rest in its parameter's shape. (Another backend's keys need not have
    this form; check_fits then names that backend.)"""
    entries = dict.fromkeys(key.rpartition(".")[2] for key in saved)
    return {
        f"{name}.{entry}": () if entry == "step" else tuple(params[name].shape)
        for name in names
        for entry in entries
    }
