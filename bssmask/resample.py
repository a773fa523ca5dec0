"""Deprecated name of :mod:`bssmask.freq_resample` (frequency down/upsampling of spectra and masks).

Importing it warns once (``DeprecationWarning``); import :mod:`bssmask.freq_resample` instead.
"""

import warnings

from .freq_resample import DOWN_METHODS, SPACES, UP_METHODS, check_factor, downsample, upsample, upsample_each

__all__ = ["UP_METHODS", "DOWN_METHODS", "SPACES", "check_factor", "downsample", "upsample", "upsample_each"]

warnings.warn("bssmask.resample is deprecated: import bssmask.freq_resample", DeprecationWarning, stacklevel=2)
