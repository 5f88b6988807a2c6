"""debiasbench's experiment trackers: ``--track mlflow[:URI]``, ``--track wandb[:PROJECT]``, ``--track tensorboard[:DIR]``."""
