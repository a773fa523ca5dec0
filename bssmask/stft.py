"""The STFT analysis/synthesis pair every bssmask path uses.

Asteroid's ``torch_stft`` filterbank (``torch.stft``/``torch.istft`` behind
Asteroid's Encoder/Decoder, complex format ``[..., 2F, T]`` with
``F = n_fft // 2 + 1``) reconstructs a signal to float precision (over 120 dB
SNR in float32) with either window of :data:`WINDOWS`, which the oracle
complex mask needs:

- ``"hann"``: the periodic Hann window, ``torch.hann_window(n_fft)`` (what
  ``torch.stft`` users and the source post take); adjacent bins of white
  noise are correlated by 2/3;
- ``"sqrt-hann"``: its square root, Asteroid's default for ``torch_stft``
  (analysis times synthesis window is a Hann window); adjacent bins are
  correlated by 1/2.

The window changes what frequency down/upsampling costs a mask (see the
README's ablation section), so every result records it.

Example:
    >>> import torch
    >>> enc, dec = make_stft(n_fft=1022, hop=256, sample_rate=8000, window="hann")
    >>> x = torch.randn(1, 8000)
    >>> enc(x).shape           # [B, 2F, T'], F = 512
    torch.Size([1, 1024, 32])
    >>> synthesize(dec, enc(x), x.shape[-1]).shape
    torch.Size([1, 8000])
"""

from __future__ import annotations

import torch
from asteroid_filterbanks import Decoder, Encoder, make_enc_dec, transforms

from .choices import WINDOWS, choose


def make_window(name: str, n_fft: int) -> torch.Tensor:
    """The window ``[n_fft]`` called ``name`` (one of :data:`WINDOWS`), float32.

    Example:
        >>> make_window("sqrt-hann", 4) ** 2
        tensor([0.0000, 0.5000, 1.0000, 0.5000])
    """
    choose("window", name, WINDOWS)
    hann = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
    return (hann if name == "hann" else hann.sqrt()).float()


def make_stft(
    n_fft: int = 1022, hop: int = 256, sample_rate: float = 8000.0, window: str = "sqrt-hann"
) -> tuple[Encoder, Decoder]:
    """Asteroid STFT encoder and decoder (centred frames, window of :data:`WINDOWS`).

    Args:
        n_fft: FFT size and window length; ``F = n_fft // 2 + 1`` bins (even
            ``n_fft``; 1022 gives F = 512).
        hop: hop size in samples.
        sample_rate: recorded in the filterbank (Asteroid serialises it).
        window: ``"sqrt-hann"`` (default: Asteroid's ``torch_stft`` default, what
            models use) or ``"hann"`` (the ablation's default).
    """
    if n_fft < 2 or n_fft % 2:
        raise ValueError(f"n_fft must be an even integer >= 2, got {n_fft}")
    if not 0 < hop <= n_fft:
        raise ValueError(f"hop must be in [1, n_fft={n_fft}], got {hop}")
    return make_enc_dec(
        "torch_stft", n_filters=n_fft, kernel_size=n_fft, stride=hop, sample_rate=sample_rate,
        window=make_window(window, n_fft).numpy(),
    )


def synthesize(decoder: Decoder, tf_rep: torch.Tensor, length: int) -> torch.Tensor:
    """Decode Asteroid's ``[..., 2F, T']`` (or torch complex ``[..., F, T']``) to waveforms ``[..., length]``
    (trimmed or zero-padded).

    The inverse of ``decoder``'s ``torch_stft`` filterbank computed by
    ``torch.istft`` with the filterbank's window and hop: the same signal as
    ``decoder(tf_rep)`` (to float precision), by FFT instead of Asteroid's
    transposed convolution, which was 3 to 5 times slower on 10 s signals.
    """
    fb = decoder.filterbank
    spec = tf_rep if tf_rep.is_complex() else transforms.to_torch_complex(tf_rep, dim=-2)
    window = torch.as_tensor(fb.window, dtype=spec.real.dtype, device=spec.device)
    wav = torch.istft(spec.reshape(-1, *spec.shape[-2:]), n_fft=fb.kernel_size, hop_length=fb.stride,
                      window=window, center=fb.center, length=length)
    return wav.reshape(*tf_rep.shape[:-2], length)
