"""The options of the oracle mask ablation (:mod:`bssmask.ablation`), importable without torch.

The command line builds its parser and help from :class:`AblationConfig`'s
fields, defaults and meanings before importing anything heavy; :meth:`AblationConfig.validate`
imports the modules that check mask kinds and STFT sizes when it runs.

Example:
    >>> AblationConfig(masks=("ibm", "cirm:max=1"), metrics=("sdr", "si_sdr")).validate()
    >>> AblationConfig(window="hamming").validate()
    Traceback (most recent call last):
    ...
    ValueError: unknown window 'hamming'; choose from hann, sqrt-hann
"""

from __future__ import annotations

from dataclasses import dataclass

from .choices import DOWN_METHODS, METRICS, SPACES, UP_METHODS, WINDOWS, choose, choose_each
from .options import option

#: How the mixture is made: the sources' sum or mean, or a given file.
MIX_MODES = ("sum", "mean", "file")
#: What is upsampled after downsampling: the mask, or the masked spectrogram.
UPSAMPLED = ("mask", "spectrogram")


@dataclass(frozen=True)
class AblationConfig:
    """Every option of the ablation grid.

    The ``bssmask ablate`` flags are these fields (``--down-method`` for
    ``down_method``), with their meanings (:func:`bssmask.options.meanings`) as their help.
    """

    masks: tuple[str, ...] = option(
        ("ibm", "cirm", "cirm:max=1"),
        "mask kinds, each a name of bssmask.masks.KINDS with its options as kind:key=value (cirm:max=1, "
        "iam:max=2, psm:min=-1:max=1; bssmask.masks.get)")
    upsampled: tuple[str, ...] = option(UPSAMPLED, f"what is upsampled, any of {', '.join(UPSAMPLED)}")
    methods: tuple[str, ...] = option(UP_METHODS, f"upsampling methods, any of {', '.join(UP_METHODS)}")
    spaces: tuple[str, ...] = option(SPACES, f"spaces for complex values, any of {', '.join(SPACES)}")
    factor: int = option(2, "frequency downsampling factor; must divide n_fft // 2 + 1")
    down_method: str = option("keep", f"downsampling method, one of {', '.join(DOWN_METHODS)} (keep: every k-th "
                                      "bin; the others interpolate)")
    n_fft: int = option(1022, "STFT size (1022 gives 512 bins)")
    hop: int = option(256, "STFT hop")
    window: str = option("hann", "STFT window, hann (as torch.stft users and the source post) or sqrt-hann "
                                 "(Asteroid's default)")
    mix: str = option("sum", "how the mixture is made: sum of the sources, their mean (sum / n_src, which lowers "
                             "each source by 1 / n_src in the mixture), or a file given with the sources, as a "
                             "LibriMix CSV's mixture_path (mixtures that are not the sum of the sources, e.g. "
                             "with noise)")
    metrics: tuple[str, ...] = option(METRICS, f"the metrics scored, any of {', '.join(METRICS)}; without sir and "
                                               "sar BSS-Eval skips their projections and computes the SDR alone")
    device: str = option("cpu", "torch device for the STFT, the masks and the scores")

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad option."""
        from . import freq_resample, masks
        from .stft import make_stft

        for name in self.masks:
            masks.get(name)
        choose_each("upsampled", self.upsampled, UPSAMPLED)
        choose_each("methods", self.methods, UP_METHODS)
        choose_each("spaces", self.spaces, SPACES)
        choose("down-method", self.down_method, DOWN_METHODS)
        choose("mix", self.mix, MIX_MODES)
        choose("window", self.window, WINDOWS)
        choose_each("metrics", self.metrics, METRICS)
        if not self.masks:
            raise ValueError("masks: give at least one mask kind")
        make_stft(self.n_fft, self.hop)
        try:
            freq_resample.check_factor(self.n_fft // 2 + 1, self.factor)
        except ValueError as err:
            raise ValueError(f"factor: {err} (n_fft={self.n_fft})") from None


def sort_metric(metrics) -> str:
    """The metric that orders and plots the rows of a run that scored ``metrics``.

    The first of SDR, SI-SDR, SIR, SAR that was scored, else L1.

    Example:
        >>> sort_metric(("l1", "si_sdr")), sort_metric(("l1",))
        ('si_sdr', 'l1')
    """
    return next((m for m in ("sdr", "si_sdr", "sir", "sar") if m in metrics), "l1")

