"""The suite study as one command: every method on every task, seeds vmapped, then rliable's aggregates.

::

    trirl bench suite SPEC [--runs runs/NAME] [--out continuous/results/NAME]
        [--only TASK,METHOD,TASK/METHOD,...] [--shard K/N] [--max-minutes M | --aggregate] [--no-progress]

A suite spec (TOML, ``continuous/suite_cpu.toml``, read by :func:`trirl.configfile.read_config`)
names tasks (``[tasks.NAME]``: an environment, the train config every method starts from, the
environment steps per seed, the demonstrations and the task's base features) and methods
(``[methods.NAME]``: an algorithm, TRIRL's feature-based variant or not, and the discriminator's
input, ``(s, a)`` or ``(s, s')``), the seeds and the paper's values (Table 2). Each task x
method is one **stage**: a training run of all seeds vmapped into ``RUNS/<task>/<method>``
(:func:`trirl.bench.study.run_training`, the Table 1 study's), with the task's budget for every
method. A stage that cannot run is listed, not dropped: a task without an expert (no
``continuous/experts/<env>/returns.json``) or a feature-based method on a task without
features. A **control** task (``methods = [...]``, ``aggregate = false``) runs a few methods on
an environment again with other demonstrations; it is shown per task, outside the aggregates.

**Pieces.** ``--max-minutes M`` bounds a call: the training under way checkpoints when the
minutes run out, the table of what is done is written, and the command exits with status 3; the
same command continues (stages done are skipped after checking their configuration is the
spec's, a paused one resumes from its checkpoint). ``--only`` picks stages (by task, method or
``task/method``) and ``--shard K/N`` (every N-th of them from the K-th: a job array's task) so
that processes, machines or sittings share the work on one ``--runs`` folder; every call writes
the whole table of what that folder holds, and ``--aggregate`` writes it without running anything.

**Output** (``--out``): ``NAME.json`` with, per task and method, the per-seed expert-normalised
scores (expert 1, uniform random 0: paper Table 8) with IQM and mean and their 95 % stratified
bootstrap CIs; over the tasks where every method that can run is done, rliable's aggregate IQM
and mean (runs resampled within tasks), performance profiles and the probability of improvement
of the ``reference`` method over each other (Agarwal et al., 2021; :mod:`trirl.stats`); all-seed
learning curves; every stage's status (done, or missing and why); the paper's values beside
ours; the budget with its CPU hours at the measured throughput; the machine, the command and the
commit. ``suite.png`` draws the aggregates, the profiles, the probabilities of improvement and
the per-task scores; ``learning_curves.png`` every seed of every stage.
"""

from trirl.bench.suite.aggregate import PROFILE_TAU, aggregate, aggregated_tasks, budget, measured_throughput
from trirl.bench.suite.cli import PAUSED, main
from trirl.bench.suite.figures import (AGGREGATE_IQM_LABEL, AGGREGATE_MEAN_LABEL, NOTHING_YET, PAPER_LABEL, TITLES,
                                       format_table, plot_curves, plot_suite, write_outputs)
from trirl.bench.suite.run import run_suite, select, stage_states
from trirl.bench.suite.spec import METHOD_ALGOS, Method, Suite, SuiteSeeds, Task, load_suite, resolve_suite, train_config

__all__ = ["AGGREGATE_IQM_LABEL", "AGGREGATE_MEAN_LABEL", "METHOD_ALGOS", "NOTHING_YET", "PAPER_LABEL", "PAUSED",
           "PROFILE_TAU", "TITLES", "Method", "Suite", "SuiteSeeds", "Task", "aggregate", "aggregated_tasks", "budget",
           "format_table", "load_suite", "main", "measured_throughput", "plot_curves", "plot_suite", "resolve_suite",
           "run_suite", "select", "stage_states", "train_config", "write_outputs"]
