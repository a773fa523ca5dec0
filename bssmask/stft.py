"""The STFT analysis/synthesis pair every bssmask path uses.

Asteroid's ``torch_stft`` filterbank (``torch.stft``/``torch.istft`` behind
Asteroid's Encoder/Decoder, complex format ``[..., 2F, T]`` with
``F = n_fft // 2 + 1``) reconstructs a signal to float precision (over 120 dB
SNR in float32), which the oracle complex mask needs.

Example:
    >>> import torch
    >>> enc, dec = make_stft(n_fft=1022, hop=256, sample_rate=8000)
    >>> x = torch.randn(1, 8000)
    >>> enc(x).shape           # [B, 2F, T'], F = 512
    torch.Size([1, 1024, 32])
    >>> synthesize(dec, enc(x), x.shape[-1]).shape
    torch.Size([1, 8000])
"""

from __future__ import annotations

import torch
from asteroid_filterbanks import Decoder, Encoder, make_enc_dec
from asteroid.utils.torch_utils import pad_x_to_y


def make_stft(n_fft: int = 1022, hop: int = 256, sample_rate: float = 8000.0) -> tuple[Encoder, Decoder]:
    """Asteroid STFT encoder and decoder (Hann window, centred frames).

    Args:
        n_fft: FFT size; ``F = n_fft // 2 + 1`` bins (even ``n_fft``; 1022 gives F = 512).
        hop: hop size in samples.
        sample_rate: recorded in the filterbank (Asteroid serialises it).
    """
    if n_fft < 2 or n_fft % 2:
        raise ValueError(f"n_fft must be an even integer >= 2, got {n_fft}")
    if not 0 < hop <= n_fft:
        raise ValueError(f"hop must be in [1, n_fft={n_fft}], got {hop}")
    return make_enc_dec(
        "torch_stft", n_filters=n_fft, kernel_size=n_fft, stride=hop, sample_rate=sample_rate
    )


def synthesize(decoder: Decoder, tf_rep: torch.Tensor, length: int) -> torch.Tensor:
    """Decode ``[..., 2F, T']`` to waveforms ``[..., length]`` (trimmed or zero-padded)."""
    wav = decoder(tf_rep)
    wav = wav.reshape(*tf_rep.shape[:-2], wav.shape[-1])
    return pad_x_to_y(wav, torch.empty(length))
