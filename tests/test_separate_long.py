"""``bssmask separate`` on real recordings: multichannel, long inputs in chunks, streaming, progress."""

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios

import numpy as np
import pytest
import soundfile as sf
import torch

from bssmask import separate, stream
from bssmask.audio import AudioError, resample
from bssmask.data import DEFAULT_SOURCES
from bssmask.model_files import load_model
from bssmask.metrics import si_sdr
from test_separate import model_file  # noqa: F401  (the fixture: a small random BLSTM model file)

SEGMENT = 40000  # 5 s at 8 kHz


@pytest.fixture(scope="module")
def long_pair():
    """40 s of two speakers at 8 kHz, ``[2, 320000]``: the bundled clips, each repeat circularly shifted.

    Speaker A at full level, speaker B at half: A is the louder throughout.
    """
    a, b = (sf.read(path, dtype="float32")[0] for path in DEFAULT_SOURCES)
    first = np.concatenate([np.roll(a, 9000 * k) for k in range(4)])
    second = np.concatenate([np.roll(b, 7000 * k + 3000) for k in range(4)])
    return torch.from_numpy(np.stack([first, 0.5 * second]))


def estimates(folder, stem):
    return np.stack([sf.read(folder / f"{stem}_s{k}.wav", dtype="float32")[0] for k in (1, 2)])


def test_resampling_by_blocks_equals_whole_file_resampling():
    torch.manual_seed(0)
    for orig, new in ((16000, 8000), (44100, 8000), (8000, 16000), (8000, 22050), (8000, 8000)):
        x = torch.randn(2, 30011)
        whole = resample(x, orig, new)
        for size in (50, 97, 4096, 30011):
            blocks = torch.cat(list(stream.resample_blocks(x.split(size, -1), orig, new)), -1)
            assert blocks.shape == whole.shape
            assert (blocks - whole).abs().max() < 2e-6, (orig, new, size)


def test_chunks_add_up_and_sources_stay_on_their_output_when_the_model_swaps_them():
    """A "model" that splits positive and negative samples, in a random order per chunk."""
    torch.manual_seed(0)
    order = iter(torch.randint(0, 2, (100,)).tolist())

    def model(x):
        split = torch.stack([x.clamp(min=0), x.clamp(max=0)])
        return split.flip(0) if next(order) else split

    mix = torch.randn(20000)
    chunks = []
    out = torch.cat(list(stream.separate_blocks(mix.split(3001), model, 2000, 500, lambda: chunks.append(1))), -1)
    assert len(chunks) == stream.chunk_count(20000, 2000, 500) == 13
    expected = torch.stack([mix.clamp(min=0), mix.clamp(max=0)])
    if out[0].sum() < 0:  # the first chunk's order is arbitrary
        out = out.flip(0)
    assert (out - expected).abs().max() < 1e-6


def test_stereo_is_downmixed_and_channel_picks_one(model_file, speech_pair, tmp_path, capsys):
    stereo = torch.stack([speech_pair[0] + 0.3 * speech_pair[1], speech_pair[1] - 0.2 * speech_pair[0]]).T.numpy()
    sf.write(tmp_path / "stereo.wav", stereo, 8000, subtype="FLOAT")
    sf.write(tmp_path / "mean.wav", stereo.mean(axis=1), 8000, subtype="FLOAT")
    sf.write(tmp_path / "right.wav", stereo[:, 1], 8000, subtype="FLOAT")
    separate.separate_files(model_file, [tmp_path / "stereo.wav", tmp_path / "mean.wav"], tmp_path / "mixed")
    assert capsys.readouterr().err == ("note: stereo.wav: multichannel, separated as the mean of the channels "
                                       "(--channel N separates channel N)\n")
    assert np.array_equal(estimates(tmp_path / "mixed", "stereo"), estimates(tmp_path / "mixed", "mean"))
    separate.separate_files(model_file, [tmp_path / "stereo.wav"], tmp_path / "picked", channel=2)
    separate.separate_files(model_file, [tmp_path / "right.wav"], tmp_path / "picked")
    assert capsys.readouterr().err == ""
    picked = estimates(tmp_path / "picked", "stereo")
    assert np.array_equal(picked, estimates(tmp_path / "picked", "right"))
    assert not np.allclose(picked, estimates(tmp_path / "mixed", "stereo"), atol=1e-3)


def test_bad_channel_is_one_line_and_writes_nothing(model_file, speech_pair, tmp_path):
    sf.write(tmp_path / "stereo.wav", speech_pair.T.numpy(), 8000)
    for flag, message in (("3", "stereo.wav: --channel 3: the file has 2 channel(s)"),
                          ("0", "argument --channel: expected a positive integer, got 0")):
        proc = subprocess.run([sys.executable, "-m", "bssmask.cli", "separate", "--model", str(model_file),
                               "--out", str(tmp_path / "out"), "--channel", flag, str(tmp_path / "stereo.wav")],
                              capture_output=True, text=True)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_input_shorter_than_a_chunk_is_the_whole_file_result_exactly(model_file, speech_pair, tmp_path):
    model = load_model(model_file).eval()
    mix16k = resample(speech_pair.sum(0), 8000, 16000)[:31999]  # 2 s at 16 kHz, odd length
    sf.write(tmp_path / "mix.wav", mix16k.numpy(), 16000, subtype="FLOAT")
    separate.separate_files(model_file, [tmp_path / "mix.wav"], tmp_path / "out", chunk_seconds=2)
    with torch.no_grad():
        whole = model(resample(mix16k, 16000, 8000)[None])[0]
    expected = resample(whole, 8000, 16000)[:, :31999].numpy()
    assert np.array_equal(estimates(tmp_path / "out", "mix"), expected)


def test_long_input_in_chunks_is_close_to_whole_and_keeps_the_speakers(long_pair, tmp_path):
    """The bundled model on 40 s in 8 s chunks (2 s overlaps): close to the whole-file result, A on one output."""
    mix = long_pair.sum(0)
    sf.write(tmp_path / "long.wav", mix.numpy(), 8000, subtype="FLOAT")
    separate.separate_files("default", [tmp_path / "long.wav"], tmp_path / "out", chunk_seconds=8)
    chunked = torch.from_numpy(estimates(tmp_path / "out", "long"))
    whole = separate.separate_signal(load_model("default").eval(), mix)
    if si_sdr(whole[:1], chunked[:1]) < si_sdr(whole[:1], chunked[1:]):
        chunked = chunked.flip(0)
    # Measured: 20.1 dB and 10.1 dB (the quieter speaker's estimate depends more on the context).
    assert si_sdr(whole, chunked).tolist() > [18.0, 8.0], si_sdr(whole, chunked)
    # The louder speaker stays on the output that has it in the first 5 s, in each 5 s (chunks start every 6 s).
    def segments(x):
        return x.reshape(*x.shape[:-1], -1, SEGMENT)

    louder = max((0, 1), key=lambda k: si_sdr(long_pair[:1, :SEGMENT], chunked[k : k + 1, :SEGMENT]))
    on_it = si_sdr(segments(long_pair[0]), segments(chunked[louder]))  # [8]: one score per 5 s
    on_other = si_sdr(segments(long_pair[0]), segments(chunked[1 - louder]))
    # Measured: at least 6.1 dB on it, at most -4.8 dB on the other.
    assert on_it.min() > 5.0 and on_other.max() < -3.0, (on_it, on_other)


def test_bad_file_in_a_folder_fails_before_anything_is_written(model_file, speech_pair, tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    sf.write(folder / "a_good.wav", speech_pair.sum(0).numpy(), 8000)
    late_nan = np.zeros(200000, dtype=np.float32)
    late_nan[150000] = np.nan  # in the third block read
    sf.write(folder / "b_bad.wav", late_nan, 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match="b_bad.wav: contains NaN or Inf samples"):
        separate.separate_files(model_file, [folder], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="--chunk-seconds: expected at least 1, got 0.5"):
        separate.separate_files(model_file, [folder / "a_good.wav"], tmp_path / "out", chunk_seconds=0.5)


def _command(model_file, mix, out):
    return [sys.executable, "-m", "bssmask.cli", "separate", "--model", str(model_file), "--out", str(out),
            "--chunk-seconds", "1", str(mix)]


def test_progress_bar_on_a_terminal_only(model_file, long_pair, tmp_path):
    sf.write(tmp_path / "mix.wav", long_pair.sum(0)[:40000].numpy(), 8000)  # 5 s: 7 chunks of 1 s
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(_command(model_file, tmp_path / "mix.wav", tmp_path / "piped"), capture_output=True,
                          text=True, env=env)
    assert proc.returncode == 0 and proc.stderr == ""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    proc = subprocess.Popen(_command(model_file, tmp_path / "mix.wav", tmp_path / "tty"), stdout=subprocess.PIPE,
                            stderr=follower, env=env)
    os.close(follower)
    shown = b""
    while select.select([leader], [], [], 60)[0]:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the command closed the terminal
            break
        if not data:
            break
        shown += data
    assert proc.wait(60) == 0
    os.close(leader)
    # The file bar ends full; the chunk bar (7 chunks) is cleared when its file is done.
    assert b"files: 100%" in shown and b"| 1/1 [" in shown and b"mix.wav:" in shown and b"/7 [" in shown, shown
    assert len(sf.read(tmp_path / "tty" / "mix_s1.wav")[0]) == 40000
