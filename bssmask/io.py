"""Deprecated name of :mod:`bssmask.model_files` (``save_model``, ``load_model``, ``check_compatible``).

Importing it warns once (``DeprecationWarning``); import :mod:`bssmask.model_files` instead.
"""

import warnings

from .model_files import check_compatible, load_model, save_model, save_package

__all__ = ["save_package", "save_model", "load_model", "check_compatible"]

warnings.warn("bssmask.io is deprecated: import bssmask.model_files", DeprecationWarning, stacklevel=2)
