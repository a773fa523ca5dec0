"""Options declared once, as dataclass fields that carry their meaning, importable without torch.

An options class (:class:`~bssmask.ablation_options.AblationConfig`,
:class:`~bssmask.separate_options.SeparateOptions`,
:class:`~bssmask.data.corpus_options.CorpusConfig`,
:class:`~bssmask.model_options.ModelOptions`) declares each option as a field
made by :func:`option`: its name, type and default are the field's, its
meaning is plain text in the field's metadata, one line without a final
period. :func:`meanings` reads them back for the command lines' help and the
recipe config's schema (:mod:`bssmask.recipe_config`); nothing is parsed out of
docstrings.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Grid:
    ...     factor: int = option(2, "frequency downsampling factor")
    ...     n_fft: int = option(1022, "STFT size")
    >>> meanings(Grid)
    {'factor': 'frequency downsampling factor', 'n_fft': 'STFT size'}
    >>> Grid().factor
    2
"""

from __future__ import annotations

from dataclasses import MISSING, Field, field, fields

#: Key of a field's meaning in its ``metadata``.
HELP = "help"


def option(default=MISSING, help: str = "") -> Field:
    """A dataclass field with ``default`` (none: a required field) and its meaning ``help``."""
    return field(default=default, metadata={HELP: help})


def meanings(options: type) -> dict[str, str]:
    """``{name: meaning}`` of every field of the dataclass ``options``, in field order.

    Raises:
        ValueError: a field made without :func:`option` (it has no meaning).
    """
    found = {each.name: each.metadata.get(HELP) for each in fields(options)}
    bare = [name for name, meaning in found.items() if not meaning]
    if bare:
        raise ValueError(f"{options.__name__}: no meaning given for {', '.join(bare)}")
    return found
