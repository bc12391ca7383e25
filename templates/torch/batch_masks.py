class BatchMasks:
    """The dropout layers' generator for a Trainer: the spec's dropout stream, drawing each mask
    for the whole batch and handing out this rank's rows of it (`batch`, set for each step).

    Under torchrun each rank sees only its share of a batch; drawing the whole batch's mask, as
    one process draws it, gives every rank the one-process masks and keeps every rank's stream
    in the same state, the state a checkpoint saves. In one process, the whole batch is its share.
    """

    def __init__(self, rng):
        self.rng = rng
        self.batch = None  # (the rows of the whole batch, this rank's slice of them); None: x is the batch

    def random(self, shape, dtype):
        rows, mine = self.batch or (shape[0], slice(None))
        return self.rng.random((rows, *shape[1:]), dtype=dtype)[mine]
