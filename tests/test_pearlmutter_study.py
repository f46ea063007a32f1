"""The pearlmutter-trajectories study on a quick run: Brian2's adjoint and JAX train the same network."""

import numpy as np
import pytest


def test_pearlmutter_study_quick_run_trains_brian2_and_jax_alike(tmp_path, summary_vocabulary):
    pytest.importorskip("jax")
    from brian2learn.studies import pearlmutter_trajectories as study
    from brian2learn.studies.runs import load_run

    options = study.Options(quick=True, iterations=12, cases=("circle",), free_periods=5,
                            robustness_seeds=2, out=str(tmp_path / "run"))
    summary = study.run(options)
    summary_vocabulary(summary, spiking=False)
    methods = summary["cases"]["circle"]["methods"]
    assert set(methods) == {"ctbptt", "jax-bptt", "rflo"}
    run = load_run(str(tmp_path / "run"))
    curves = run.tables["learning_curves"]
    brian2 = curves[curves["method"] == "ctbptt"]["loss"].to_numpy()
    jax = curves[curves["method"] == "jax-bptt"]["loss"].to_numpy()
    # the same updates from the same exact gradients: Brian2's adjoint and JAX train the same network
    np.testing.assert_allclose(brian2, jax, rtol=1e-9)
    assert len(brian2) == 12 and brian2[-1] < brian2[0]
    assert methods["jax-bptt"]["max_weight_difference_to_ctbptt"] < 1e-9
    free = run.tables["free_running"]
    steps_per_period = int(study.PROTOCOL["period_s"] / study.PROTOCOL["dt_s"])
    window = study.PROTOCOL["window_periods"] * steps_per_period
    for method in ("ctbptt", "jax-bptt", "rflo"):
        rows = free[free["method"] == method]
        assert len(rows) == window + 5 * steps_per_period + 1
    # Brian2's free run and the numpy forward of the JAX network agree where the networks agree
    b = free[free["method"] == "ctbptt"][["y0", "y1"]].to_numpy()
    j = free[free["method"] == "jax-bptt"][["y0", "y1"]].to_numpy()
    np.testing.assert_allclose(b, j, atol=1e-8)
    assert summary["claims"]["eight_traced_with_hidden_units"] is None  # not run
    robust = run.tables["robustness"]
    assert list(robust["seed"]) == [1, 2]
    # seed 1 of the robustness check is the main run's network, trained by JAX
    assert robust["final_rms_error"].iloc[0] == pytest.approx(methods["jax-bptt"]["final_rms_error"], rel=1e-12)
    (tmp_path / "again").mkdir()
    assert "trajectories.png" in study.plot_run(run, str(tmp_path / "again"))
