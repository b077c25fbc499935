"""Tests for the degradation experiment: resnet_helpers.degradation, its script
data/experiments/degradation.py, the results it ships, and resnet_helpers.depth_plots.
"""

import copy
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from resnet_helpers import degradation, depth_plots  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "data" / "experiments" / "degradation.py"
SHIPPED = ROOT / "data" / "experiments" / "degradation.json"
QUICK_BUDGET_SECONDS = 120
NETWORKS = [("plain", 20), ("plain", 56), ("residual", 20), ("residual", 56)]


def synthetic_results(depths=(8, 14), seeds=(1, 2), epochs=3, seed=0):
    """A results dict of the saved structure, its numbers drawn by NumPy."""
    rng = np.random.default_rng(seed)
    runs = [{"kind": kind, "depth": depth, "seed": s,
             "train_loss": rng.uniform(0.01, 2, epochs).tolist(),
             "train_error": rng.uniform(0, 0.8, epochs).tolist(),
             "running_train_loss": rng.uniform(0.01, 2, epochs).tolist(),
             "grad_norms": rng.uniform(0.1, 10, depth).tolist()}
            for s in seeds for depth in depths for kind in ("plain", "residual")]
    return {"depths": list(depths), "runs": runs, "settings": {"epochs": epochs},
            "seconds": 1.5, "created": "2026-01-01T00:00:00", "machine": "test"}


@pytest.mark.slow
def test_quick_run_writes_results_of_the_saved_structure_in_time(tmp_path):
    """Does `--quick` finish within 2 minutes and write a file load_results accepts?"""
    out = tmp_path / "quick.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.pathsep.join(
        [str(ROOT), str(ROOT / "solutions" / "residual_networks")]))
    started = time.perf_counter()
    command = [sys.executable, str(SCRIPT), "--quick", "--out", str(out)]
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=3 * QUICK_BUDGET_SECONDS)
    seconds = time.perf_counter() - started
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert seconds < QUICK_BUDGET_SECONDS, f"the quick run took {seconds:.0f} s"
    results = degradation.load_results(out)
    settings = degradation.QUICK_RUN
    assert results["depths"] == [8, 14]
    assert len(results["runs"]) == 2 * len(settings.blocks) * len(settings.seeds)
    assert all(len(run["train_loss"]) == settings.epochs for run in results["runs"])
    assert results["settings"]["num_examples"] == settings.num_examples
    assert "plain-14" in finished.stdout and f"saved {out}" in finished.stdout


def test_shipped_results_hold_three_seeds_of_four_networks():
    """Does the shipped file load, with seeds 1, 2 and 3 of each network?"""
    results = degradation.load_results(SHIPPED)
    assert results["depths"] == [20, 56]
    for kind, depth in NETWORKS:
        seeds = sorted(run["seed"] for run in runs_of(results, kind, depth))
        assert seeds == [1, 2, 3], f"{kind}-{depth} has seeds {seeds}"
    assert results["seconds"] <= 15 * 60, "the full run must fit in 15 minutes"


def test_shipped_results_show_what_the_notebook_says():
    """Is plain-56's median final training loss above plain-20's and residual-56's?"""
    medians = degradation.final_medians(degradation.load_results(SHIPPED))
    plain_56 = medians[("plain", 56)][0]
    assert plain_56 > medians[("plain", 20)][0], medians
    assert plain_56 > medians[("residual", 56)][0], medians


def runs_of(results, kind, depth):
    return [r for r in results["runs"] if (r["kind"], r["depth"]) == (kind, depth)]


def write_json(path, value):
    path.write_text(json.dumps(value))
    return path


@pytest.mark.parametrize("break_it, message", [
    (lambda r: r.pop("runs"), "the top level lacks the key 'runs'"),
    (lambda r: r.update(seconds="fast"), "'seconds' has type str"),
    (lambda r: r["settings"].pop("epochs"), "settings should give the number of"),
    (lambda r: r["runs"][1].update(kind="dense"), r"runs\[1\]: kind 'dense' is not"),
    (lambda r: r["runs"][0].update(depth=20), r"runs\[0\]: depth 20 is not in"),
    (lambda r: r["runs"][2]["train_loss"].pop(), r"runs\[2\]: train_loss should hold"),
    (lambda r: r["runs"][0]["train_error"].__setitem__(0, "x"), "train_error should"),
    (lambda r: r["runs"][1]["grad_norms"].append(1.0), "hold 8 numbers.*found 9"),
    (lambda r: r["runs"][0].pop("seed"), r"runs\[0\] lacks the key 'seed'"),
])
def test_broken_results_are_refused_naming_file_and_fault(tmp_path, break_it, message):
    """Does load_results refuse a broken file, saying which file and what is wrong?"""
    results = copy.deepcopy(synthetic_results())
    break_it(results)
    path = write_json(tmp_path / "broken.json", results)
    with pytest.raises(ValueError, match=message) as caught:
        degradation.load_results(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", None])
def test_unreadable_results_are_refused(tmp_path, text):
    """Are a missing file, a file that is not JSON, and a JSON list refused by name?"""
    path = tmp_path / "results.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ValueError, match=str(path)):
        degradation.load_results(path)


def test_saved_results_round_trip_with_five_significant_digits(tmp_path):
    """Are floats saved to 5 significant digits, and does the file load again?"""
    results = synthetic_results()
    results["runs"][0]["train_loss"][0] = 0.123456789
    results["seconds"] = 1234.56789
    path = degradation.save_results(results, tmp_path / "deep" / "results.json")
    loaded = degradation.load_results(path)
    assert loaded["runs"][0]["train_loss"][0] == 0.12346
    assert loaded["seconds"] == 1234.6


def test_find_results_follows_the_signs_data_folder(monkeypatch, tmp_path):
    """Is the results file looked for in the data folder SIGNS_DATA_DIR names?"""
    monkeypatch.setenv("SIGNS_DATA_DIR", str(tmp_path))
    assert degradation.find_results() == tmp_path / "experiments" / "degradation.json"
    monkeypatch.delenv("SIGNS_DATA_DIR")
    assert degradation.find_results() == SHIPPED


def test_shrink_images_averages_blocks_of_pixels():
    """Is each pixel of the small picture the mean of its block in the large one?"""
    images = np.random.default_rng(3).random((2, 8, 8, 3), dtype=np.float32)
    small = degradation.shrink_images(images, 2)
    assert small.shape == (2, 2, 2, 3) and small.dtype == np.float32
    block = images[1, :4, 4:]  # rows 0-3, columns 4-7: pixel (0, 1) of the small one
    np.testing.assert_allclose(small[1, 0, 1], block.mean(axis=(0, 1)), rtol=1e-6)


@pytest.mark.parametrize("size", [0, 3, 16])
def test_sizes_that_do_not_divide_the_picture_are_refused(size):
    """Is an image size that does not divide 8 pixels refused, naming it?"""
    with pytest.raises(ValueError, match=f"received {size}"):
        degradation.shrink_images(np.zeros((1, 8, 8, 3)), size)


def test_schedule_warms_up_then_divides_by_ten_twice():
    """Is the rate a tenth for an epoch, then whole, /10 at 1/2 and /100 at 3/4?"""
    settings = degradation.FULL_RUN
    schedule = degradation.learning_rate_schedule(settings, 1080)
    steps = 34 * settings.epochs  # ceil(1080 / 32) = 34 steps an epoch
    rate = settings.learning_rate
    for step, expected in [(0, rate / 10), (34, rate / 10), (35, rate),
                           (steps // 2, rate), (steps // 2 + 1, rate / 10),
                           (steps - 1, rate / 100)]:
        assert float(schedule(step)) == pytest.approx(expected), step


def test_warmup_of_half_the_run_is_refused():
    """Is a warm-up as long as half the epochs refused, naming it?"""
    settings = dataclasses.replace(degradation.QUICK_RUN, warmup_epochs=2)
    with pytest.raises(ValueError, match="received 2"):
        degradation.learning_rate_schedule(settings, 128)


def test_summary_has_a_row_per_network():
    """Does the summary list every network with its seeds, median loss and error?"""
    results = synthetic_results()
    lines = degradation.format_summary(results).splitlines()
    assert [line.split()[0] for line in lines[1:5]] == [
        "plain-8", "plain-14", "residual-8", "residual-14"]
    plain_8 = [run["train_loss"][-1] for run in runs_of(results, "plain", 8)]
    assert lines[1].split()[1:3] == ["2", f"{np.median(plain_8):.4f}"]


def test_gradient_plot_has_a_line_per_network():
    """Is there one axes, log-scaled, with a line of `depth` points per network?"""
    figure = depth_plots.plot_gradient_norms(synthetic_results())
    (ax,) = figure.axes
    assert ax.get_yscale() == "log"
    assert sorted(len(line.get_xdata()) for line in ax.get_lines()) == [8, 8, 14, 14]
    plt.close(figure)


def test_training_curves_have_a_median_line_and_a_band_per_network():
    """Are loss and error drawn for 4 networks, each a median line and a seed band?"""
    results = synthetic_results()
    figure = depth_plots.plot_depth_training_curves(results)
    loss_ax, error_ax = figure.axes
    assert loss_ax.get_yscale() == "log"
    for ax, key in ((loss_ax, "train_loss"), (error_ax, "train_error")):
        assert len(ax.get_lines()) == 4 and len(ax.collections) == 4
        first = ax.get_lines()[0]  # plain-8, the first network drawn
        curves = [run[key] for run in runs_of(results, "plain", 8)]
        np.testing.assert_allclose(first.get_ydata(), np.median(curves, axis=0))
    plt.close(figure)
