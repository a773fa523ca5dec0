import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from bssmask.cli import main

FAST = ["--methods", "nearest,bilinear", "--spaces", "cartesian,polar"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory, speech_pair):
    """Short real-speech files: a.wav, b.wav (1.5 s each, 8 kHz)."""
    folder = tmp_path_factory.mktemp("clips")
    for name, wav in zip("ab", speech_pair.numpy()):
        sf.write(folder / f"{name}.wav", wav[:12000], 8000)
    return folder


def run(args, capsys):
    code = main(["ablate", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_default_sources_full_grid(tmp_path, capsys):
    out_dir = tmp_path / "abl"
    code, out, err = run(["--out", str(out_dir)], capsys)
    assert code == 0, err
    assert {p.name for p in out_dir.iterdir()} == {"ablation.csv", "ablation.md", "ablation.json", "ablation.png"}
    result = json.loads((out_dir / "ablation.json").read_text())
    cfg = result["config"]
    assert (cfg["n_fft"], cfg["hop"], cfg["factor"], cfg["mix"], cfg["sample_rate"], cfg["n_freq"], cfg["window"]) \
        == (1022, 256, 2, "sum", 8000, 512, "hann")
    assert cfg["masks"] == ["ibm", "cirm", "cirm:max=1"]
    rows = result["rows"]
    # ibm: oracle + 3 mask rows (real mask: no space) + 9 spectrogram rows; cirm and cirm:max=1: 1 + 9 + 9.
    assert len(rows) == 13 + 19 + 19
    assert set(rows[0]) == {"mask", "upsampled", "mode", "space", "sdr", "si_sdr", "sir", "sar", "l1"}
    sdrs = [r["sdr"] for r in rows]
    assert sdrs == sorted(sdrs, reverse=True)
    oracle = {r["mask"]: r for r in rows if r["upsampled"] == "none"}
    assert oracle["cirm"]["mode"] is None and oracle["cirm"]["space"] is None
    assert oracle["cirm"]["sdr"] > 90 and oracle["cirm"]["l1"] < 1e-5
    assert 5 < oracle["ibm"]["sdr"] < 30
    for r in rows:
        if r["upsampled"] != "none":
            assert r["sdr"] < oracle[r["mask"]]["sdr"] + 0.01
    # Upsampling the mask beats upsampling the masked spectrogram, for both masks.
    for kind in ("ibm", "cirm", "cirm:max=1"):
        best_spec = max(r["sdr"] for r in rows if r["mask"] == kind and r["upsampled"] == "spectrogram")
        worst_mask = min(r["sdr"] for r in rows if r["mask"] == kind and r["upsampled"] == "mask")
        assert worst_mask > best_spec
    with open(out_dir / "ablation.csv") as handle:
        csv_rows = list(csv.DictReader(handle))
    assert len(csv_rows) == len(rows) and float(csv_rows[0]["sdr"]) == pytest.approx(rows[0]["sdr"])
    assert out.startswith("Oracle mask ablation") and "| cirm | none |" in out


def test_console_script_runs(tmp_path, clips):
    out_dir = tmp_path / "o"
    proc = subprocess.run(
        [sys.executable, "-m", "bssmask.cli", "ablate", "--sources", str(clips / "a.wav"), str(clips / "b.wav"),
         "--masks", "cirm", "--methods", "nearest", "--spaces", "cartesian", "--out", str(out_dir)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    # The exact oracle's scores are float rounding (about 130 dB, varying from run to run):
    # the table prints them as above the ceiling, the JSON keeps them.
    exact = "| cirm | none | - | - | > 100 | > 100 | > 100 | > 100 |"
    assert exact in proc.stdout and exact in (out_dir / "ablation.md").read_text()
    assert "> 100 = above 100 dB" in proc.stdout
    oracle = json.loads((out_dir / "ablation.json").read_text())["rows"][0]
    assert oracle["upsampled"] == "none" and min(oracle[k] for k in ("sdr", "si_sdr", "sir", "sar")) > 100
    below = [line for line in proc.stdout.splitlines() if line.startswith("| cirm | mask | nearest |")]
    assert len(below) == 1 and "> 100" not in below[0]


def test_all_kinds_and_mix_mean(tmp_path, clips, capsys):
    results = {}
    for mix in ("sum", "mean"):
        out_dir = tmp_path / mix
        code, _, err = run(["--sources", str(clips / "a.wav"), str(clips / "b.wav"), "--masks",
                            "ibm,irm,wiener,iam,psm,cirm", "--mix", mix, "--out", str(out_dir), *FAST], capsys)
        assert code == 0, err
        rows = json.loads((out_dir / "ablation.json").read_text())["rows"]
        results[mix] = {(r["mask"], r["upsampled"], r["mode"], r["space"]): r for r in rows}
    assert results["sum"].keys() == results["mean"].keys()
    ibm, cirm = ("ibm", "none", None, None), ("cirm", "none", None, None)
    # SDR is scale-invariant: the mixing convention does not change it...
    assert results["mean"][ibm]["sdr"] == pytest.approx(results["sum"][ibm]["sdr"], abs=0.01)
    # ...but a binary mask keeps the halved level of a mean mixture, a complex mask restores it.
    assert results["mean"][ibm]["l1"] > 1.3 * results["sum"][ibm]["l1"]
    assert results["mean"][cirm]["l1"] < 1e-5


def test_dataset_folder_and_csv(tmp_path, speech_pair, capsys):
    root = tmp_path / "ds"
    wavs = speech_pair.numpy()
    for k in range(2):
        for s in range(2):
            (root / f"s{s + 1}").mkdir(parents=True, exist_ok=True)
            sf.write(root / f"s{s + 1}" / f"mix{k}.wav", wavs[s, k * 6000:(k + 1) * 6000], 8000)
    code, out, err = run(["--dataset", str(root), "--masks", "cirm,ibm", "--out", str(tmp_path / "o1"), *FAST], capsys)
    assert code == 0, err
    result = json.loads((tmp_path / "o1" / "ablation.json").read_text())
    assert result["config"]["n_mixtures"] == 2
    with open(tmp_path / "o1" / "ablation_per_mixture.csv") as handle:
        per = list(csv.DictReader(handle))
    assert {r["mixture_id"] for r in per} == {"mix0", "mix1"} and len(per) == 2 * len(result["rows"])
    key = ("ibm", "none")
    pair = [float(r["sdr"]) for r in per if (r["mask"], r["upsampled"]) == key]
    mean = next(r["sdr"] for r in result["rows"] if (r["mask"], r["upsampled"]) == key)
    assert mean == pytest.approx(sum(pair) / 2, abs=1e-6)
    # The same mixtures through a LibriMix-style CSV (relative paths) give the same means.
    (root / "mix_clean").mkdir()
    for k in range(2):
        sf.write(root / "mix_clean" / f"mix{k}.wav", wavs[:, k * 6000:(k + 1) * 6000].sum(0), 8000, subtype="FLOAT")
    lines = ["mixture_ID,mixture_path,source_1_path,source_2_path,length"]
    lines += [f"mix{k},mix_clean/mix{k}.wav,s1/mix{k}.wav,s2/mix{k}.wav,6000" for k in range(2)]
    (root / "mixture_test_mix_clean.csv").write_text("\n".join(lines) + "\n")
    code, _, err = run(["--dataset", str(root / "mixture_test_mix_clean.csv"), "--masks", "cirm,ibm",
                        "--out", str(tmp_path / "o2"), *FAST], capsys)
    assert code == 0, err
    rows2 = json.loads((tmp_path / "o2" / "ablation.json").read_text())["rows"]
    assert [r["sdr"] for r in rows2] == pytest.approx([r["sdr"] for r in result["rows"]])


@pytest.fixture()
def librimix_like(tmp_path, speech_pair):
    """A LibriMix-style CSV of one mixture (2 s) whose ``mixture_path`` is written by ``write(sum_of_sources)``."""
    sources = speech_pair.numpy()
    for s in (1, 2):
        (tmp_path / f"s{s}").mkdir()
        sf.write(tmp_path / f"s{s}" / "m0.wav", sources[s - 1], 8000, subtype="FLOAT")
    (tmp_path / "mixture_test.csv").write_text("mixture_ID,mixture_path,source_1_path,source_2_path\n"
                                               "m0,mix/m0.wav,s1/m0.wav,s2/m0.wav\n")

    def write(make):
        (tmp_path / "mix").mkdir(exist_ok=True)
        sf.write(tmp_path / "mix" / "m0.wav", make(sources.sum(0)), 8000, subtype="FLOAT")
        return tmp_path / "mixture_test.csv"
    return write


def test_mixture_file_is_checked_against_the_rule_or_scored_with_mix_file(librimix_like, tmp_path, capsys):
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(16000)
    args = ["--masks", "ibm", "--upsampled", "mask", "--methods", "nearest", "--spaces", "cartesian"]
    # Music instead of the two voices: refused under the default rule, naming the file.
    music = librimix_like(lambda mix: 0.3 * np.sin(2 * np.pi * 440 * np.arange(len(mix)) / 8000))
    code, _, err = run(["--dataset", music, *args, "--out", tmp_path / "o"], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "mix/m0.wav: the mixture file is not the sum of its sources" in err and "pass --mix file" in err
    code, _, err = run(["--dataset", music, "--mix", "mean", *args, "--out", tmp_path / "o"], capsys)
    assert code == 2 and "is not the mean of its sources" in err
    assert not (tmp_path / "o").exists()
    # The true sum is a clean mixture of its sources: it can be studied under either rule.
    clean = librimix_like(lambda mix: mix)
    code, _, err = run(["--dataset", clean, "--mix", "mean", *args, "--out", tmp_path / "o"], capsys)
    assert code == 0, err
    scores = {}
    for name, make, mix in (("sum", lambda m: m, "sum"), ("file_clean", lambda m: m, "file"),
                            ("file_noisy", lambda m: m + 0.1 * np.std(m) * noise, "file")):
        code, _, err = run(["--dataset", librimix_like(make), "--mix", mix, *args, "--out", tmp_path / name], capsys)
        assert code == 0, err
        rows = json.loads((tmp_path / name / "ablation.json").read_text())["rows"]
        scores[name] = next(r for r in rows if r["upsampled"] == "none")["sdr"]
    # The file is what is separated: the clean file scores as the sum, the noisy one (20 dB SNR) lower.
    assert scores["file_clean"] == pytest.approx(scores["sum"], abs=1e-3)
    assert scores["file_noisy"] < scores["sum"] - 0.5


def test_mix_file_needs_a_csv_with_mixture_paths(clips, tmp_path, capsys):
    code, _, err = run(["--sources", clips / "a.wav", clips / "b.wav", "--mix", "file", "--out", tmp_path / "o"],
                       capsys)
    assert code == 2 and err.count("\n") == 1 and "--mix file: needs a --dataset CSV with a mixture_path" in err
    assert not (tmp_path / "o").exists()
    (tmp_path / "gone.csv").write_text(f"mixture_ID,mixture_path,source_1_path,source_2_path\n"
                                       f"m0,mix/m0.wav,{clips / 'a.wav'},{clips / 'b.wav'}\n")
    code, _, err = run(["--dataset", tmp_path / "gone.csv", "--out", tmp_path / "o"], capsys)
    assert code == 2 and "mix/m0.wav: listed in" in err and "as a mixture_path but no such file" in err


def test_silent_source_gives_null_not_nan(tmp_path, clips, capsys):
    sf.write(tmp_path / "silent.wav", np.zeros(12000), 8000)
    code, out, err = run(["--sources", str(clips / "a.wav"), str(tmp_path / "silent.wav"), "--masks", "ibm,irm,cirm",
                          "--out", str(tmp_path / "o"), *FAST], capsys)
    assert code == 0, err
    text = (tmp_path / "o" / "ablation.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    rows = json.loads(text)["rows"]
    assert all(r["sar"] is None and r["sir"] is None for r in rows)  # undefined with a silent reference
    assert all(r["sdr"] is not None and math.isfinite(r["sdr"]) for r in rows)  # the active source's SDR
    assert "n/a" in out


def test_different_lengths_are_trimmed(tmp_path, clips, capsys):
    sf.write(tmp_path / "short.wav", sf.read(clips / "b.wav")[0][:9000], 8000)
    code, _, err = run(["--sources", str(clips / "a.wav"), str(tmp_path / "short.wav"), "--masks", "cirm",
                        "--out", str(tmp_path / "o"), *FAST], capsys)
    assert code == 0
    assert "trimmed to the shortest, 9000 samples" in err


def test_different_rates_resampled_on_request(tmp_path, clips, capsys):
    wav = sf.read(clips / "b.wav")[0]
    sf.write(tmp_path / "b16k.wav", np.interp(np.arange(24000) / 2, np.arange(12000), wav), 16000)
    sources = ["--sources", str(clips / "a.wav"), str(tmp_path / "b16k.wav"), "--masks", "cirm", *FAST]
    code, _, err = run([*sources, "--out", str(tmp_path / "bad")], capsys)
    assert code == 2 and "sample rates differ" in err and "b16k.wav (16000 Hz)" in err
    assert not (tmp_path / "bad").exists()
    code, _, err = run([*sources, "--sample-rate", "8000", "--out", str(tmp_path / "ok")], capsys)
    assert code == 0 and "resampled 16000 Hz -> 8000 Hz" in err
    assert json.loads((tmp_path / "ok" / "ablation.json").read_text())["config"]["sample_rate"] == 8000


def _bad_files(tmp_path, clips):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("not audio at all\n")
    nan = sf.read(clips / "b.wav")[0].astype(np.float32)
    nan[100] = np.nan
    sf.write(tmp_path / "nan.wav", nan, 8000, subtype="FLOAT")
    sf.write(tmp_path / "stereo.wav", np.zeros((12000, 2)), 8000)
    a = str(clips / "a.wav")
    return [
        (["--sources", a, str(tmp_path / "missing.wav")], "missing.wav: no such file"),
        (["--sources", a, str(tmp_path / "empty.wav")], "empty.wav: file is empty"),
        (["--sources", a, str(tmp_path / "text.wav")], "text.wav: not a readable audio file"),
        (["--sources", a, str(tmp_path / "nan.wav")], "nan.wav: contains NaN or Inf samples"),
        (["--sources", a, str(tmp_path / "stereo.wav")], "stereo.wav: expected mono audio, found 2 channels"),
        (["--sources", a], "need at least two source files, got 1"),
        (["--sources", a, a, "--factor", "3"], "factor: factor 3 does not divide the 512 frequency bins"),
        (["--sources", a, a, "--masks", "ibm,foo"], "unknown mask kind 'foo'"),
        (["--sources", a, a, "--mix", "median"], "unknown mix 'median'; choose from sum, mean"),
        (["--sources", a, a, "--n-fft", "1023"], "n_fft must be an even integer"),
        (["--dataset", str(tmp_path / "nowhere")], "nowhere: no such file or folder"),
    ]


def test_bad_input_one_line_error_exit_2_nothing_written(tmp_path, clips, capsys):
    for args, message in _bad_files(tmp_path, clips):
        out_dir = tmp_path / "out"
        code, out, err = run([*args, "--out", str(out_dir)], capsys)
        assert code == 2, (args, err)
        assert message in err, (message, err)
        assert err.startswith("bssmask ablate: error:") and err.count("\n") == 1, err
        assert not out_dir.exists()


def test_bad_csv_columns_and_paths(tmp_path, capsys):
    (tmp_path / "cols.csv").write_text("mixture_ID,source_1_path\nm0,a.wav\n")
    code, _, err = run(["--dataset", str(tmp_path / "cols.csv"), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "cols.csv: missing column(s) source_2_path" in err
    (tmp_path / "paths.csv").write_text("mixture_ID,source_1_path,source_2_path\nm0,a.wav,b.wav\n")
    code, _, err = run(["--dataset", str(tmp_path / "paths.csv"), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "a.wav: listed in" in err and "paths.csv but no such file" in err
    assert not (tmp_path / "o").exists()
