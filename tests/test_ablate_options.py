"""``bssmask ablate`` at dataset scale: --metrics, --jobs, --device, and a help that imports no torch."""

import dataclasses
import json
import subprocess
import sys

import pytest
import soundfile as sf
import torch

from bssmask import tables
from bssmask.cli import main

FAST = ["--masks", "ibm,cirm", "--methods", "nearest", "--spaces", "cartesian", "--n-fft", "254", "--hop", "64"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, speech_pair):
    """A folder dataset (s1/, s2/) of three 0.6 s mixtures cut from the bundled speech."""
    root = tmp_path_factory.mktemp("ds")
    wavs = speech_pair.numpy()
    for s in (1, 2):
        (root / f"s{s}").mkdir()
        for k in range(3):
            sf.write(root / f"s{s}" / f"m{k}.wav", wavs[s - 1, k * 5000:k * 5000 + 4800], 8000, subtype="FLOAT")
    return root


def ablate(args, capsys):
    code = main(["ablate", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def result(folder):
    return json.loads((folder / "ablation.json").read_text())


def test_jobs_2_gives_the_results_of_jobs_1(dataset, tmp_path, capsys):
    outputs = {}
    for jobs in (1, 2):
        code, out, err = ablate(["--dataset", dataset, *FAST, "--jobs", jobs, "--out", tmp_path / str(jobs)], capsys)
        assert code == 0, err
        assert "scored 3 mixtures in" in err and f"each of {jobs} process(es)" in err
        outputs[jobs] = out
    assert outputs[1] == outputs[2]
    one, two = result(tmp_path / "1"), result(tmp_path / "2")
    assert one["rows"] == two["rows"] and one["config"]["n_mixtures"] == 3
    per_mixture = [(tmp_path / j / "ablation_per_mixture.csv").read_text() for j in ("1", "2")]
    assert per_mixture[0] == per_mixture[1]


def test_metrics_subset_keeps_the_values_of_the_full_run_and_leaves_the_others_out(dataset, tmp_path, capsys):
    code, _, err = ablate(["--dataset", dataset, *FAST, "--jobs", "1", "--out", tmp_path / "all"], capsys)
    assert code == 0, err
    code, out, err = ablate(["--dataset", dataset, *FAST, "--jobs", "1", "--metrics", "si_sdr,sdr",
                             "--out", tmp_path / "some"], capsys)
    assert code == 0, err
    full, some = result(tmp_path / "all"), result(tmp_path / "some")
    assert some["config"]["metrics"] == ["sdr", "si_sdr"]
    assert [(r["mask"], r["upsampled"]) for r in some["rows"]] == [(r["mask"], r["upsampled"]) for r in full["rows"]]
    for kept, row in zip(some["rows"], full["rows"]):
        assert not {"sir", "sar", "l1", "sir_ci"} & set(kept)
        for metric in ("sdr", "si_sdr"):
            if min(kept[metric], row[metric]) > tables.DB_CEILING:
                continue   # an exact oracle: its value (and spread) above the ceiling varies at float precision
            assert kept[metric] == pytest.approx(row[metric], abs=1e-6)
            assert kept[f"{metric}_ci"] == pytest.approx(row[f"{metric}_ci"], abs=1e-6)
    header = next(line for line in out.splitlines() if line.startswith("| mask"))
    assert "si_sdr" in header and "sir" not in header
    assert "sar" not in (tmp_path / "some" / "ablation.csv").read_text().splitlines()[0]
    # Without any dB metric the rows are ordered by L1, smallest first.
    code, out, err = ablate(["--sources", dataset / "s1" / "m0.wav", dataset / "s2" / "m0.wav", *FAST,
                             "--metrics", "l1", "--out", tmp_path / "l1"], capsys)
    assert code == 0, err
    l1 = [r["l1"] for r in result(tmp_path / "l1")["rows"]]
    assert l1 == sorted(l1) and "Sorted by L1." in out


@pytest.mark.parametrize("args,message", [
    (["--metrics", "sdr,pesq"], "argument --metrics: unknown metric 'pesq'; choose from sdr, si_sdr, sir, sar, l1"),
    (["--metrics", ","], "argument --metrics: no metric given; choose from sdr, si_sdr, sir, sar, l1"),
    (["--jobs", "0"], "argument --jobs: expected a positive integer, got 0"),
])
def test_bad_metrics_and_jobs_are_one_line(args, message, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bssmask.cli", "ablate", *args, "--out", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "o").exists()


def test_device_auto_falls_back_to_the_cpu_with_a_note(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: auto picks it")
    code, _, err = ablate(["--masks", "ibm", "--methods", "nearest", "--spaces", "cartesian", "--device", "auto",
                           "--out", tmp_path], capsys)
    assert code == 0, err
    assert "note: --device auto: no CUDA GPU here, running on the CPU" in err
    assert result(tmp_path)["config"]["device"] == "cpu"


@pytest.mark.parametrize("args", [["--help"], ["ablate", "--help"], ["separate", "--help"], []])
def test_help_imports_no_torch(args):
    code = ("import sys\nfrom bssmask.cli import main\ntry:\n    main(%r)\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'asteroid', 'numpy', 'pytorch_lightning') if m in sys.modules]\n"
            "print('heavy:', heavy, file=sys.stderr)" % (args,))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and "usage: bssmask" in proc.stdout
    assert proc.stderr.strip() == "heavy: []"


def test_ablate_imports_no_lightning_and_plots_only_when_writing():
    code = ("import sys\nfrom bssmask import cli, ablation, device, adjacent_bins\nfrom bssmask.data import librimix\n"
            "print(sorted(m for m in ('pytorch_lightning', 'lightning', 'matplotlib', 'asteroid') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr


def test_a_run_imports_no_sympy_scipy_stats_or_pyplot(dataset, tmp_path):
    # Each cost the command a fraction of a second of start-up: torch.broadcast_shapes imported sympy,
    # scipy.stats.t the whole of scipy.stats, the plot pyplot.
    code = ("import sys\nfrom bssmask.cli import main\n"
            f"code = main(['ablate', '--dataset', {str(dataset)!r}, '--out', {str(tmp_path / 'out')!r}, '--jobs', '1', "
            f"{', '.join(map(repr, FAST))}])\n"
            "print(code, sorted(m for m in ('sympy', 'scipy.stats', 'matplotlib.pyplot') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip().splitlines()[-1] == "0 []", proc.stderr[-2000:]
    assert (tmp_path / "out" / "ablation.png").stat().st_size > 10_000


def test_repeated_grid_options_give_repeated_rows(speech_pair):
    from bssmask import ablation

    config = ablation.AblationConfig(masks=("ibm", "cirm", "ibm"), methods=("nearest", "bicubic", "nearest"),
                                     spaces=("polar", "cartesian", "polar"), n_fft=254, hop=64)
    rows, est, index = ablation.estimate_grid(speech_pair, config)
    assert rows == ablation.grid(config) and len(index) == len(rows) and est.shape[0] == max(index) + 1
    seen = {}
    for row, k in zip(rows, index):
        seen.setdefault(tuple(row.items()), k)
        assert seen[tuple(row.items())] == k  # a repeated row shares its estimate
    assert len(seen) < len(rows)


@pytest.mark.parametrize("down_method, shared", [("keep", 4), ("nearest", 4), ("bilinear", 0)])
def test_rows_share_an_estimate_only_where_every_space_gives_it(speech_pair, down_method, shared):
    # Nearest upsampling after a bin-copying downsampling is the same in the three spaces (2 rows saved for
    # each of mask and spectrogram); after bilinear downsampling the spaces differ and nothing is shared.
    from bssmask import ablation

    config = ablation.AblationConfig(masks=("cirm",), methods=("nearest", "bilinear"), n_fft=254, hop=64,
                                     down_method=down_method)
    rows, est, index = ablation.estimate_grid(speech_pair, config)
    assert len(rows) - est.shape[0] == shared
    for row, k in zip(rows, index):  # each row's estimate is the one its own space gives alone
        alone = dataclasses.replace(config, upsampled=(row["upsampled"],) if row["mode"] else ("mask",),
                                    methods=(row["mode"] or "nearest",), spaces=(row["space"] or "cartesian",))
        _, single, single_index = ablation.estimate_grid(speech_pair, alone)
        position = 0 if row["upsampled"] == "none" else -1
        torch.testing.assert_close(est[k], single[single_index[position]], rtol=0, atol=1e-6)
