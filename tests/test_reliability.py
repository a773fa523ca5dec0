"""Training stops on a non-finite loss with a message naming the step and batch."""

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from bssmask import losses
from bssmask.models import MaskSeparator
from bssmask.engine.system import NonFiniteLossError, SeparationSystem


def test_nan_batch_stops_training_naming_step_and_batch(speech_pair):
    torch.manual_seed(0)
    sources = torch.stack([speech_pair[:, i * 4000:(i + 1) * 4000] for i in range(4)])  # [4, 2, 4000]
    mixtures = sources.sum(1)
    mixtures[2, 100] = float("nan")  # the third batch carries a NaN sample
    loader = DataLoader(TensorDataset(mixtures, sources), batch_size=1, shuffle=False)
    model = MaskSeparator(mask="irm", masker="blstm", masker_kwargs={"n_layers": 1, "hid_size": 16})
    before = [p.detach().clone() for p in model.parameters()]
    system = SeparationSystem(model, torch.optim.Adam(model.parameters(), 1e-3), losses.get("sisdr", model),
                              loader, None)
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0)
    with pytest.raises(NonFiniteLossError, match=r"non-finite training loss \(nan\) at global step 2, epoch 0, batch 2"):
        trainer.fit(system)
    # The two good batches trained; nothing non-finite reached the weights.
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_skip_option_skips_non_finite_batches_and_trains_on(speech_pair):
    torch.manual_seed(0)
    sources = torch.stack([speech_pair[:, i * 4000:(i + 1) * 4000] for i in range(4)])  # [4, 2, 4000]
    mixtures = sources.sum(1)
    mixtures[1, 50] = float("inf")
    mixtures[2, 100] = float("nan")
    loader = DataLoader(TensorDataset(mixtures, sources), batch_size=1, shuffle=False)
    model = MaskSeparator(mask="irm", masker="blstm", masker_kwargs={"n_layers": 1, "hid_size": 16})
    weights = [[p.detach().clone() for p in model.parameters()]]

    class Weights(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            weights.append([p.detach().clone() for p in model.parameters()])

    system = SeparationSystem(model, torch.optim.Adam(model.parameters(), 1e-3), losses.get("sisdr", model),
                              loader, None, on_nonfinite="skip")
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, callbacks=[Weights()])
    with pytest.warns(UserWarning, match=r"non-finite training loss at global step 1, epoch 0, batch 1: batch skipped"):
        trainer.fit(system)
    # Batches 1 and 2 changed no weight; 0 and 3 did.
    moved = [any(not torch.equal(a, b) for a, b in zip(before, after)) for before, after in zip(weights, weights[1:])]
    assert moved == [True, False, False, True]
    assert system.skipped_batches == 2
    assert all(torch.isfinite(p).all() for p in model.parameters())
    with pytest.raises(ValueError, match="unknown on_nonfinite 'ignore'; choose from stop, skip"):
        SeparationSystem(model, None, None, loader, None, on_nonfinite="ignore")
