"""The best-evaluated checkpoint kept beside the newest ones (trirl.continuous.checkpoint.BestEvaluation),
on plain numpy states: no JAX needed."""

import numpy as np

from trirl.continuous.checkpoint import BestEvaluation
from trirl.rundir import RunDir, best_checkpoint_file, read_checkpoint, read_metrics


def _step(run, best, iteration, value):
    row = best.row(iteration, {"iteration": iteration, "eval_return": value})
    run.log(row)
    state = {"w": np.full(2, float(iteration))}
    run.save_checkpoint(iteration, state, {"iteration": iteration})
    best.save(state, row)
    return row


def test_rows_name_the_best_so_far_and_its_state_is_kept_after_pruning(tmp_path):
    run = RunDir(tmp_path, {"a": 1}, keep=2)
    best = BestEvaluation(run)
    rows = [_step(run, best, i, value) for i, value in enumerate([1.0, 3.0, 0.5, 2.0, 2.5], start=1)]
    assert [(r["best_iteration"], r["best_eval_return"]) for r in rows] == [(1, 1.0), (2, 3.0), (2, 3.0), (2, 3.0), (2, 3.0)]
    assert best_checkpoint_file(tmp_path).name == "best_step_00000002.npz"
    assert best.row(6, {"iteration": 6, "eval_return": float("nan")})["best_iteration"] == 2  # never a best
    kept = read_checkpoint(best_checkpoint_file(tmp_path))
    np.testing.assert_array_equal(*kept.arrays.values(), [2.0, 2.0])
    assert kept.meta == {"iteration": 2, "eval_return": 3.0}
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("*.npz")) == [
        "best_step_00000002.npz", "step_00000004.npz", "step_00000005.npz"]
    run.close()


def test_a_best_written_after_the_checkpoint_resumed_from_is_dropped(tmp_path):
    run = RunDir(tmp_path, {"a": 1})
    best = BestEvaluation(run)
    _step(run, best, 1, 1.0)
    run.log(best.row(2, {"iteration": 2, "eval_return": 5.0}))  # killed before iteration 2's checkpoint
    best.save({"w": np.zeros(2)}, {"iteration": 2, "best_iteration": 2})
    run.close()
    run = RunDir(tmp_path, {"a": 1}, resume=True)  # metrics end at iteration 1 again
    best = BestEvaluation(run)
    assert (best.iteration, best.value) == (1, 1.0)
    assert best_checkpoint_file(tmp_path).name == "best_step_00000001.npz"
    run.close()


def test_a_run_from_before_starts_from_its_best_evaluated_kept_checkpoint(tmp_path):
    run = RunDir(tmp_path, {"a": 1}, keep=3)
    for iteration, value in enumerate([9.0, 1.0, 4.0, 2.0, None], start=1):  # 9.0's checkpoint gets pruned
        run.log({"iteration": iteration, **({} if value is None else {"eval_return": value})})
        run.save_checkpoint(iteration, {"w": np.full(2, float(iteration))}, {"iteration": iteration})
    run.close()
    run = RunDir(tmp_path, {"a": 1}, resume=True)
    best = BestEvaluation(run)
    assert (best.iteration, best.value) == (3, 4.0)
    kept = read_checkpoint(best_checkpoint_file(tmp_path))
    assert kept.step == 3 and kept.meta == {"iteration": 3, "eval_return": 4.0}
    np.testing.assert_array_equal(*kept.arrays.values(), [3.0, 3.0])
    assert read_metrics(tmp_path)[-1] == {"iteration": 5}  # the rows are not rewritten
    assert BestEvaluation(run).iteration == 3  # reopened: the file is the best
    best_checkpoint_file(tmp_path).unlink()
    (tmp_path / "checkpoints" / "step_00000003.npz").write_bytes(b"cut")  # damaged: the next best is taken
    assert (BestEvaluation(run).iteration, best_checkpoint_file(tmp_path).name) == (4, "best_step_00000004.npz")
    run.close()
    empty = RunDir(tmp_path / "new", {"a": 1})
    assert BestEvaluation(empty).iteration is None and best_checkpoint_file(empty.path) is None
    empty.close()
