"""Fixes for the dependency versions in setup.cfg's ranges, in one place.

- :func:`quiet_pkg_resources`: asteroid 0.7 caps torchmetrics at 0.11.4,
  whose import of ``pkg_resources`` warns (``pkg_resources is deprecated``)
  with setuptools 67 to 80, so every import of Lightning printed the warning
  into command lines' one-line errors. Run on ``import bssmask``; standard
  library only.
- :func:`int_dccrn_rnn_size`: asteroid 0.7's ``DCCRMaskNet`` gives its RNN
  ``input_size=np.prod(...)``, a NumPy integer, which torch 2.14's RNNs
  refuse (``input_size should be of type int, got: int64``), so no
  ``DCCRNet`` could be built. Run by :mod:`bssmask.models` (which imports
  Asteroid's models); a no-op where the size is already an ``int``.

Example:
    >>> import bssmask.models                          # applies int_dccrn_rnn_size
    >>> from asteroid.models import DCCRNet
    >>> rnn = DCCRNet("DCCRN-CL", n_src=2, sample_rate=8000).masker.encoders[-1].rnn.rnns[0].re_module.rnn
    >>> rnn.input_size, type(rnn.input_size).__name__
    (512, 'int')
"""

from __future__ import annotations

import functools
import warnings

__all__ = ["quiet_pkg_resources", "int_dccrn_rnn_size"]


def quiet_pkg_resources() -> None:
    """Ignore setuptools' ``pkg_resources is deprecated`` warning (raised by torchmetrics 0.11's import)."""
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)


def int_dccrn_rnn_size() -> None:
    """Make ``asteroid.masknn.recurrent.DCCRMaskNetRNN`` pass its ``in_size`` to torch as an ``int``."""
    from asteroid.masknn import recurrent

    init = recurrent.DCCRMaskNetRNN.__init__
    if getattr(init, "int_in_size", False):
        return

    @functools.wraps(init)
    def int_in_size(self, in_size, *args, **kwargs):
        init(self, int(in_size), *args, **kwargs)

    int_in_size.int_in_size = True
    recurrent.DCCRMaskNetRNN.__init__ = int_in_size
