"""Learned projections onto English: exact/approximate recovery, splits, files, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from xstilts.alignment import (
    Projection,
    align_and_evaluate,
    fit_linear_gd,
    fit_lstsq,
    fit_procrustes,
    fit_projection,
    split_pairs,
)
from xstilts.alignment.projections import align_language
from xstilts.cli import app

runner = CliRunner()


def _rotation(d: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q * np.sign(np.diag(r))


@pytest.fixture()
def rotated():
    x = np.random.default_rng(0).normal(size=(200, 12))
    rotation = _rotation(12, 1)
    return x, x @ rotation, rotation


def test_closed_forms_recover_a_rotation_exactly(rotated):
    x, y, rotation = rotated
    for fit in (lambda a, b: fit_lstsq(a, b, ridge=0.0), fit_procrustes):
        np.testing.assert_allclose(fit(x, y).matrix, rotation, atol=1e-9)
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(12), atol=1e-12)


def test_ridge_lstsq_shrinks_toward_the_identity(rotated):
    x, y, rotation = rotated
    # Noise-free data: a small ridge stays close to the exact map ...
    assert np.abs(fit_lstsq(x, y, ridge=1e-3).matrix - rotation).max() < 1e-3
    # ... a huge one stays at the identity, and the default lies in between.
    np.testing.assert_allclose(fit_lstsq(x, y, ridge=1e9).matrix, np.eye(12), atol=1e-5)
    default = fit_lstsq(x, y).matrix
    assert 0 < np.abs(default - rotation).max() < np.abs(np.eye(12) - rotation).max()
    # With fewer pairs than dimensions plain least squares is underdetermined; ridge is not.
    few_x, few_y = x[:8], y[:8]
    w = fit_lstsq(few_x, few_y).matrix
    assert np.isfinite(w).all() and np.linalg.matrix_rank(w) == 12
    with pytest.raises(ValueError, match="ridge"):
        fit_lstsq(x, y, ridge=-1)


def test_procrustes_returns_an_orthogonal_map_even_with_noise(rotated):
    x, y, _ = rotated
    noisy = y + np.random.default_rng(2).normal(scale=0.3, size=y.shape)
    w = fit_procrustes(x, noisy).matrix
    np.testing.assert_allclose(w.T @ w, np.eye(12), atol=1e-9)


def test_linear_gd_recovers_a_rotation_approximately(rotated):
    x, y, rotation = rotated
    mse = fit_linear_gd(x, y, loss="mse", lr=1e-2, steps=300)
    assert np.abs(mse.matrix - rotation).max() < 0.1
    # The cosine loss ignores scale, so judge it by the directions it produces.
    cosine = fit_linear_gd(x, y, lr=1e-2, steps=300)
    y_unit = y / np.linalg.norm(y, axis=1, keepdims=True)
    assert (cosine.apply(x) * y_unit).sum(axis=1).mean() > 0.99
    again = fit_linear_gd(x, y, lr=1e-2, steps=300)
    np.testing.assert_array_equal(cosine.matrix, again.matrix)  # seeded
    with pytest.raises(ValueError, match="loss"):
        fit_linear_gd(x, y, loss="l1")


def test_split_is_disjoint_complete_and_seeded():
    train, test = split_pairs(1000, 0.6, seed=3)
    assert (train.size, test.size) == (600, 400)
    assert not set(train) & set(test) and set(train) | set(test) == set(range(1000))
    np.testing.assert_array_equal(train, split_pairs(1000, 0.6, seed=3)[0])
    assert not np.array_equal(train, split_pairs(1000, 0.6, seed=4)[0])
    for bad in (0.0, 1.0):
        with pytest.raises(ValueError):
            split_pairs(10, bad)


def test_apply_renormalises_and_checks_width(rotated):
    x, y, _ = rotated
    projection = Projection("scale", 3.0 * np.eye(12), bias=np.ones(12))
    np.testing.assert_allclose(np.linalg.norm(projection.apply(x), axis=1), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="width"):
        projection.apply(x[:, :5])


@pytest.mark.parametrize("with_bias", [False, True])
def test_save_load_round_trip(tmp_path, rotated, with_bias):
    x, _, rotation = rotated
    bias = np.linspace(-1, 1, 12) if with_bias else None
    original = Projection("procrustes", rotation, bias, {"language": "sw"})
    folder = original.save(tmp_path / "proj")
    assert sorted(p.name for p in folder.iterdir()) == ["projection.json",
                                                        "projection.safetensors"]
    loaded = Projection.load(folder)
    assert loaded.method == "procrustes" and loaded.metadata == {"language": "sw"}
    np.testing.assert_allclose(loaded.apply(x), original.apply(x), atol=1e-5)
    meta = json.loads((folder / "projection.json").read_text())
    meta["shape"] = [3, 3]
    (folder / "projection.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="do not match"):
        Projection.load(folder)


def test_unknown_method_is_refused(rotated):
    x, y, _ = rotated
    with pytest.raises(ValueError, match="method"):
        fit_projection("cca", x, y)


def test_alignment_improves_held_out_retrieval_of_a_rotated_space():
    rng = np.random.default_rng(5)
    english = rng.normal(size=(300, 16))
    other = english @ _rotation(16, 6).T + rng.normal(scale=0.2, size=english.shape)
    rows = align_language("xx", other, english, ("lstsq", "procrustes", "linear-gd"))
    for row in rows:
        assert row["n_train"] == 180 and row["n_test"] == 120
        assert row["before"] < 0.3 and row["after"] > row["before"] + 0.3, row
    assert {r["method"] for r in rows} == {"lstsq", "procrustes", "linear-gd"}


def test_align_and_evaluate_payload_on_tiny(shared_data):
    from xstilts.models import load_encoder

    payload = align_and_evaluate(load_encoder("tiny:random"), ["sw"], shared_data,
                                 methods=("procrustes",), max_pairs=50)
    (row,) = payload["results"]
    assert (row["n_train"], row["n_test"]) == (30, 20)
    assert payload["split"]["train_fraction"] == 0.6


def test_cli_align_json_on_real_tatoeba(shared_data):
    result = runner.invoke(app, ["align", "--model", "tiny:random", "--task", "tatoeba",
                                 "--langs", "de,sw", "--method", "all", "--max-pairs", "60",
                                 "--data-dir", str(shared_data), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["task"] == "tatoeba" and payload["model"] == "tiny:random"
    assert len(payload["results"]) == 6
    for row in payload["results"]:
        assert {"language", "method", "before", "after", "n_train", "n_test"} <= set(row)
        assert (row["n_train"], row["n_test"]) == (36, 24)
    human = runner.invoke(app, ["align", "--model", "tiny:random", "--langs", "sw",
                                "--method", "procrustes", "--max-pairs", "30",
                                "--data-dir", str(shared_data)])
    assert human.exit_code == 0 and "procrustes" in human.stdout
    bad = runner.invoke(app, ["align", "--model", "tiny:random", "--method", "cca",
                              "--data-dir", str(shared_data)])
    assert bad.exit_code == 2 and "unknown method" in bad.stderr
