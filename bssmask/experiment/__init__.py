"""Recipe glue: the code that reads recipe configs (:mod:`bssmask.recipe_config`) and wires library parts.

- :mod:`bssmask.experiment.build`: model, loss, loaders, optimizer, system and
  the one Trainer factory of a config;
- :mod:`bssmask.experiment.training`: training a separator or a peer of the
  report, with the one resume check and the one best-model export that
  fine-tuning uses too;
- :mod:`bssmask.experiment.evaluate`: scoring a model on a config's test sets,
  the summaries;
- :mod:`bssmask.experiment.head_swap`: swapping the head of a pretrained
  separator and fine-tuning it;
- :mod:`bssmask.experiment.report`: the trained report of heads and peers;
- :mod:`bssmask.experiment.runner`: the report's runs (training and scoring
  jobs, each a process of its own), several at a time, each skipped when
  done for the same config.

The recipes' scripts (``recipes/common/``) parse their options and call these.
"""
