"""The option names of the core modules, importable without torch.

The command line lists them in its help and checks them before any heavy
import; :mod:`bssmask.resample`, :mod:`bssmask.stft` and
:mod:`bssmask.metrics` use and re-export them.

Example:
    >>> DOWN_METHODS
    ('keep', 'nearest', 'bilinear', 'bicubic')
"""

#: Frequency upsampling methods (:func:`bssmask.resample.upsample`).
UP_METHODS = ("nearest", "bilinear", "bicubic")
#: Frequency downsampling methods: every k-th bin, or an interpolation (:func:`bssmask.resample.downsample`).
DOWN_METHODS = ("keep",) + UP_METHODS
#: Spaces in which complex values are interpolated.
SPACES = ("cartesian", "polar", "phasor")
#: Analysis (and synthesis) windows of :func:`bssmask.stft.make_stft`.
WINDOWS = ("hann", "sqrt-hann")
#: Separation metrics of :func:`bssmask.metrics.separation_metrics`.
METRICS = ("sdr", "si_sdr", "sir", "sar", "l1")
