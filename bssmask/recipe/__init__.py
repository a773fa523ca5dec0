"""Recipe glue: the code that reads recipe configs (:mod:`bssmask.config`) and wires library parts.

- :mod:`bssmask.recipe.build`: model, loss, loaders, optimizer, system and
  the one Trainer factory of a config;
- :mod:`bssmask.recipe.training`: training a separator or a peer of the report;
- :mod:`bssmask.recipe.checkpoints`: the resume check and the best-model
  export of training and fine-tuning;
- :mod:`bssmask.recipe.evaluate`: scoring a model on a config's test sets,
  the summaries;
- :mod:`bssmask.recipe.finetune`: swapping the head of a pretrained
  separator and fine-tuning it;
- :mod:`bssmask.recipe.report`: the trained report of heads and peers;
- :mod:`bssmask.recipe.runner`: the report's runs (training and scoring
  jobs, each a process of its own), several at a time, each skipped when
  done for the same config.

The recipes' scripts (``recipes/common/``) parse their options and call these.
"""
