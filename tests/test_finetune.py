"""Fine-tuning a pretrained separator with another head, on the quick Asterisk2Mix corpus.

The ``irm`` separator trained by the recipe's quick run (a report head) is
switched to a bounded ``cirm`` head with the masker frozen for the
first epoch; a real Asteroid ``DCUNet`` with a bssmask head, saved with
``serialize()``, goes the same road (its complex mask to ``irm``).
"""

import json
import socket

import pytest
import pytorch_lightning as pl
import torch
from asteroid.models import DCUNet

from bssmask import checkpoint, losses, recipe_config
from bssmask.checkpoint import CheckpointError
from bssmask.engine.system import SeparationSystem
from bssmask.model_files import check_compatible, load_model
from bssmask.models import MaskSeparator
from bssmask.experiment import head_swap
from bssmask.experiment.build import build_loaders, build_trainer
from bssmask.experiment.head_swap import FinetuneOptions
from bssmask.separator import attach_head
from recipe_helpers import first_mixtures

@pytest.fixture(scope="module")
def pretrained(quick_recipe):
    """The quick corpus and the ``irm`` separator that ``./run.sh --quick true`` trained on it (report head)."""
    recipe, _ = quick_recipe
    conf = recipe_config.load(recipe / "conf.yml", [recipe / "local" / "quick.yml"])
    for key in ("train_dir", "valid_dir", "test_dir"):
        conf["data"][key] = str(recipe / conf["data"][key])
    conf["training"].update(progress_bar=False, logger="none", epochs=2, half_lr=False)
    return recipe / "exp" / "quick" / "heads" / "irm" / "best_model.pth", conf


class RecordParts(pl.Callback):
    """Copies of the encoder and masker parameters at the start of training and after each epoch."""

    def __init__(self):
        self.snapshots = []

    def _snap(self, module):
        parts = module.model.trainable_parts()
        self.snapshots.append({k: [p.detach().clone() for p in m.parameters()] for k, m in parts.items()})

    def on_train_start(self, trainer, pl_module):
        self._snap(pl_module)

    def on_train_epoch_end(self, trainer, pl_module):
        self._snap(pl_module)


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.voices
def test_irm_to_bounded_cirm_with_masker_frozen_first_epoch(pretrained, tmp_path):
    model_path, conf = pretrained
    original = MaskSeparator.from_pretrained(str(model_path))
    swapped = original.with_head("cirm", bound="tanh")
    assert _same(swapped.masker.parameters(), original.masker.parameters())
    assert _same(swapped.encoder.parameters(), original.encoder.parameters())

    record = RecordParts()
    options = FinetuneOptions(mask="cirm", mask_options={"bound": "tanh"}, freeze="masker", freeze_epochs=1)
    summary = head_swap.finetune(model_path, conf, tmp_path / "exp", options, callbacks=[record])
    start, after_first, after_second = record.snapshots
    # The head swap kept the pretrained masker; it did not move while frozen, then it trained.
    assert _same(start["masker"], [p for p in original.masker.parameters()])
    assert _same(after_first["masker"], start["masker"])
    assert not _same(after_second["masker"], after_first["masker"])
    # The new head starts untrained; a short fine-tuning brings it well above that.
    assert summary["finetuned"]["si_sdr"] > summary["swapped"]["si_sdr"] + 1.0, summary
    assert summary["pretrained"]["n_mixtures"] == summary["finetuned"]["n_mixtures"] == 9
    written = json.loads((tmp_path / "exp" / "finetune" / "summary.json").read_text())
    assert written["finetuned"]["si_sdr"] == pytest.approx(summary["finetuned"]["si_sdr"])
    reloaded = MaskSeparator.from_pretrained(str(tmp_path / "exp" / "finetuned_model.pth"))
    assert reloaded.mask == "cirm" and reloaded.head.bound_type == "tanh"


@pytest.mark.voices
def test_asteroid_dcunet_with_head_from_serialize_to_irm(pretrained, tmp_path):
    _, conf = pretrained
    # DCUNet is slow on a CPU: 64 training mixtures, 1 s excerpts.
    first_mixtures(conf["data"]["train_dir"], 64, tmp_path / "train64" / "mixture_train_mix_clean.csv")
    data = {**conf["data"], "train_dir": str(tmp_path / "train64"), "segment": 1.0}
    conf = {**conf, "data": data, "training": {**conf["training"], "epochs": 2, "batch_size": 4}}
    torch.manual_seed(0)  # its initial weights, whatever the tests before this one drew
    dcunet = DCUNet("DCUNet-10", n_src=2, sample_rate=8000, stft_n_filters=256, stft_kernel_size=256,
                    stft_stride=64, fix_length_mode="pad")
    # Its own complex mask as a bssmask head (the same computation), pretrained briefly, saved the Asteroid way.
    separator = attach_head(dcunet, "cirm", bound="tanh")
    system = SeparationSystem(separator, torch.optim.Adam(separator.parameters(), 1e-3),
                              losses.get("sisdr"), *build_loaders(conf))
    build_trainer(conf | {"training": {**conf["training"], "epochs": 1}}, tmp_path / "pre").fit(system)
    path = tmp_path / "dcunet.pth"
    torch.save(separator.serialize(), path)
    reloaded = load_model(path)
    assert isinstance(reloaded.model, DCUNet) and reloaded.head.kind.name == "cirm"
    record = RecordParts()
    summary = head_swap.finetune(path, conf, tmp_path / "exp", FinetuneOptions(mask="irm", freeze="masker",
                                                                              freeze_epochs=1), callbacks=[record])
    start, after_first, after_second = record.snapshots
    assert _same(start["masker"], [p for p in reloaded.trainable_parts()["masker"].parameters()])
    assert _same(after_first["masker"], start["masker"])
    assert not _same(after_second["masker"], after_first["masker"])
    assert summary["finetuned"]["si_sdr"] > summary["swapped"]["si_sdr"], summary
    model = load_model(tmp_path / "exp" / "finetuned_model.pth")
    assert model.head.kind.name == "irm"


@pytest.mark.voices
def test_pretrained_errors_are_one_line(pretrained, tmp_path):
    model_path, conf = pretrained
    with pytest.raises(CheckpointError, match="no such file"):
        load_model(tmp_path / "missing.pth")
    model = MaskSeparator.from_pretrained(str(model_path))
    with pytest.raises(checkpoint.PretrainedError, match="model works at 8000 Hz but the data is at 16000 Hz"):
        check_compatible(model, 16000, 2)
    with pytest.raises(checkpoint.PretrainedError, match="separates 2 sources but the data has 3"):
        check_compatible(model, 8000, 3)
    with pytest.raises(ValueError, match="leaves nothing to train"):
        head_swap.finetune(model_path, conf, tmp_path / "x", FinetuneOptions(mask="irm", freeze="masker"))


def _offline(*args, **kwargs):
    raise socket.gaierror(-3, "Temporary failure in name resolution")


def _no_download(spec):
    raise AssertionError(f"the hub was contacted for {spec}")


def test_hub_id_is_fetched_with_asteroid_and_offline_gives_one_line(monkeypatch, tmp_path):
    """No network: name resolution and Asteroid's download are replaced, whatever the machine."""
    import asteroid.utils.hub_utils as hub_utils

    monkeypatch.setattr(checkpoint.socket, "getaddrinfo", _offline)
    monkeypatch.setattr(hub_utils, "cached_download", _no_download)
    with pytest.raises(checkpoint.PretrainedError, match="fetching it from huggingface.co failed "
                       r"\(\[Errno -3\] Temporary failure in name resolution\); on an offline machine") as err:
        load_model("mpariente/DPRNNTasNet-ks2_WHAM_sepclean")
    assert "\n" not in str(err.value)
    # Online: the id goes to Asteroid's downloader and its file is loaded; a failed download is one line too.
    model = MaskSeparator(mask="irm", masker="blstm", masker_kwargs={"n_layers": 1, "hid_size": 8})
    torch.save(model.serialize(), tmp_path / "downloaded.pth")
    asked = []
    monkeypatch.setattr(checkpoint.socket, "getaddrinfo", lambda host, port: asked.append((host, port)) or [])
    monkeypatch.setattr(hub_utils, "cached_download", lambda spec: asked.append(spec) or str(tmp_path / "downloaded.pth"))
    loaded = load_model("someone/some-model")
    assert asked == [("huggingface.co", 443), "someone/some-model"]
    assert isinstance(loaded, MaskSeparator) and loaded.mask == "irm"
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value)

    def refused(spec):
        raise ConnectionError("HTTPSConnectionPool(host='example.org', port=443): Max retries exceeded\ndetails")

    monkeypatch.setattr(hub_utils, "cached_download", refused)
    with pytest.raises(checkpoint.PretrainedError, match=r"https://example.org/models/separator: not a local file or a "
                       r"bundled model \(.*\), and fetching it from example.org failed "
                       r"\(HTTPSConnectionPool.*Max retries exceeded\)") as err:
        load_model("https://example.org/models/separator")
    assert "\n" not in str(err.value)
