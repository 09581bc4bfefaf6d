"""The training loop for ``fakeface train --strategy multiworker``: several machines, one model.

Keras 3's ``Model.fit`` does not run under ``tf.distribute.MultiWorkerMirroredStrategy``: it
averages the first batch over the replicas to build the model (keras-team/keras issue 20585,
"PerReplica ... to a Tensor"), then averages every step's scalar logs along an axis they do not
have ("Invalid reduction dimension 0").  So the workers step through the epochs here: each
step is the model's own ``train_step`` (its loss, gradients and optimizer, whose update sums the
gradients of every replica on every worker), run by the strategy on each worker's share of the
batch, and its logs are averaged over the workers.  The same callbacks as ``fit``'s run after
every batch and epoch: checkpoints for --resume, the progress line, the interrupt check.

Validation is not run between epochs (Keras' evaluate has the same reduction problem); every
worker scores the validation and test splits itself after training, as a one-machine run does.
"""

from __future__ import annotations


def fit_multiworker(keras, strategy, trainee, train_ds, epochs: int, initial_epoch: int, steps: int,
                    callbacks: list) -> None:
    import tensorflow as tf

    dist = strategy.experimental_distribute_dataset(train_ds)

    @tf.function
    def step(batch):
        logs = strategy.run(trainee.train_step, args=(batch,))
        return {k: strategy.reduce("MEAN", v, axis=None) for k, v in logs.items()}

    hooks = keras.callbacks.CallbackList(callbacks, model=trainee, add_history=False, add_progbar=False)
    hooks.on_train_begin()
    batches = iter(dist)
    for epoch in range(initial_epoch, epochs):
        trainee.reset_metrics()
        hooks.on_epoch_begin(epoch)
        logs = {}
        for i in range(steps):
            batch = next(batches, None)
            if batch is None:  # one pass over the data ended: the next epoch's shuffle begins
                batches = iter(dist)
                batch = next(batches)
            hooks.on_train_batch_begin(i)
            logs = {k: float(v) for k, v in step(batch).items()}
            hooks.on_train_batch_end(i, logs)
        hooks.on_epoch_end(epoch, logs)
        if trainee.stop_training:
            break
    hooks.on_train_end(logs)
