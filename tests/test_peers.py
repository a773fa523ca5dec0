"""Asteroid baselines of the report (bssmask.peers): the models Asteroid builds, on the recipe's interface."""

import pytest
import torch
from asteroid.models import ConvTasNet
from torch import nn

from bssmask.models import MaskSeparator
from bssmask.peers import build_peer
from bssmask.separator import AsteroidSeparator


class Ones(nn.Module):
    """A masker whose masks are all ones: ``[B, 2F, T'] -> [B, n_src, 2F, T']``."""

    def __init__(self, n_src):
        super().__init__()
        self.n_src = n_src

    def forward(self, tf_rep):
        return torch.ones_like(tf_rep).unsqueeze(1).expand(-1, self.n_src, -1, -1)


def test_asteroid_mask_peer_uses_the_recipe_stft_and_asteroid_masking(speech_pair):
    peer = build_peer("asteroid_mask", n_src=2, sample_rate=8000, masker="blstm",
                      masker_kwargs={"n_layers": 1, "hid_size": 32})
    reference = MaskSeparator(n_src=2, mask="irm", masker="blstm", masker_kwargs={"n_layers": 1, "hid_size": 32})
    assert torch.equal(peer.model.encoder.filterbank.filters(), reference.encoder.filterbank.filters())
    assert isinstance(peer.model.masker.output_act, nn.Sigmoid)  # Asteroid's own mask nonlinearity
    mixture = speech_pair.sum(0, keepdim=True)
    masks = peer.model.forward_masker(peer.model.forward_encoder(mixture))
    assert masks.shape[:2] == (1, 2) and masks.shape[2] == 256 and 0 <= masks.min() and masks.max() <= 1
    # Asteroid masks the real and imaginary rows: masks of ones give the mixture back (STFT, then inverse).
    peer.model.masker = Ones(2)
    estimates = peer(mixture)
    assert estimates.shape == (1, 2, mixture.shape[-1])
    torch.testing.assert_close(estimates[0, 0, 256:-256], mixture[0, 256:-256], atol=1e-4, rtol=0)


def test_convtasnet_peer_is_asteroids_and_runs_in_float32(speech_pair):
    peer = build_peer("convtasnet", n_src=2, sample_rate=8000, n_filters=64, kernel_size=16, stride=8, n_blocks=2,
                      n_repeats=1)
    assert isinstance(peer, AsteroidSeparator) and isinstance(peer.model, ConvTasNet)
    assert peer.model.encoder.filterbank.n_filters == 64 and peer.sample_rate == 8000
    mixture = speech_pair.sum(0, keepdim=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outputs = peer.forward_masks(mixture)
    assert outputs["est_wav"].shape == (1, 2, mixture.shape[-1]) and outputs["est_wav"].dtype == torch.float32
    assert torch.isfinite(outputs["est_wav"]).all()


def test_bad_peers_are_named():
    with pytest.raises(ValueError, match="unknown peer 'tasnet'; choose from convtasnet, asteroid_mask"):
        build_peer("tasnet", 2, 8000)
    with pytest.raises(ValueError, match="bad options for peer 'asteroid_mask'"):
        build_peer("asteroid_mask", 2, 8000, masker_kwargs={"n_layerz": 3})
    with pytest.raises(ValueError, match="unknown masker 'gru'"):
        build_peer("asteroid_mask", 2, 8000, masker="gru")
