"""Fine-tuning with the ``Trainer``: the recipe, callbacks, the teacher job, the learning-rate finder."""
