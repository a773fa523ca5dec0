"""The STFT pair: the window it uses, exact reconstruction, lengths and argument checks."""

import pytest
import torch

from bssmask.stft import make_stft, synthesize


def test_encoder_is_torch_stft_with_the_square_root_of_a_periodic_hann_window():
    # The window changes every oracle figure (IBM 12.62 dB with sqrt-Hann, 13.02 with Hamming): pin it.
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3000, generator=gen, dtype=torch.float64)
    for n_fft, hop in ((256, 64), (510, 128)):
        encoder, _ = make_stft(n_fft, hop)
        window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64).sqrt()
        expected = torch.stft(x, n_fft, hop, window=window, center=True, return_complex=True)
        got = encoder.double()(x.unsqueeze(1))  # [B, 2F, T']
        assert got.shape == (2, n_fft + 2, expected.shape[-1])
        torch.testing.assert_close(got, torch.cat([expected.real, expected.imag], dim=-2), rtol=0, atol=1e-5)


@pytest.mark.parametrize("length", [8000, 7777])
def test_decoder_reconstructs_and_synthesize_fits_the_length(speech_pair, length):
    encoder, decoder = make_stft(510, 128)
    x = speech_pair[:, :length].double()
    wav = synthesize(decoder.double(), encoder.double()(x.unsqueeze(1)), length)
    assert wav.shape == (2, length)
    torch.testing.assert_close(wav, x, rtol=0, atol=1e-6)
    tf = encoder.double()(x.unsqueeze(1))
    natural = decoder.double()(tf).shape[-1]  # whole frames: at least the input length
    padded = synthesize(decoder.double(), tf, natural + 300)
    assert padded.shape == (2, natural + 300)
    torch.testing.assert_close(padded[..., :length], wav)
    assert torch.equal(padded[..., natural:], torch.zeros(2, 300, dtype=torch.float64))
    trimmed = synthesize(decoder.double(), encoder.double()(x.unsqueeze(1)), 1000)
    torch.testing.assert_close(trimmed, wav[..., :1000])


def test_argument_checks():
    with pytest.raises(ValueError, match="n_fft must be an even integer >= 2, got 255"):
        make_stft(255, 64)
    with pytest.raises(ValueError, match=r"hop must be in \[1, n_fft=256\], got 300"):
        make_stft(256, 300)
    with pytest.raises(ValueError, match="hop must be"):
        make_stft(256, 0)
    encoder, _ = make_stft(256, 256, sample_rate=16000)
    assert encoder.filterbank.sample_rate == 16000
