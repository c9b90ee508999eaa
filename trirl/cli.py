"""The ``trirl`` command line::

    trirl grid      TRIRL on a grid world against its soft-optimal expert (the main job).
    trirl compare   every tabular IRL method on the same world, budget and expert.
    trirl verify    the paper's claims checked by property-based tests on random MDPs.
    trirl bench     benchmarks of the tabular engine and the continuous backend; bench table1
                    reproduces the paper's Table 1 row of a study spec (continuous/table1_*.toml).
    trirl expert    continuous: train a PPO expert, evaluate it, collect its demonstrations.
    trirl train     continuous: IRL (TRIRL, GAIL, AIRL, AMP) from demonstrations.
    trirl evaluate  continuous: retrain a policy on a learnt reward.
    trirl demos     continuous: import demonstrations from Minari, the authors' npz or imitation;
                    inspect them.

``trirl COMMAND --help`` lists a command's flags.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from trirl import core
from trirl.argtypes import DefaultsHelpFormatter, integer, number
from trirl.errors import InvalidConfigError, TrirlError, plain_warnings
from trirl.text import plural

from trirl.tabular.algorithms.trirl import TRIRLConfig
from trirl.tabular.gridworld.files import portable


class EtaFlag(NamedTuple):
    """``--eta`` as typed (what ``config.json`` and the rerun command record) and its schedule,
    parsed once (:func:`trirl.core.parse_eta_schedule`)."""

    text: str
    schedule: core.EtaSchedule


def eta_flag(text: str) -> EtaFlag:
    """The argparse type of ``--eta``: a number or a schedule; a bad one is an argparse error."""
    try:
        return EtaFlag(text, core.parse_eta_schedule(text))
    except (TrirlError, ValueError) as err:
        expected = "a number >= 0, 'linear:START:END:STEPS' or 'exp:START:DECAY[:END]'"
        raise argparse.ArgumentTypeError(str(err) if "expected" in str(err) else f"{err} (expected {expected})") from None


def _add_grid(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("grid", help="run TRIRL on a grid world (the main job)",
                       description="TRIRL on a grid world against its soft-optimal expert (or your demonstrations): "
                                   "progress, then a run directory with config.json, metrics.jsonl, figure2.png "
                                   "and summary.txt.",
                       formatter_class=DefaultsHelpFormatter)
    p.add_argument("--world", default="icy_goal", help="a shipped world name or a path to a world .toml")
    p.add_argument("--variant", default=None,
                   help="a perturbed variant of the world (windy, mirrored, slippery); without it, the world as defined")
    # the recommended values are TRIRLConfig's defaults (alpha = eps * beta / (1 + eta) = 0.1; its comment says why)
    p.add_argument("--eps", type=number(0, 1, low_open=True), default=TRIRLConfig.eps,
                   help="function-space step of Eq. 2, in (0, 1]")
    p.add_argument("--beta", type=number(0, low_open=True), default=TRIRLConfig.beta,
                   help="weight of the reverse KL in Eq. 1")
    p.add_argument("--eta", type=eta_flag, default=str(TRIRLConfig.eta),
                   help="trust-region multiplier: a number, 'linear:START:END:STEPS' or 'exp:START:DECAY[:END]'")
    p.add_argument("--kl-bound", type=number(0, low_open=True), default=None,
                   help="solve eta from this KL bound zeta instead (without it: eta is --eta)")
    p.add_argument("--iterations", type=integer(0), default=100, help="TRIRL iterations")
    p.add_argument("--demos", type=integer(0), default=0,
                   help="learn from N sampled expert trajectories (0: exact occupancy)")
    p.add_argument("--demos-file", type=Path, default=None,
                   help="learn from your own demonstrations: a .csv (episode,step,state,action[,absorbing]) or .npz "
                        "file (format: trirl.tabular.demo_files, gridworlds/README.md); without it, --demos decides")
    p.add_argument("--horizon", type=integer(1), default=200, help="length of each sampled trajectory")
    p.add_argument("--smoothing", type=number(0, 1, low_open=True, high_open=True), default=1e-2,
                   help="smoothing of the empirical occupancy, in (0, 1)")
    p.add_argument("--safeguard", choices=("on", "off", "auto"), default="on",
                   help="on: halve eps until the exact dual does not increase, so the dual is monotone on any world; "
                        "off: the paper's fixed step (its dual can rise, book/findings.md); auto: the same as on")
    p.add_argument("--seed", type=integer(0), default=0, help="seed of the sampled demonstrations")
    p.add_argument("--out", type=Path, default=None, help="run directory (default runs/grid-WORLD-TIME)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its newest checkpoint, with its saved flags (flags typed override them)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-iteration lines")
    p.set_defaults(func=cmd_grid)
    return p


@dataclass(frozen=True)
class GridOptions:
    """``trirl grid``'s options, parsed once from its flags (:meth:`from_args`) and passed down.

    ``config`` is the TRIRL configuration (``--eps``, ``--beta``, ``--eta``, ``--kl-bound``,
    ``--safeguard``; built, and so validated, once); ``eta`` is ``--eta`` as typed. The other
    fields are the flags of the same names.
    """

    world: str
    variant: str | None
    config: TRIRLConfig
    eta: str
    iterations: int
    demos: int
    demos_file: Path | None
    horizon: int
    smoothing: float
    seed: int
    out: Path | None
    resume: bool
    quiet: bool

    @classmethod
    def from_args(cls, args) -> GridOptions:
        """The options of parsed flags (each already checked by its argparse type).

        Raises:
            InvalidConfigError: ``--demos-file`` together with ``--demos``.
        """
        if args.demos_file is not None and args.demos > 0:
            raise InvalidConfigError("--demos-file and --demos are both given; expected one source of demonstrations")
        # no fixed step is monotone on every world (book/findings.md): the safeguard is on unless turned off
        config = TRIRLConfig(eps=args.eps, beta=args.beta, eta=args.eta.schedule, kl_bound=args.kl_bound,
                             safeguard=args.safeguard != "off")
        return cls(args.world, args.variant, config, args.eta.text, args.iterations, args.demos, args.demos_file,
                   args.horizon, args.smoothing, args.seed, args.out, args.resume, args.quiet)

    def rerun_argv(self) -> list[str]:
        """The flags of the same run again, into a fresh run directory (so the command works as
        written, from any folder: the paths it names are absolute): every setting that changes the
        numbers, defaults included."""
        parts = ["--world", portable(self.world)]
        if self.variant:
            parts += ["--variant", self.variant]
        parts += ["--eps", str(self.config.eps), "--beta", str(self.config.beta), "--eta", self.eta,
                  "--iterations", str(self.iterations), "--seed", str(self.seed)]
        if self.config.kl_bound:
            parts += ["--kl-bound", str(self.config.kl_bound)]
        if self.demos:
            parts += ["--demos", str(self.demos), "--horizon", str(self.horizon), "--smoothing", str(self.smoothing)]
        if self.demos_file:
            parts += ["--demos-file", str(self.demos_file.resolve()), "--smoothing", str(self.smoothing)]
        if not self.config.safeguard:
            parts += ["--safeguard", "off"]
        return parts

    def resume_command(self, out: Path) -> str:
        """This run continued from its newest checkpoint in ``out`` (:func:`trirl.rundir.resume_command`),
        from any folder (every path absolute)."""
        from trirl.rundir import resume_command

        return resume_command("trirl grid", [*self.rerun_argv(), "--out", str(Path(out).resolve())])

    def record(self, world, out: Path) -> dict[str, Any]:
        """``config.json``: everything needed to rerun, with the world's settings (paths absolute, so
        that a run resumed from another folder compares equal)."""
        return {
            "command": "trirl grid",
            "world": portable(self.world), "variant": self.variant, "eps": self.config.eps, "beta": self.config.beta,
            "eta": self.eta, "kl_bound": self.config.kl_bound, "demos": self.demos, "horizon": self.horizon,
            "smoothing": self.smoothing, "demos_file": str(self.demos_file.resolve()) if self.demos_file else None,
            "safeguard": self.config.safeguard, "seed": self.seed, "iterations": self.iterations,
            "world_settings": world.settings(),
            "rerun": shlex.join(["trirl", "grid", *self.rerun_argv()]), "resume": self.resume_command(out),
        }


def cmd_grid(args) -> int:
    from trirl.tabular import gridworld
    from trirl.tabular.threads import blas_threads

    options = GridOptions.from_args(args)  # everything is validated before a run directory is created
    try:
        world = gridworld.load(options.world, options.variant)
    except InvalidConfigError as err:  # say which flag led there; the file's own errors keep their line
        flags = f"--world {options.world}" + (f" --variant {options.variant}" if options.variant else "")
        raise InvalidConfigError(f"{flags}: {err}") from None
    # one BLAS thread for small worlds (trirl.tabular.threads; TRIRL_BLAS_THREADS=off leaves it)
    # warnings read as the command's own lines (``trirl grid: warning: ...``), not as source lines
    with blas_threads(world.mdp.n_states), plain_warnings("trirl grid"):
        return _run_grid(options, world)


def _run_grid(options: GridOptions, world) -> int:
    from trirl.rundir import RunDir, interrupted_message
    from trirl.tabular import empirical_occupancy, expert_occupancy, load_trajectories, sample_trajectories, solve
    from trirl.tabular.occupancies import underflowed_pairs

    expert = solve(world.mdp, world.reward)
    if options.demos_file is not None:
        demos = load_trajectories(options.demos_file, world.mdp, world.action_names)
        rho_expert = empirical_occupancy(world.mdp, demos, smoothing=options.smoothing)
        source = (f"{plural(len(demos.lengths), 'demonstration')} from {options.demos_file} "
                  f"({plural(int(demos.lengths.sum()), 'step')}, {int(demos.absorbed.sum())} ending in an absorbing state)")
    elif options.demos > 0:
        demos = sample_trajectories(world.mdp, expert.policy, options.demos, options.horizon, seed=options.seed)
        rho_expert = empirical_occupancy(world.mdp, demos, smoothing=options.smoothing)
        source = f"{plural(options.demos, 'sampled trajectory', 'sampled trajectories')} of {plural(options.horizon, 'step')}"
    else:
        rho_expert = expert_occupancy(world.mdp, expert.log_policy)
        source = "the exact expert occupancy"
        floored = underflowed_pairs(world.mdp, rho_expert)
        if floored:
            source += (f" (at {floored} reachable state-action pairs its mass underflows float64, below 2.2e-308: "
                       "they count as outside the expert's support)")
    out = options.out or Path("runs") / f"grid-{world.name}{'-' + world.variant if world.variant else ''}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir = RunDir(out, options.record(world, out), resume=options.resume, ignore=("iterations", "rerun", "resume"))
    try:
        return _train_grid(options, world, expert, rho_expert, source, out, run_dir)
    except KeyboardInterrupt:
        print(f"\ntrirl grid: {interrupted_message(out, options.resume_command(out))}", file=sys.stderr)
        return 130
    finally:
        run_dir.close()


def _train_grid(options: GridOptions, world, expert, rho_expert, source, out, run_dir) -> int:
    import warnings

    from trirl.tabular import occupancy, plots, reverse_kl, solve, trirl
    from trirl.tabular.shaping import NoPreferenceError, NoPreferenceWarning, ShapingProjector

    config = options.config
    print(f"TRIRL on {world!r}\n  expert: soft-optimal for the true reward, learning from {source}")
    print(f"  eps={config.eps} beta={config.beta:g} eta={options.eta} (effective step eps*beta/(1+eta) for constant eta)"
          + (f" kl_bound={config.kl_bound}" if config.kl_bound else ""))
    print(f"  writing to {out}/")
    if config.safeguard:
        print("  safeguard on: eps is halved until the exact dual does not increase (--safeguard off: the paper's fixed step)")
    else:
        print("  safeguard off: the paper's fixed step; the dual may get worse on this world (--safeguard on to check it)")
    # every metrics row gets the learned reward's shaping-invariant distance to the true one
    try:
        projector = ShapingProjector(world.mdp, world.reward)
    except NoPreferenceError:
        projector = None
        warnings.warn(NoPreferenceWarning(
            f"{world.name}: the true reward gives no preference (every policy is equally good under it, e.g. no goal "
            "can be reached): TRIRL still matches the expert's occupancy, but the learned reward is not compared "
            "with the true one. To learn something, give the world a reachable goal or lava cell."), stacklevel=2)
    result = trirl(
        world.mdp, rho_expert, options.iterations, config=config, run_dir=run_dir, progress=not options.quiet,
        print_every=0 if options.quiet else max(1, options.iterations // 20),
        observe=projector.metrics if projector is not None and projector.dense else None,
    )
    fit = projector(result.reward) if projector is not None else None
    plots.save(plots.figure2(world, expert.policy, world.reward, result, fit), run_dir.file("figure2.png"))
    target = "the expert's exact occupancy" if options.demos == 0 and options.demos_file is None else \
        "the demonstrations' occupancy"
    summary = (_summary(world, expert, rho_expert, result, occupancy, reverse_kl, solve, target, projector is not None)
               + "\n" + _shaping_line(fit))
    (out / "summary.txt").write_text(summary + "\n")
    print(summary)
    print(f"wrote {out}/config.json, metrics.jsonl, figure2.png, summary.txt, checkpoints/")
    return 0


def _shaping_line(fit) -> str:
    """The summary's line on the learned reward up to shaping (trirl.tabular.shaping)."""
    if fit is None:
        return ("  learned reward vs true reward: not compared, the true reward gives no preference (every policy is "
                "equally good under it)")
    if fit.scale == 0:  # a constant plus shaping (r = 0 before the first iteration): no residual to speak of
        return (f"  learned reward vs true reward: the learned reward is a constant plus potential shaping, so it "
                f"prefers no behaviour (scale c = 0, no residual to report); shaping-invariant distance "
                f"D = {fit.distance:.2g} (0: equal up to c > 0, offset and shaping; unrelated rewards ~0.71)")
    return (f"  learned reward vs true reward up to scale, offset and potential shaping (least squares, uniform over "
            f"reachable pairs): scale c = {fit.scale:.4g}, relative residual {fit.relative_residual:.2g}, "
            f"shaping-invariant distance D = {fit.distance:.2g} (0: equal up to c > 0, offset and shaping; "
            f"unrelated rewards ~0.71)")


def _summary(world, expert, rho_expert, result, occupancy, reverse_kl, solve, target: str, preference: bool) -> str:
    """The summary's lines; ``target`` names ``rho_expert`` (the exact occupancy or the demonstrations'),
    ``preference``: the true reward prefers some policy (else a warning has said so already)."""
    import warnings

    from trirl.tabular.compare import normalised_return, reference_returns

    mdp = world.mdp
    kl = result.metric("reverse_kl")
    dual = result.metric("dual")
    worse = int(np.sum(np.diff(dual) > 1e-9 * np.abs(dual[1:])))
    rho_learned = occupancy(mdp, result.policy)
    reoptimised = solve(mdp, result.reward)
    true_return = float(np.sum(rho_learned * world.reward))
    expert_return = float(np.sum(occupancy(mdp, expert.policy) * world.reward))
    uniform_return = reference_returns(world)[0]
    score = normalised_return(world, result.policy)
    if np.isnan(score):  # R_expert = R_uniform: no scale to normalise by, whatever the policy learned
        normalised = "expert-normalised: n/a, the expert's return cannot be told from the uniform policy's"
        if preference:
            warnings.warn(f"{world.name}: the expert's true return ({expert_return:.4g}) and the uniform policy's "
                          f"({uniform_return:.4g}) differ by less than 1e-9, so the expert-normalised return is "
                          "undefined (reported as n/a)",
                          UserWarning, stacklevel=2)
    else:  # the uniform policy's own return (no iteration yet) differs from R_uniform by rounding only
        normalised = f"expert-normalised {0.0 if abs(score) < 1e-9 else score:.3g}; uniform policy = 0, expert = 1"
    lines = [
        "summary",
        f"  reverse KL(rho_pi || rho_E): {kl[0]:.3g} (uniform policy) -> {kl[-1]:.3g} after {plural(len(kl) - 1, 'iteration')}",
        f"  dual G(r): {dual[0]:.6g} -> {dual[-1]:.6g}; iterations where it got worse: {worse}",
        f"  largest |pi_learned - pi_expert|: {np.abs(result.policy - expert.policy).max():.3g}",
        f"  learned reward re-optimised from scratch: largest |pi - pi_expert| = "
        f"{np.abs(reoptimised.policy - expert.policy).max():.3g}, reverse KL to {target} "
        f"{reverse_kl(occupancy(mdp, reoptimised.policy), rho_expert):.3g}",
        f"  true discounted return: learned policy {true_return:.4g}, expert {expert_return:.4g}, uniform policy "
        f"{uniform_return:.4g} ({normalised})",
        f"  soft Bellman backups used: {result.history[-1]['backups']}, wall time {result.history[-1]['wall_time']:.2f} s",
    ]
    if "total_backtracks" in result.history[-1]:
        lines.append(f"  safeguard: eps halved {plural(result.history[-1]['total_backtracks'], 'time')} in all")
    if worse:
        lines.append("  the dual got worse: the step is too large for these occupancies (the DualIncreaseWarning above "
                     "gives the cause); rerun with --safeguard on (the default), a smaller --eps or a larger --eta")
    return "\n".join(lines)


def _add_verify(sub) -> None:
    p = sub.add_parser("verify", help="check Lemma 3.1, Theorem 3.2 and monotonicity on random MDPs", add_help=False)
    p.set_defaults(func=lambda args: _delegate("trirl.verify", args.rest))


def _add_compare(sub) -> None:
    p = sub.add_parser("compare", help="compare TRIRL with MCE-IRL, ML-IRL, PIRO, GAIL and AIRL", add_help=False)
    p.set_defaults(func=lambda args: _delegate("trirl.tabular.compare", args.rest))


# The other commands are the modules' own command lines (``python -m MODULE`` stays an alias):
# (name, module, one-line help). Their flags are defined once, in the module.
DELEGATED = (
    ("bench", "trirl.bench.__main__", "benchmarks: 'tabular' (exact engine), 'demos', 'continuous' (JAX/MJX), 'table1' "
              "(the paper's Table 1 row: train, retrain, transfer, IQM with CIs), 'suite' (every method on every task: "
              "rliable's aggregates), 'scaling' (seeds on 1, 2, 4 devices), "
              "'report' (a folder of continuous runs as one JSON and figure), 'compile' (compilation seconds); "
              "JSON with the machine"),
    ("expert", "trirl.continuous.expert", "continuous: train a PPO expert, evaluate it, collect demonstrations"),
    ("train", "trirl.continuous.train", "continuous: TRIRL, GAIL, AIRL or AMP from demonstrations, seeds vmapped"),
    ("evaluate", "trirl.continuous.evaluate", "continuous: retrain PPO on a learnt reward (and its true-reward control)"),
    ("demos", "trirl.continuous.demo_formats", "continuous: 'import' demonstrations (Minari, the TRIRL authors' npz, "
              "imitation's npz) into trirl's schema; 'inspect' a file's episodes, returns, falls, ranges"),
)


def _add_delegated(sub) -> None:
    for name, module, text in DELEGATED:
        p = sub.add_parser(name, help=text, add_help=False)
        p.set_defaults(func=lambda args, module=module, name=name: _delegate(module, args.rest, name))


#: the packages of the ``[continuous]`` extra (pyproject.toml): a command that needs one says so
CONTINUOUS_PACKAGES = ("jax", "jaxlib", "flax", "optax", "mujoco", "rliable", "gymnasium")


def _delegate(module: str, argv: list[str], name: str = "") -> int:
    """``module.main(argv)``; without the continuous extra, ``--help`` prints the flags kept for
    ``trirl NAME`` (:mod:`trirl.helptext`) and running the command says what to install."""
    import importlib

    try:
        if "-h" in argv or "--help" in argv:
            return _plain_help(importlib.import_module(module).main, argv)
        return int(importlib.import_module(module).main(argv) or 0)
    except ModuleNotFoundError as err:  # raised on import, by the command's module or by one it loads
        if (err.name or "").split(".")[0] not in CONTINUOUS_PACKAGES:
            raise
        if "-h" in argv or "--help" in argv:
            from trirl.helptext import saved_help

            text = saved_help(name, argv)
            if text is not None:
                print(text, end="")
                return 0
        print(f"trirl: this command needs the continuous extra ({err.name} is not installed): "
              f"pip install 'trirl[continuous]' (in a clone: pip install -e '.[continuous]')", file=sys.stderr)
        return 2


def _plain_help(command, argv: list[str]) -> int:
    """``command(argv)`` for ``--help``: its text as a terminal should show it, the reST markup of the
    docstrings it quotes taken out (:func:`trirl.text.plain`)."""
    import contextlib
    import io

    from trirl.text import plain

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            code = int(command(argv) or 0)
    except SystemExit as exit:  # argparse exits after printing the help
        code = exit.code if isinstance(exit.code, int) else 0
    finally:
        print(plain(out.getvalue()), end="")
    return code


def _resumed_grid_args(grid: argparse.ArgumentParser, argv: list[str], args: argparse.Namespace) -> argparse.Namespace:
    """``trirl grid --out RUN --resume [flags]``: the run's saved flags (``config.json``'s ``resume``), then the
    ones typed, which override them (a changed setting is then refused by name; ``--iterations`` may grow)."""
    from trirl.rundir import saved_config

    saved = saved_config(args.out) if Path(args.out).is_dir() else None
    if not saved or not isinstance(saved.get("resume"), str):
        return args  # no run there: RunDir says so
    resumed = grid.parse_args([*shlex.split(saved["resume"])[2:], *argv[argv.index("grid") + 1:]])
    resumed.command, resumed.rest = "grid", []
    return resumed


def main(argv: list[str] | None = None) -> int:
    from trirl import __version__

    from trirl.text import plain

    parser = argparse.ArgumentParser(prog="trirl", description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"trirl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    grid = _add_grid(sub)
    _add_compare(sub)
    _add_verify(sub)
    _add_delegated(sub)
    args, rest = parser.parse_known_args(argv)
    if args.command == "grid" and rest:  # grid's own usage, not the top level's
        grid.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    try:
        if args.command == "grid" and args.resume and args.out is not None:
            args = _resumed_grid_args(grid, list(sys.argv[1:] if argv is None else argv), args)
        return args.func(args)
    except TrirlError as err:
        print(f"trirl {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before a run directory held anything, or a command without one
        print(f"\ntrirl {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
