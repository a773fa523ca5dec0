"""MaskSeparator (maskers, heads, resampling, serialization, separate), attach_head, the separator interface,
safe loading."""

import copy
import os
import pickle
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
from asteroid.losses import PITLossWrapper, pairwise_neg_sisdr
from asteroid.models import ConvTasNet, DCCRNet, DCUNet, DPRNNTasNet

from bssmask import checkpoint, losses, masks
from bssmask.data import DEFAULT_SOURCES
from bssmask.model_files import load_model
from bssmask.models import MASKERS, MaskSeparator
from bssmask.peers import build_peer
from bssmask.separator import AsteroidSeparator, HeadMasker, Separator, attach_head


@pytest.fixture(scope="module")
def mixture(speech_pair):
    """Two real 0.5 s mixtures of the bundled pair: [2, 4000]; sources [2, 2, 4000]."""
    sources = torch.stack([speech_pair[:, :4000], speech_pair[:, 8000:12000]])
    return sources.sum(1), sources


def test_default_construction(mixture):
    mix, _ = mixture
    model = MaskSeparator(n_src=2, mask="cirm", masker="dprnn", sample_rate=8000)
    assert model.sample_rate == 8000
    assert model(mix).shape == (2, 2, 4000)
    assert model(mix[0]).shape == (2, 4000)  # Asteroid: no batch in, no batch out
    assert model(mix[:, None]).shape == (2, 2, 4000)


@pytest.mark.parametrize("masker", sorted(MASKERS))
@pytest.mark.parametrize("kind", masks.KINDS)
def test_every_masker_and_kind(masker, kind, mixture):
    mix, sources = mixture
    torch.manual_seed(0)
    model = MaskSeparator(n_src=2, mask=kind, masker=masker)
    out = model.forward_masks(mix)
    frames = out["mix_tf"].shape[-1]
    rows = 256 if kind == "cirm" else 128
    assert out["mix_tf"].shape == (2, 256, frames)
    assert out["mask"].shape == (2, 2, rows, frames)
    assert out["est_tf"].shape == (2, 2, 256, frames)
    assert out["est_wav"].shape == (2, 2, 4000)
    model.eval()
    torch.testing.assert_close(model(mix), model.forward_masks(mix)["est_wav"])
    model.train()
    loss = losses.get(losses.default_for(model), model)(model.forward_masks(mix), sources, model)
    loss.backward()
    grads = [p.grad for p in model.masker.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_masker_options_are_checked():
    with pytest.raises(ValueError, match="unknown masker"):
        MaskSeparator(masker="wavenet")
    with pytest.raises(ValueError, match="mask_act"):
        MaskSeparator(masker_kwargs={"mask_act": "relu"})
    with pytest.raises(ValueError, match="does not divide"):
        MaskSeparator(n_fft=256, factor=2)
    with pytest.raises(ValueError, match="unknown method"):
        MaskSeparator(factor=2, method="cubic")
    assert MaskSeparator(masker="tdconvnet", masker_kwargs={"n_blocks": 2}).masker.n_blocks == 2


@pytest.mark.parametrize(
    "kind,method,space", [("irm", "nearest", "cartesian"), ("cirm", "bilinear", "polar"), ("cirm", "nearest", "phasor")]
)
def test_frequency_downsampling_is_trainable(kind, method, space, mixture):
    mix, sources = mixture
    torch.manual_seed(0)
    model = MaskSeparator(mask=kind, factor=2, method=method, space=space)
    assert model.masker.in_chan == 128 and model.head.n_freq == 64
    out = model.forward_masks(mix)
    assert out["mask"].shape[2] == (256 if kind == "cirm" else 128)
    if method == "nearest":  # each low-resolution bin covers two full-resolution bins
        mask = masks.from_asteroid(out["mask"]) if kind == "cirm" else out["mask"]
        torch.testing.assert_close(mask[:, :, 0::2], mask[:, :, 1::2])
    losses.get("sisdr")(out, sources, model).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.masker.parameters() if p.grad is not None)


@pytest.mark.parametrize("kind", ["irm", "cirm"])
def test_mixed_precision_keeps_the_stft_and_masking_in_float32(kind, mixture):
    """Under bfloat16 autocast (Lightning's bf16-mixed) the masker and head compute in bfloat16, the rest not."""
    mix, sources = mixture
    torch.manual_seed(0)
    model = MaskSeparator(mask=kind, masker="blstm")
    with torch.no_grad():
        full = model.forward_masks(mix)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = model.forward_masks(mix)
        loss = losses.get("sisdr")(mixed, sources, model)
    assert all(value.dtype == torch.float32 for value in mixed.values())
    assert torch.equal(mixed["mix_tf"], full["mix_tf"])
    change = (mixed["mask"] - full["mask"]).abs()
    assert 0 < change.max() < 0.05  # bfloat16's resolution, nothing more
    with torch.no_grad():  # masking and inverse STFT of those masks, in float32
        est_tf = model.apply_masks(mixed["mix_tf"], model.head.to_mask(mixed["mask"]))
        torch.testing.assert_close(mixed["est_wav"], model.forward_decoder(est_tf)[..., : mix.shape[-1]])
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.masker.parameters() if p.grad is not None)


def _perturbed(model):
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.01 * torch.randn_like(param))
    return model.eval()


@pytest.mark.parametrize(
    "args",
    [
        {"mask": "cirm", "mask_options": {"bound": "compressed", "K": 5.0},
         "factor": 2, "method": "bilinear"},
        {"mask": "ibm", "masker": "blstm", "mask_options": {"hard": "argmax"}},
        {"mask": "iam", "masker": "tdconvnet", "mask_options": {"max": 2.0}},
    ],
)
def test_serialization_round_trip_is_identical(args, mixture, tmp_path):
    mix, _ = mixture
    torch.manual_seed(0)
    model = _perturbed(MaskSeparator(n_src=2, **args))
    path = tmp_path / "model.pth"
    torch.save(model.serialize(), path)
    loaded = MaskSeparator.from_pretrained(str(path)).eval()
    assert loaded.get_model_args() == model.get_model_args()
    assert torch.equal(loaded(mix), model(mix))


def test_separate_tensors_arrays_and_files(mixture, tmp_path):
    mix, _ = mixture
    model = MaskSeparator(mask="irm").eval()
    estimate = model(mix[:1])
    expected = estimate * mix[:1].abs().sum() / estimate.abs().sum()  # Asteroid's separate rescales so
    torch.testing.assert_close(model.separate(mix[:1]), expected)
    from_array = model.separate(mix[:1].numpy())
    assert isinstance(from_array, np.ndarray)
    np.testing.assert_allclose(from_array, expected.detach().numpy(), atol=1e-6)
    wav = tmp_path / "speech.wav"
    shutil.copy(DEFAULT_SOURCES[0], wav)
    model.separate(str(wav))
    for idx in (1, 2):
        est, rate = sf.read(tmp_path / f"speech_est{idx}.wav")
        assert rate == 8000 and est.shape == (sf.info(str(wav)).frames,)


def _dcunet(**kwargs):
    return DCUNet("DCUNet-10", n_src=2, sample_rate=8000, fix_length_mode="pad",
                  stft_n_filters=256, stft_kernel_size=256, stft_stride=64, **kwargs)


@pytest.mark.parametrize("bound", ["tanh", "sigmoid"])
def test_attach_head_on_dcunet_keeps_what_it_computed(bound, mixture):
    mix, _ = mixture
    torch.manual_seed(0)
    original = _perturbed(_dcunet(mask_bound=bound))
    weights = {k: v.clone() for k, v in original.masker.state_dict().items()}
    attached = attach_head(copy.deepcopy(original), "cirm", bound=bound).eval()
    assert isinstance(attached.model.masker, HeadMasker)
    for key, value in attached.trainable_parts()["masker"].state_dict().items():
        assert torch.equal(value, weights[key])
    torch.testing.assert_close(attached(mix), original(mix), rtol=1e-4, atol=1e-5)


def _stft_tasnet(cls):
    return cls(n_src=2, fb_name="stft", n_filters=128, kernel_size=128, stride=32, sample_rate=8000,
               encoder_activation="relu", n_repeats=1)


MODELS = {
    "DCUNet": _dcunet,
    "DCCRNet": lambda: DCCRNet("DCCRN-CL", n_src=2, sample_rate=8000),
    "DPRNNTasNet": lambda: _stft_tasnet(DPRNNTasNet),
    "ConvTasNet": lambda: _stft_tasnet(ConvTasNet),
}


@pytest.mark.parametrize("kind,options", [("ibm", {}), ("psm", {}), ("cirm", {"bound": "compressed"})])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_attach_head_forward_and_backward(name, kind, options, mixture):
    mix, sources = mixture
    torch.manual_seed(0)
    original = MODELS[name]()
    before = {k: v.clone() for k, v in original.masker.state_dict().items()}
    model = attach_head(original, kind, **options)
    assert model.model is original and model.head.kind.name == kind
    for key, value in model.trainable_parts()["masker"].state_dict().items():
        assert torch.equal(value, before[key]), key
    mix_tf = original.forward_encoder(mix[:, None])
    mask = original.forward_masker(mix_tf)
    n_freq = model.head.n_freq
    if name in ("DCUNet", "DCCRNet"):  # torch complex spectra
        assert mask.shape[:3] == (2, 2, n_freq) and mask.is_complex() == (kind == "cirm")
    else:
        assert mask.shape[:3] == (2, 2, 2 * n_freq if kind == "cirm" else n_freq)
    est = model(mix)
    assert est.shape == (2, 2, 4000)
    PITLossWrapper(pairwise_neg_sisdr, pit_from="pw_mtx")(est, sources).backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    if kind == "ibm":
        hard = model.eval().model.forward_masker(mix_tf)
        assert set(hard.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("name", ["DCUNet", "DPRNNTasNet"])
def test_saved_after_attach_head_reloads_with_its_head(name, mixture, tmp_path):
    mix, _ = mixture
    torch.manual_seed(0)
    model = attach_head(MODELS[name](), "irm").eval()
    path = tmp_path / "attached.pth"
    torch.save(model.serialize(), path)  # the Asteroid way: the head's kind and options go with it
    reloaded = load_model(path).eval()
    assert type(reloaded.model) is type(model.model) and reloaded.head.kind.name == "irm"
    torch.testing.assert_close(reloaded(mix), model(mix))
    # Saved again after reloading: still the same model.
    torch.testing.assert_close(load_model(reloaded.serialize()).eval()(mix), model(mix))
    # A pickled (or deep-copied) model keeps saving its own head.
    copied = pickle.loads(pickle.dumps(model))
    attach_head(copied, "cirm", bound="tanh")
    assert model.serialize()["bssmask_head"]["mask"] == "irm" and copied.serialize()["bssmask_head"]["mask"] == "cirm"
    with pytest.raises(checkpoint.CheckpointError, match=f"it holds a {name}, not a MaskSeparator; "
                                                         "bssmask.model_files.load_model loads it"):
        MaskSeparator.from_pretrained(path)


def test_attach_head_again_replaces_the_head_keeping_the_masker(mixture):
    mix, _ = mixture
    torch.manual_seed(0)
    model = attach_head(_dcunet(), "irm")
    masker = {k: v.clone() for k, v in model.trainable_parts()["masker"].state_dict().items()}
    model = attach_head(model, "cirm", bound="tanh").eval()
    assert model.head.kind.name == "cirm" and model.serialize()["bssmask_head"] == {
        "mask": "cirm", "options": {"bound": "tanh"}}
    assert all(torch.equal(v, masker[k]) for k, v in model.trainable_parts()["masker"].state_dict().items())
    assert model(mix).shape == (2, 2, 4000)
    # Same as a head put on the original model once.
    torch.manual_seed(0)
    once = attach_head(_dcunet(), "cirm", bound="tanh").eval()
    once.trainable_parts()["masker"].load_state_dict(masker)
    torch.testing.assert_close(model(mix), once(mix))


def test_weights_that_do_not_fit_are_one_line(tmp_path):
    package = attach_head(_dcunet(), "irm").serialize()
    del package["bssmask_head"]  # the weights of a headed model, without its head's description
    torch.save(package, tmp_path / "headless.pth")
    with pytest.raises(checkpoint.CheckpointError) as info:
        load_model(tmp_path / "headless.pth")
    message = str(info.value)
    assert "\n" not in message and len(message) < 300, message
    assert message.startswith(f"{tmp_path / 'headless.pth'}: its weights do not fit a DCUNet") and "unexpected" in message
    plain = _dcunet()
    torch.save(plain.serialize(), tmp_path / "plain.pth")
    plain_loaded = load_model(tmp_path / "plain.pth")  # an Asteroid model without a head
    assert isinstance(plain_loaded.model, DCUNet) and plain_loaded.head is None
    (tmp_path / "models").mkdir()
    with pytest.raises(checkpoint.CheckpointError, match="models: a folder, not a model file"):
        load_model(tmp_path / "models")


def test_attach_head_refuses_models_without_stft():
    free = ConvTasNet(n_src=2, n_filters=64, kernel_size=16, stride=8, n_repeats=1, sample_rate=8000)
    with pytest.raises(TypeError, match="STFT filterbank"):
        attach_head(free, "irm")
    with pytest.raises(TypeError, match="already has a bssmask head"):
        attach_head(MaskSeparator(), "irm")


def test_one_separator_interface(mixture):
    """MaskSeparator, an Asteroid peer and an Asteroid model with a head answer the same questions."""
    mix, _ = mixture
    torch.manual_seed(0)
    mask_separator = MaskSeparator(mask="irm", masker="blstm", masker_kwargs={"n_layers": 1, "hid_size": 16})
    peer = build_peer("asteroid_mask", 2, 8000, masker="blstm", masker_kwargs={"n_layers": 1, "hid_size": 16})
    headed = attach_head(MODELS["DPRNNTasNet"](), "cirm", bound="tanh")
    for model, loss, head in ((mask_separator, "mask_mse", "irm"), (peer, "sisdr", None), (headed, "sisdr", "cirm")):
        assert isinstance(model, Separator) and model.sample_rate == 8000 and model.n_src == 2
        assert (model.head.kind.name if model.head is not None else None) == head
        parts = model.trainable_parts()
        assert sorted(parts) == ["encoder", "masker"] and parts["encoder"] is model.encoder
        head_params = {id(p) for p in model.head.parameters()} if model.head is not None else set()
        assert not head_params & {id(p) for p in parts["masker"].parameters()}  # the masker without its head
        assert model.criterion().name == loss
        with torch.autocast("cpu", dtype=torch.bfloat16):
            outputs = model.forward_masks(mix)
        assert outputs["est_wav"].shape == (2, 2, 4000) and outputs["est_wav"].dtype == torch.float32
        swapped = model.with_head("psm")
        assert swapped is not model and swapped.head.kind.name == "psm"
        assert (model.head.kind.name if model.head is not None else None) == head  # the original keeps its head
    assert isinstance(peer, AsteroidSeparator) and isinstance(headed, AsteroidSeparator)
    with pytest.raises(ValueError, match="loss: DPRNNTasNet fine-tunes with the time-domain loss 'sisdr', "
                                         "not 'mask_mse'"):
        headed.criterion("mask_mse")
    with pytest.raises(ValueError, match="loss 'mask_bce' trains ibm"):
        mask_separator.criterion("mask_bce")


class _Planted:
    """Unpickling this runs ``os.mkdir(marker)``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_planted_checkpoint_is_refused(tmp_path):
    marker = tmp_path / "code_ran"
    conf = MaskSeparator(mask="irm").serialize()
    conf["model_args"]["mask_options"] = {"activation": _Planted(marker)}
    path = tmp_path / "planted.pth"
    torch.save(conf, path)
    refusal = r"planted\.pth: refused: .*arbitrary objects \(.*mkdir"
    with pytest.raises(checkpoint.CheckpointError, match=refusal):
        MaskSeparator.from_pretrained(str(path))
    with pytest.raises(checkpoint.CheckpointError, match="refused"):
        checkpoint.load_safe(path)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the plant is real: a plain load runs it
    assert marker.exists()


def test_bad_checkpoint_files_get_one_line_errors(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint\n")
    empty = tmp_path / "empty.pth"
    empty.touch()
    torch.save([1, 2], tmp_path / "list.pth")
    cases = {
        tmp_path / "missing.pth": "no such file",
        text: "not a PyTorch checkpoint",
        empty: "not a PyTorch checkpoint",
        tmp_path / "list.pth": "not a bssmask model file (a serialize() dict with model_name",
    }
    for path, reason in cases.items():
        with pytest.raises(checkpoint.CheckpointError) as info:
            MaskSeparator.from_pretrained(path)
        message = str(info.value)
        assert str(path) in message and reason in message and "\n" not in message
        assert isinstance(info.value, ValueError)
