"""Training and scoring with PyTorch Lightning: the LightningModule, its callbacks, per-mixture scores.

- :mod:`bssmask.engine.system`: :class:`~bssmask.engine.system.SeparationSystem`;
- :mod:`bssmask.engine.callbacks`: seeding each epoch, gathering scores
  across processes, freezing parts of a separator;
- :mod:`bssmask.engine.scoring`: the metrics of one separated mixture.

Nothing here reads a recipe config; :mod:`bssmask.experiment` builds these
objects from one.
"""
