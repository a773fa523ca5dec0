"""The option names of the core modules, importable without torch.

The command line lists them in its help and checks them before any heavy
import; :mod:`bssmask.freq_resample`, :mod:`bssmask.stft` and
:mod:`bssmask.metrics` use and re-export them.

Example:
    >>> DOWN_METHODS
    ('keep', 'nearest', 'bilinear', 'bicubic')
"""

#: Frequency upsampling methods (:func:`bssmask.freq_resample.upsample`).
UP_METHODS = ("nearest", "bilinear", "bicubic")
#: Frequency downsampling methods: every k-th bin, or an interpolation (:func:`bssmask.freq_resample.downsample`).
DOWN_METHODS = ("keep",) + UP_METHODS
#: Spaces in which complex values are interpolated.
SPACES = ("cartesian", "polar", "phasor")
#: Analysis (and synthesis) windows of :func:`bssmask.stft.make_stft`.
WINDOWS = ("hann", "sqrt-hann")
#: Separation metrics of :func:`bssmask.metrics.separation_metrics`.
METRICS = ("sdr", "si_sdr", "sir", "sar", "l1")


def choose(what: str, value, allowed):
    """``value`` if it is one of ``allowed``; else raise the one ``ValueError`` of an unknown option.

    Every option check of bssmask goes through here (or :func:`choose_each`),
    so every such error reads ``unknown <what> <value>; choose from <allowed>``.

    Example:
        >>> choose("window", "hann", WINDOWS)
        'hann'
        >>> choose("window", "hamming", WINDOWS)
        Traceback (most recent call last):
        ...
        ValueError: unknown window 'hamming'; choose from hann, sqrt-hann
    """
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; choose from {', '.join(allowed)}")
    return value


def choose_each(what: str, values, allowed) -> tuple:
    """``values`` as a tuple if it is not empty and each is one of ``allowed``; else raise as :func:`choose`.

    Example:
        >>> choose_each("metric", ["sdr", "l1"], METRICS)
        ('sdr', 'l1')
        >>> choose_each("metric", [], METRICS)
        Traceback (most recent call last):
        ...
        ValueError: no metric given; choose from sdr, si_sdr, sir, sar, l1
    """
    if not values:
        raise ValueError(f"no {what} given; choose from {', '.join(allowed)}")
    return tuple(choose(what, value, allowed) for value in values)
