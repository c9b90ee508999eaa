"""The paper's Table 1 as one command: train, retrain and transfer every variant, then aggregate.

::

    trirl bench table1 [--study continuous/table1_point_maze.toml] [--runs runs/NAME]
        [--out continuous/results/NAME] [--only VARIANT,... | --shard K/N | --aggregate] [--no-progress]

A study spec (TOML, ``continuous/table1_point_maze.toml``) names the environment, the transfer
environment, the variants (a train config, optionally with ``algo`` replaced by a baseline), the
seeds and budgets, and the paper's numbers. For every variant the command runs three stages
(Section 5.1 of the paper), each into ``RUNS/<variant>/<stage>``:

``training``
    :func:`trirl.continuous.train.train`, all seeds vmapped; the score of a seed is its final
    deterministic evaluation.
``retraining``
    :func:`trirl.continuous.retrain.retrain`: fresh PPO seeds (``[retrain] seed``) on the frozen
    learnt reward of each seed, in the training environment; before it,
    :func:`~trirl.continuous.retrain.diagnose` (point maze: where the reward overpays, and the
    landscape figure of seed 0).
``transfer``
    the same in ``transfer_env`` (the paper: the flipped maze, the disabled Ant).

**Control.** PPO on the true reward with the same fresh seeds, budget and PPO config, in both
environments. Its result depends only on those, so it is trained once per environment and PPO
config (by the first variant that needs it, recorded as ``control_from``) and shared.

**Resume.** A stage whose ``result.json`` exists is skipped (after checking that its
configuration is the one the spec asks for now); an interrupted training stage resumes from its
newest checkpoint (:class:`trirl.rundir.RunDir`); an interrupted retraining stage restarts (it has
no checkpoints; it is minutes). Each running stage holds its run directory's lock, so two
invocations on one ``--runs`` folder refuse each other's stages; ``--only`` splits the variants
between processes (or leaves some out: the table then lists them as ``not_run``).

**Job arrays.** ``--shard K/N`` runs the K-th of N disjoint sets of stages (:func:`shard_variants`:
a variant's stages stay together, each control is trained once, by its owner's shard), one array
task each (Slurm: ``--array=1-N`` and ``--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT``), all
on one shared ``--runs`` folder; then ``--aggregate`` runs nothing and builds the table from the
stages found there (:func:`saved_results`), the same table one process writes. Variants with stages
still missing are listed in ``not_run`` and ``missing_stages``, so the table accumulates over
sittings. Ctrl-C stops after the training iteration under way; running the same command
again continues.

The stage machinery it shares with ``trirl bench suite`` (a stage's completion record, the
training stage with resume, ``--shard``, expert normalisation) is :mod:`trirl.bench.study`.

**Aggregate.** Scores are expert-normalised returns (deterministic expert 1, uniform random
actions 0: the env's ``returns.json``, paper Table 8). Per variant and stage: the per-seed values,
their interquartile mean (IQM) and mean, each with a 95 % stratified bootstrap confidence interval
from ``rliable`` (Agarwal et al., 2021; the paper's Table 3 reports the same statistic), the
control's, and the paper's number. In the training environment the same returns are also scored
with the demonstrations' mean return as 1 (``demonstrator_normalised``): a stochastic demonstrator
scores below its own deterministic mean policy, so on that scale a policy that matches the
expert's mean scores above 1 (the paper's training values of 1.03 suggest its scale). ``--out`` gets ``NAME.json`` (also the machine, the command,
the commit, the budgets and the wall clock of every stage), ``table1.png`` (per stage, IQM with CI
per variant, every seed, the control's band and the paper's value) and ``learning_curves.png``
(paper Fig. 8 style: every seed a thin line, the IQM bold), plus ``landscape_<variant>.png`` where
:func:`~trirl.continuous.retrain.diagnose` draws one.
"""


from trirl.bench.table1.aggregate import aggregate
from trirl.bench.table1.figures import (CONTROL_LABEL, CURVE_IQM_LABEL, IQM_LABEL, MEAN_LABEL, PAPER_LABEL,
                                        SEEDS_LABEL, format_table, plot_curves, plot_table, write_outputs)
from trirl.bench.study import RESULT_FILE
from trirl.bench.table1.spec import (STAGES, Study, TrainBudget, Variant, load_study, resolve_study,
                                     study_demos, train_config)
from trirl.bench.table1.stages import (StudyInterrupted, control_owners, parse_shard, retraining_record, run_retraining,
                                       run_study, run_training, saved_results, shard_variants, training_record)
from trirl.bench.table1.cli import main
from trirl.stats import interval_estimates

__all__ = ["CONTROL_LABEL", "CURVE_IQM_LABEL", "IQM_LABEL", "MEAN_LABEL", "PAPER_LABEL", "RESULT_FILE", "SEEDS_LABEL",
           "STAGES", "Study", "StudyInterrupted", "TrainBudget", "Variant", "aggregate", "control_owners",
           "format_table", "interval_estimates", "load_study", "main", "parse_shard", "plot_curves", "plot_table",
           "resolve_study", "retraining_record", "run_retraining", "run_study", "run_training", "saved_results",
           "shard_variants", "study_demos", "train_config", "training_record", "write_outputs"]
