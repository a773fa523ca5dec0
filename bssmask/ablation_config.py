"""The options of the oracle mask ablation (:mod:`bssmask.ablation`), importable without torch.

The command line builds its parser and help from :class:`AblationConfig`'s
fields, defaults and documented meanings before importing anything heavy; :meth:`AblationConfig.validate`
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

from .names import DOWN_METHODS, METRICS, SPACES, UP_METHODS, WINDOWS, choose, choose_each

#: How the mixture is made: the sources' sum or mean, or a given file.
MIX_MODES = ("sum", "mean", "file")
#: What is upsampled after downsampling: the mask, or the masked spectrogram.
UPSAMPLED = ("mask", "spectrogram")


@dataclass(frozen=True)
class AblationConfig:
    """Every option of the ablation grid.

    The ``bssmask ablate`` flags are these fields (``--down-method`` for
    ``down_method``), with these meanings as their help.

    Attributes:
        masks: mask kinds, each a name of :data:`bssmask.masks.KINDS` with its options as
            ``kind:key=value`` (``cirm:max=1``, ``iam:max=2``, ``psm:min=-1:max=1``; :func:`bssmask.masks.get`).
        upsampled: what is upsampled, any of :data:`UPSAMPLED`.
        methods: upsampling methods, any of :data:`bssmask.names.UP_METHODS`.
        spaces: spaces for complex values, any of :data:`bssmask.names.SPACES`.
        factor: frequency downsampling factor; must divide ``n_fft // 2 + 1``.
        down_method: downsampling method, one of :data:`bssmask.names.DOWN_METHODS`
            (``keep``: every k-th bin; the others interpolate).
        n_fft: STFT size (1022 gives 512 bins).
        hop: STFT hop.
        window: STFT window, ``hann`` (as ``torch.stft`` users and the source post) or
            ``sqrt-hann`` (Asteroid's default).
        mix: how the mixture is made: ``sum`` of the sources, their ``mean`` (sum / n_src,
            which lowers each source by 1 / n_src in the mixture), or a ``file`` given with the
            sources, as a LibriMix CSV's ``mixture_path`` (mixtures that are not the sum of
            the sources, e.g. with noise).
        metrics: the metrics scored, any of :data:`bssmask.names.METRICS`; without ``sir``
            and ``sar`` BSS-Eval skips their projections and computes the SDR alone.
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

