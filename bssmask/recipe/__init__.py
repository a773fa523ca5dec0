"""Recipe glue: the code that reads recipe configs (:mod:`bssmask.config`) and wires library parts.

- :mod:`bssmask.recipe.build`: model, loss, loaders, optimizer, system and
  the one Trainer factory of a config;
- :mod:`bssmask.recipe.checkpoints`: the resume check and the best-model
  export of training and fine-tuning;
- :mod:`bssmask.recipe.evaluate`: scoring a model on a config's test sets,
  the summaries;
- :mod:`bssmask.recipe.finetune`: swapping the head of a pretrained
  separator and fine-tuning it;
- :mod:`bssmask.recipe.runner`: the report's runs of the recipe's scripts,
  several at a time, each skipped when done for the same config.
"""
