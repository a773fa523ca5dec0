"""The options of the oracle mask ablation (:mod:`bssmask.ablation`), importable without torch.

The command line builds its parser and help from :class:`AblationConfig`'s
defaults before importing anything heavy; :meth:`AblationConfig.validate`
imports the modules that check mask kinds and STFT sizes when it runs.

Example:
    >>> AblationConfig(masks=("ibm", "cirm:max=1"), metrics=("sdr", "si_sdr")).validate()
    >>> AblationConfig(window="hamming").validate()
    Traceback (most recent call last):
    ...
    ValueError: window: hamming not in hann, sqrt-hann
"""

from __future__ import annotations

from dataclasses import dataclass

from .names import DOWN_METHODS, METRICS, SPACES, UP_METHODS, WINDOWS

#: How the mixture is made: the sources' sum or mean, or a given file.
MIX_MODES = ("sum", "mean", "file")
#: What is upsampled after downsampling: the mask, or the masked spectrogram.
UPSAMPLED = ("mask", "spectrogram")


@dataclass(frozen=True)
class AblationConfig:
    """Every option of the ablation grid.

    Attributes:
        masks: mask kinds: names of :data:`bssmask.masks.KINDS` or specs with
            options (``"cirm:max=1"``, ``"iam:max=2"``; :func:`bssmask.masks.get`).
        upsampled: what is upsampled: ``"mask"``, ``"spectrogram"`` or both.
        methods: upsampling methods (:data:`bssmask.names.UP_METHODS`).
        spaces: spaces for complex values (:data:`bssmask.names.SPACES`).
        factor: frequency downsampling factor; must divide ``n_fft // 2 + 1``.
        down_method: downsampling method (:data:`bssmask.names.DOWN_METHODS`).
        n_fft, hop: STFT size and hop (1022 / 256 give 512 bins).
        window: STFT window, ``"hann"`` (default, as ``torch.stft`` users and
            the source post) or ``"sqrt-hann"`` (Asteroid's default).
        mix: ``"file"`` (a mixture given with the sources, as a LibriMix CSV's
            ``mixture_path``, for mixtures that are not the sources' sum), ``"sum"``
            (mixture = sum of sources, the default) or ``"mean"``
            (sum / n_src, which lowers each source by 1 / n_src in the mixture).
        metrics: the metrics scored (:data:`bssmask.names.METRICS`); without
            ``sir`` and ``sar`` BSS-Eval skips their projections.
        device: torch device for the STFT, the masks and the scores.
    """

    masks: tuple[str, ...] = ("ibm", "cirm", "cirm:max=1")
    upsampled: tuple[str, ...] = UPSAMPLED
    methods: tuple[str, ...] = UP_METHODS
    spaces: tuple[str, ...] = SPACES
    factor: int = 2
    down_method: str = "keep"
    n_fft: int = 1022
    hop: int = 256
    window: str = "hann"
    mix: str = "sum"
    metrics: tuple[str, ...] = METRICS
    device: str = "cpu"

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad option."""
        from . import masks, resample
        from .stft import make_stft

        for name in self.masks:
            masks.get(name)
        check_choices("upsampled", self.upsampled, UPSAMPLED)
        check_choices("methods", self.methods, UP_METHODS)
        check_choices("spaces", self.spaces, SPACES)
        check_choices("down-method", (self.down_method,), DOWN_METHODS)
        check_choices("mix", (self.mix,), MIX_MODES)
        check_choices("window", (self.window,), WINDOWS)
        check_choices("metrics", self.metrics, METRICS)
        if not self.masks:
            raise ValueError("masks: give at least one mask kind")
        make_stft(self.n_fft, self.hop)
        try:
            resample.check_factor(self.n_fft // 2 + 1, self.factor)
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


def check_choices(option: str, values, allowed) -> None:
    """Raise ``ValueError`` when ``values`` is empty or has a value not in ``allowed``, naming ``option``."""
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise ValueError(f"{option}: {', '.join(bad) or 'nothing given'} not in {', '.join(allowed)}")
