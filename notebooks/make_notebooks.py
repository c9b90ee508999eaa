"""Write the teaching notebooks (without outputs) from the cell sources below.

    python notebooks/make_notebooks.py          # rewrite notebooks/*.ipynb

Each notebook is short, calls the library in every code cell and runs headless in well under
a minute (``tests/test_notebooks.py`` executes them all). Edit the sources here, not the
``.ipynb`` files, so that diffs stay readable.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

SETUP = """\
import numpy as np
import matplotlib.pyplot as plt
from IPython.display import display
np.set_printoptions(precision=4, suppress=True)"""


def notebook(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, source) in enumerate(cells):
        make = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        nb.cells.append(make(source.strip("\n"), id=f"cell-{i:02d}"))  # stable ids: regenerating changes nothing
    return nb


NOTEBOOKS: dict[str, list[tuple[str, str]]] = {}

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["01_mdps_soft_value_iteration"] = [
    ("md", r"""
# 1. MDPs and soft value iteration

A finite MDP is transitions $P(s'|s,a)$, an initial distribution $\mu_0$ and a discount
$\gamma$. Maximum-causal-entropy (soft) RL adds the policy's entropy to the reward; with
temperature $T$ the optimal policy solves the **soft Bellman equations**

$$Q(s,a) = r(s,a) + \gamma \sum_{s'} P(s'|s,a) V(s'),\qquad V(s) = T\log\sum_a e^{Q(s,a)/T},\qquad
\pi(a|s) = e^{(Q(s,a)-V(s))/T}.$$

Everything below is computed exactly by `trirl.tabular` (float64, no sampling)."""),
    ("code", SETUP + """
from trirl.tabular import gridworld, solve, soft_value_iteration, soft_policy_iteration, soft_bellman_backup
from trirl.tabular.plots import plot_values, plot_policy
from trirl.tabular.widgets import SoftVIExplorer, entropy

world = gridworld.load("icy_goal")
print(world)
print("\\n".join(world.cells))"""),
    ("md", r"""
`S` is the start, `G` an absorbing goal (reward 3 per step spent there), `L` absorbing lava
(reward −3), `~` ice where the chosen action is replaced by a random other one with
probability 0.3. Absorbing states loop to themselves (paper, Appendix C.4)."""),
    ("code", """
expert = solve(world.mdp, world.reward)                      # temperature 1
q, v_next = soft_bellman_backup(world.mdp, world.reward, expert.v)
print("soft Bellman residual |T V - V| =", np.abs(v_next - expert.v).max())
print("policy rows sum to one:", np.allclose(expert.policy.sum(axis=1), 1))
fig, axes = plt.subplots(1, 3, figsize=(14, 4))
plot_values(axes[0], world, expert.v, "soft value V(s)")
plot_policy(axes[1], world, expert.policy, "soft-optimal policy")
plot_values(axes[2], world, entropy(expert.policy), "entropy H(pi(.|s))", cmap="cividis")"""),
    ("md", r"""
The expert heads for the goal and keeps away from the lava cracks; the entropy is highest
where several moves are about equally good, and maximal ($\log 5$) in absorbing states, where
every action loops back.

## Temperature

$T \to 0$ recovers the greedy (hard-max) Bellman equation; a large $T$ makes every action nearly
equally likely (entropy $\to \log A$)."""),
    ("code", """
for T in [0.1, 0.3, 1.0, 3.0, 10.0]:
    sol = solve(world.mdp, world.reward, temperature=T)
    h = entropy(sol.policy)[~world.mdp.absorbing]
    print(f"T = {T:5.1f}: V(start) = {world.mdp.initial @ sol.v:8.3f}, mean entropy {h.mean():.3f} (log A = {np.log(5):.3f})")
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
for ax, T in zip(axes, [0.1, 10.0]):
    plot_policy(ax, world, solve(world.mdp, world.reward, temperature=T).policy, f"temperature {T}")"""),
    ("md", r"""
## Two exact solvers

Soft value iteration applies the backup until the contraction bound certifies the tolerance,
about $\log(\text{tol})/\log\gamma$ backups; soft policy iteration evaluates the policy by one
linear solve and is Newton's method on the same equation."""),
    ("code", """
vi = soft_value_iteration(world.mdp, world.reward)
pi_ = soft_policy_iteration(world.mdp, world.reward)
print(f"value iteration: {vi.backups} backups; policy iteration: {pi_.iterations} iterations ({pi_.solves} linear solves)")
print("largest value difference:", np.abs(vi.v - pi_.v).max())"""),
    ("md", "## Try it\n\nMove the sliders (in a live kernel): temperature and discount."),
    ("code", """
explorer = SoftVIExplorer(world)
explorer.widget"""),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["02_occupancy_measures"] = [
    ("md", r"""
# 2. Occupancy measures

The discounted state-action occupancy of a policy is
$\rho_\pi(s,a) = \pi(a|s)\sum_t \gamma^t \Pr(s_t = s)$, of mass $Z = 1/(1-\gamma)$. Its state part
$d$ solves the Bellman flow equations $(I - \gamma P_\pi^\top)\, d = \mu_0$: one linear solve.
IRL matches occupancies, so this is the quantity every later notebook talks about."""),
    ("code", SETUP + """
from dataclasses import replace
from trirl.tabular import gridworld, solve, occupancy, state_occupancy, from_cells
from trirl.tabular.occupancies import monte_carlo_occupancy
from trirl.tabular.plots import plot_values

world = gridworld.load("icy_goal")
mdp = world.mdp
expert = solve(mdp, world.reward)
rho = occupancy(mdp, expert.policy)
d = state_occupancy(mdp, expert.policy)
print("mass (1 - gamma) * sum(rho) =", (1 - mdp.discount) * rho.sum())
p_pi = mdp.dense_policy_transitions(expert.policy)
print("flow equations residual:", np.abs(d - mdp.discount * p_pi.T @ d - mdp.initial).max())"""),
    ("md", r"""
## Exact versus Monte Carlo

Sampling $n$ trajectories of horizon $H$ and counting visits with weight $\gamma^t$ estimates
$\rho$ with an error of order $1/\sqrt{n}$, plus a truncation bias of order $\gamma^H$ (right:
it follows $\gamma^H$ until the sampling error of $n = 5000$ trajectories dominates)."""),
    ("code", """
def l1(estimate):
    return np.abs(estimate - rho).sum() / rho.sum()

ns = [10, 100, 1000, 10000]
errors = [l1(monte_carlo_occupancy(mdp, expert.policy, n, horizon=300, seed=0)) for n in ns]
horizons = [5, 10, 20, 50, 100, 300]
bias = [l1(monte_carlo_occupancy(mdp, expert.policy, 5000, horizon=h, seed=1)) for h in horizons]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
axes[0].loglog(ns, errors, "o-", label="Monte Carlo")
axes[0].loglog(ns, errors[0] * np.sqrt(ns[0] / np.array(ns)), "--", label="1/sqrt(n)")
axes[0].set(xlabel="trajectories n", ylabel="relative L1 error", title="horizon 300")
axes[0].legend()
axes[1].semilogy(horizons, bias, "o-", label="n = 5000")
axes[1].semilogy(horizons, mdp.discount ** np.array(horizons), "--", label="gamma^H")
axes[1].set(xlabel="horizon H", title="truncation")
axes[1].legend()"""),
    ("md", r"""
## The discount sets the horizon

A larger $\gamma$ spreads the occupancy further from the start; absorbing states keep collecting
discounted mass after arrival (the goal's share grows with $\gamma$)."""),
    ("code", """
fig, axes = plt.subplots(1, 3, figsize=(14, 4))
for ax, gamma in zip(axes, [0.8, 0.95, 0.99]):
    w = from_cells(world.cells, replace(world.spec, discount=gamma))
    pi = solve(w.mdp, w.reward).policy
    dg = state_occupancy(w.mdp, pi) * (1 - gamma)               # normalised
    goal = w.cell_type == "goal"
    plot_values(ax, w, np.log10(np.maximum(dg, 1e-12)), f"gamma {gamma}: log10 (1-gamma) d, goal share {dg[goal].sum():.2f}", cmap="magma")"""),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["03_mce_irl_distribution_matching"] = [
    ("md", r"""
# 3. MCE-IRL as distribution matching

The paper's Eq. 1 looks for the policy whose occupancy matches the expert's while keeping
maximum causal entropy:

$$\max_\pi\; \mathbb{E}_{\rho_\pi}[H(\pi)] - \beta\, \mathrm{KL}(\rho_\pi \,\|\, \rho_E).$$

Its Lagrangian dual, a function of a reward $r$, is ($Z = 1/(1-\gamma)$)

$$G(r) = \mathbb{E}_{\mu_0}[V_r(s_0)] + \beta Z \log \sum_{s,a} \frac{\rho_E(s,a)}{Z} e^{-r(s,a)/\beta},$$

an upper bound on the primal for every $r$ (weak duality). IRL = **descent on $G$**; its
gradient is $\nabla G(r) = \rho_{\pi_r} - q_r$ with the tilted expert
$q_r \propto \rho_E e^{-r/\beta}$ (mass $Z$)."""),
    ("code", SETUP + """
from trirl.tabular import gridworld, solve, occupancy, log_occupancy, dual, dual_gradient, primal, reverse_kl, log_ratio, trirl

world = gridworld.load("lava_corridor")
mdp = world.mdp
expert = solve(mdp, world.reward)
rho_expert = occupancy(mdp, expert.policy)
beta = 1.0
print(world, "\\n" + "\\n".join(world.cells))"""),
    ("md", "## The gradient against finite differences"),
    ("code", """
rng = np.random.default_rng(0)
r = rng.normal(size=mdp.shape)
grad = dual_gradient(mdp, r, rho_expert, beta)
h = 1e-5
for _ in range(6):
    s, a = rng.integers(mdp.n_states), rng.integers(mdp.n_actions)
    e = np.zeros(mdp.shape); e[s, a] = h
    fd = (dual(mdp, r + e, rho_expert, beta) - dual(mdp, r - e, rho_expert, beta)) / (2 * h)
    print(f"(s={s:2d}, a={a}) analytic {grad[s, a]: .8f}   central difference {fd: .8f}")"""),
    ("md", "## Weak duality: every reward bounds every policy"),
    ("code", """
for seed in range(4):
    g = np.random.default_rng(seed)
    r = g.normal(size=mdp.shape) * 3
    pi = solve(mdp, g.normal(size=mdp.shape)).policy
    print(f"primal(pi) = {primal(mdp, pi, rho_expert, beta):9.4f} <= G(r) = {dual(mdp, r, rho_expert, beta):9.4f}")"""),
    ("md", r"""
## Function-space reward updates (Eq. 2)

Instead of a gradient step, update the reward in function space,

$$U_\varepsilon r = (1-\varepsilon)\, r + \varepsilon\, \beta \log\frac{\rho_E}{\rho_{\pi_r}}.$$

The direction $\beta\log(\rho_E/\rho_\pi) - r$ has a negative inner product with $\nabla G$: it
is a descent direction (the bound on the step size is a separate matter, notebook 5)."""),
    ("code", """
r = np.random.default_rng(1).normal(size=mdp.shape)
log_rho_pi = log_occupancy(mdp, solve(mdp, r).log_policy)
direction = beta * log_ratio(np.log(rho_expert), log_rho_pi) - r
print("<grad G, direction> =", np.sum(dual_gradient(mdp, r, rho_expert, beta) * direction))"""),
    ("md", r"""
With $\eta = 0$ TRIRL is exactly this update with a full soft solve per iteration (function-space
MCE-IRL). A large $\beta$ makes Eq. 1's optimum the expert itself; the effective step is then
$\alpha = \varepsilon\beta = 0.1$."""),
    ("code", """
result = trirl(mdp, rho_expert, eps=1e-5, beta=1e4, eta=0.0, iterations=40)
kl, g = result.metric("reverse_kl"), result.metric("dual")
print(f"reverse KL {kl[0]:.3g} -> {kl[-1]:.3g}; dual increased in {np.sum(np.diff(g) > 1e-9 * np.abs(g[1:]))} of 40 iterations")
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
axes[0].semilogy(kl); axes[0].set(title="reverse KL(rho_pi || rho_E)", xlabel="iteration")
axes[1].plot(g); axes[1].set(title="dual G(r)", xlabel="iteration")"""),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["04_trirl_step_by_step"] = [
    ("md", r"""
# 4. One TRIRL step, piece by piece

From an MCE pair $(r^{(i)}, \pi^{(i)})$, Algorithm 1:

1. $\tilde r = U_\varepsilon r^{(i)} = (1-\varepsilon) r^{(i)} + \varepsilon\beta\log(\rho_E/\rho_{\pi^{(i)}})$ (Eq. 2);
2. the **trust-region policy** maximises the soft objective for $\tilde r$ minus
   $\eta\,\mathbb{E}[\mathrm{KL}(\pi\|\pi^{(i)})]$ (Eq. 3); by **Lemma 3.1** it is the soft-optimal
   policy of $r_\eta = (\tilde r + \eta \log \pi^{(i)})/(1+\eta)$;
3. **Theorem 3.2**: that policy is MCE-optimal for the *corrected* reward
   $r^{(i+1)} = U_{\varepsilon_{tr}} r^{(i)}$ with $\varepsilon_{tr} = \varepsilon/(1+\eta)$.

So one soft solve moves the policy a little and the reward stays exactly its dual partner."""),
    ("code", SETUP + """
from trirl import core
from trirl.tabular import gridworld, solve, occupancy, log_ratio, policy_kl, make_trirl, TRIRLConfig
from trirl.tabular.widgets import TRIRLStepper

world = gridworld.load("icy_goal")
mdp = world.mdp
expert = solve(mdp, world.reward)
rho_expert = occupancy(mdp, expert.policy)
config = TRIRLConfig()           # the recommended eps, beta, eta: alpha = eps beta / (1 + eta) = 0.1
learner = make_trirl(mdp, rho_expert, config)
state = learner.init()                                      # r = 0, uniform policy
for _ in range(3):
    state, _ = learner.step(state)
print("iteration", state.iteration)"""),
    ("code", """
eps, beta, eta = config.eps, config.beta, config.eta
ratio = log_ratio(np.log(rho_expert), state.log_rho)                     # log(rho_E / rho_pi)
r_tilde = core.function_space_update(state.reward, ratio, eps, beta)     # Eq. 2
r_eta = core.trust_region_reward(r_tilde, state.log_policy, eta)         # Lemma 3.1
trust_region = solve(mdp, r_eta)
eps_tr = core.corrected_step(eps, eta)                                   # eps / (1 + eta)
r_next = core.corrected_reward(state.reward, ratio, eps, beta, eta)     # U_{eps_tr} r
mce = solve(mdp, r_next)                                                 # a fresh MCE solve
print(f"eps_tr = {eps_tr:.3g}")
print("Theorem 3.2: max |log pi_tr - log pi_MCE(r_next)| =", np.abs(trust_region.log_policy - mce.log_policy).max())
print("policy step E[KL(pi_tr || pi_old)] =", policy_kl(mdp, trust_region.log_policy, state.log_policy))"""),
    ("md", "The library's `step` does exactly this:"),
    ("code", """
new_state, metrics = learner.step(state)
print("reward:", np.abs(new_state.reward - r_next).max(), " policy:", np.abs(new_state.log_policy - trust_region.log_policy).max())
print({k: metrics[k] for k in ("eta", "eps_tr", "reverse_kl", "policy_kl", "dual", "correction_gap")})"""),
    ("md", r"""
## What $\eta$ does

A larger multiplier keeps the new policy closer to the old one (a smaller KL step) and shrinks the
reward step $\varepsilon_{tr}$; the identity of Theorem 3.2 holds for every $\eta$."""),
    ("code", """
for eta_ in [0.0, 1e3, 1e4, 5e4, 2e5]:
    pi_tr = solve(mdp, core.trust_region_reward(r_tilde, state.log_policy, eta_))
    gap = np.abs(pi_tr.log_policy - solve(mdp, core.corrected_reward(state.reward, ratio, eps, beta, eta_)).log_policy).max()
    print(f"eta = {eta_:8.0f}: eps_tr = {core.corrected_step(eps, eta_):.2e}, "
          f"KL step {policy_kl(mdp, pi_tr.log_policy, state.log_policy):.2e}, Theorem 3.2 gap {gap:.1e}")"""),
    ("md", r"""
## The stepper

Paint the map (brush + cells), change $\beta$, $\varepsilon$ and the $\eta$ schedule, press
**Step** or **Run**. The panel on the right recomputes Theorem 3.2 after every step: the new
reward against $U_{\varepsilon_{tr}} r^{(i)}$ and the new policy against a fresh MCE solve of it.
Steps with $\alpha = \varepsilon\beta/(1+\eta)$ far above 0.1 may diverge on worlds with absorbing states."""),
    ("code", """
stepper = TRIRLStepper(world)
stepper.run(15)
print(stepper.iteration, stepper.checks)
stepper.widget"""),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["05_lemma_theorem_monotonicity"] = [
    ("md", r"""
# 5. Lemma 3.1, Theorem 3.2 and where monotonicity holds

**Lemma 3.1.** $\arg\max_\pi \mathbb{E}_{\rho_\pi}[r - \log\pi] - \eta\, \mathbb{E}_{\rho_\pi}[\log\pi - \log\pi_{old}]$
is the soft-optimal policy of $r_\eta = (r + \eta\log\pi_{old})/(1+\eta)$. We check it on random
MDPs: no perturbed policy does better than the closed form."""),
    ("code", SETUP + """
from trirl import core
from trirl.tabular import solve, occupancy, log_ratio, log_occupancy, random_mdp, trirl, gridworld

from trirl.tabular.analysis import penalised_objective as penalised   # E_rho_pi[r - log pi - eta (log pi - log pi_old)]

for seed in range(5):
    mdp = random_mdp(seed, 8, 4)
    rng = np.random.default_rng(seed)
    r, eta = rng.normal(size=mdp.shape), 3.0
    log_old = solve(mdp, rng.normal(size=mdp.shape)).log_policy
    best = solve(mdp, core.trust_region_reward(r, log_old, eta)).log_policy
    value = penalised(mdp, r, best, log_old, eta)
    worse = max(penalised(mdp, r, solve(mdp, core.trust_region_reward(r, log_old, eta) + 0.3 * rng.normal(size=mdp.shape)).log_policy, log_old, eta)
                for _ in range(20))
    print(f"seed {seed}: closed form {value:.6f} >= best of 20 perturbed {worse:.6f}: {value >= worse}")"""),
    ("md", r"""
**Theorem 3.2.** The trust-region policy of $U_\varepsilon r$ is the MCE policy of
$U_{\varepsilon/(1+\eta)} r$, for any MCE pair $(r, \pi_r)$, any $\varepsilon$, $\beta$, $\eta$."""),
    ("code", """
for seed in range(5):
    mdp = random_mdp(seed, 8, 4, discount=0.95)
    rng = np.random.default_rng(100 + seed)
    rho_expert = occupancy(mdp, solve(mdp, 2 * rng.normal(size=mdp.shape)).policy)
    r = rng.normal(size=mdp.shape)
    pi_r = solve(mdp, r)
    ratio = log_ratio(np.log(rho_expert), log_occupancy(mdp, pi_r.log_policy))
    eps, beta, eta = rng.uniform(0.1, 1), rng.uniform(0.5, 5), rng.uniform(0, 10)
    tr = solve(mdp, core.trust_region_reward(core.function_space_update(r, ratio, eps, beta), pi_r.log_policy, eta))
    mce = solve(mdp, core.corrected_reward(r, ratio, eps, beta, eta))
    print(f"seed {seed}: eps={eps:.2f} beta={beta:.2f} eta={eta:.2f}  max |log pi_tr - log pi_MCE| = {np.abs(tr.log_policy - mce.log_policy).max():.1e}")"""),
    ("md", r"""
## Monotonicity: a sweep over the effective step

The corrected update is a descent direction on the dual $G$, but the paper's argument does not
bound the step. With $\beta = 10^4$ (so that Eq. 1's optimum is the expert), the effective step is
$\alpha = \varepsilon\beta/(1+\eta)$. We count the iterations in which the dual got worse."""),
    ("code", """
world = gridworld.load("icy_goal")
rho_e = occupancy(world.mdp, solve(world.mdp, world.reward).policy)
alphas = [0.05, 0.1, 0.25, 0.5, 1.0]
fig, ax = plt.subplots(figsize=(7, 3.5))
for alpha in alphas:
    eta = 0.5 * 1e4 / alpha - 1
    try:
        res = trirl(world.mdp, rho_e, eps=0.5, beta=1e4, eta=eta, iterations=40)
        g, kl = res.metric("dual"), res.metric("reverse_kl")
        worse = int(np.sum(np.diff(g) > 1e-9 * np.abs(g[1:])))
        print(f"alpha = {alpha:4.2f}: dual got worse in {worse:2d}/40 iterations, final reverse KL {kl[-1]:.2e}")
        ax.semilogy(kl, label=f"alpha {alpha}")
    except Exception as error:   # a diverging run stops with a NonFiniteError naming the metric
        print(f"alpha = {alpha:4.2f}: diverged ({type(error).__name__})")
ax.set(xlabel="iteration", title="reverse KL on icy_goal (absorbing goal and lava)"); ax.legend(fontsize="small")"""),
    ("md", r"""
## The same claims through hypothesis

`trirl.verify` states every claim as a violation measure with an independent dense reference
(Lemma 3.1 against L-BFGS on the policy logits, Theorem 3.2 against a fresh solve, monotonicity
of the dual for $\kappa = \varepsilon(1+\beta)/(1+\eta)$ up to its measured bound) and draws
random MDPs with hypothesis; `trirl verify` runs them all. A few examples each:"""),
    ("code", """
try:
    from trirl.verify.properties import BY_NAME
    from trirl.verify.runner import format_table, run_property
except ImportError as error:
    print(f"trirl.verify is not in this checkout ({error})")
else:
    names = ["lemma_3_1", "theorem_3_2", "descent_direction", "monotone_dual"]
    print(format_table([run_property(BY_NAME[name], max_examples=10, seed=0, shrink=False) for name in names]))"""),
    ("md", r"""
Small steps ($\alpha \le 0.1$) improve the dual and the reverse KL at every iteration on every
shipped world; larger ones overshoot on worlds with absorbing states. `book/findings.md` explains
the threshold: linearised at the fixed point the reward error evolves by
$(1-\varepsilon_{tr}) I - \alpha J$ with $J = \partial \log\rho_{\pi_r}/\partial r$, so what
matters is $\nu = \varepsilon_{tr} + \alpha\,\lambda_{max}(J)$ (measured on random MDPs: the
reverse KL stays monotone up to about $\nu = 1$, the dual up to about $\nu = 2$). On `icy_goal` the occupancy reacts strongly to the reward (absorbing states,
$\gamma = 0.95$):"""),
    ("code", """
try:
    from trirl.tabular.analysis import jacobian_lambda_max
except ImportError as error:
    print(f"trirl.verify is not in this checkout ({error})")
else:
    lam = jacobian_lambda_max(world.mdp, world.reward)   # at the expert's reward, i.e. the fixed point
    print(f"lambda_max(J) = {lam:.2f} on icy_goal")
    for alpha in alphas:
        print(f"alpha = {alpha:4.2f}: nu ~ alpha * lambda_max = {alpha * lam:5.2f}")"""),
    ("code", """
from pathlib import Path
from IPython.display import Markdown
import trirl
findings = Path(trirl.__file__).resolve().parents[1] / "book" / "findings.md"
if findings.exists():   # its statement section: what holds, measured over random MDPs
    statement = findings.read_text().split("\\n## ")[1]
    display(Markdown("## " + statement))
else:
    print("book/findings.md is not in this checkout yet")"""),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["06_relatives"] = [
    ("md", r"""
# 6. TRIRL and its relatives on the same world

Every tabular method in `trirl.tabular.algorithms.registry.ALGORITHMS` gets the same world, the
same exact expert occupancy and the same iteration budget:

- **MCE-IRL** (Ziebart et al. 2010): reward gradient step $\rho_E - \rho_\pi$ + a full soft solve;
- **ML-IRL** (Zeng et al. 2022): a few soft backups + one reward gradient step;
- **PIRO**: ML-IRL with an adaptive proximal reward step;
- **GAIL** / **AIRL**: a discriminator turned into a *local* reward (not a dual variable);
- **TRIRL**: exact trust-region steps with the corrected reward; **trirl-safe** backtracks on the dual."""),
    ("code", SETUP + """
from trirl.tabular import gridworld, solve, occupancy
from trirl.tabular.algorithms.registry import ALGORITHMS
from trirl.tabular.plots import plot_curves, plot_policy

world = gridworld.load("lava_corridor")
expert = solve(world.mdp, world.reward)
rho_expert = occupancy(world.mdp, expert.policy)
results = {name: algorithm(world.mdp, rho_expert, iterations=60) for name, algorithm in ALGORITHMS.items()}
for name, res in results.items():
    kl, g = res.metric("reverse_kl"), res.metric("dual")
    worse = int(np.sum(np.diff(g) > 1e-9 * np.abs(g[1:])))
    print(f"{name:10s} final reverse KL {kl[-1]:9.2e}  backups {int(res.history[-1].get('backups', 0)):6d}  dual got worse {worse:2d}x  "
          f"| {ALGORITHMS[name].summary}")"""),
    ("code", """
fig, axes = plt.subplots(1, 2, figsize=(13, 4))
plot_curves(axes[0], {n: r.history for n, r in results.items()}, "reverse_kl", log=True, title="reverse KL per iteration")
for name, res in results.items():
    axes[1].loglog(np.maximum(res.metric("backups"), 1), res.metric("reverse_kl"), label=name)
axes[1].set(xlabel="soft Bellman backups", title="reverse KL against compute"); axes[1].legend(fontsize="small")"""),
    ("md", r"""
GAIL and AIRL rebuild their reward from the discriminator every iteration: it is not the MCE
dual variable, so neither the dual nor the reverse KL needs to improve monotonically, and at
$\rho_\pi = \rho_E$ their reward is constant. TRIRL keeps $(r, \pi)$ an MCE pair at every step."""),
    ("code", """
fig, axes = plt.subplots(1, 3, figsize=(14, 3.5))
plot_policy(axes[0], world, expert.policy, "expert")
plot_policy(axes[1], world, results["trirl"].policy, "TRIRL")
plot_policy(axes[2], world, results["gail"].policy, "GAIL")"""),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["07_reward_ambiguity_transfer"] = [
    ("md", r"""
# 7. Reward ambiguity and transfer

Many rewards explain the same behaviour. **Potential shaping**
$r'(s,a) = r(s,a) + \gamma\,\mathbb{E}_{s'}[\Phi(s')] - \Phi(s)$ shifts soft values by $\Phi$ and
leaves the soft-optimal policy unchanged, in *this* MDP. A learned reward is only identified up
to such terms, which is why it may transfer badly when the dynamics change."""),
    ("code", SETUP + """
from trirl.tabular import gridworld, solve, occupancy, trirl, reverse_kl
from trirl.tabular.compare import transfer_reward, normalised_return
from trirl.tabular.plots import plot_values, plot_policy, normalise, state_reward

world = gridworld.load("icy_goal")
mdp = world.mdp
phi = np.random.default_rng(0).normal(size=mdp.n_states) * 5
shaped = world.reward + mdp.discount * mdp.expected_next(phi) - phi[:, None]
a, b = solve(mdp, world.reward), solve(mdp, shaped)
print("policy change under shaping:", np.abs(a.policy - b.policy).max())
print("value shift V' - V + Phi:", np.ptp(b.v - a.v + phi), "(constant = 0)")"""),
    ("md", r"""
## What TRIRL learns

TRIRL recovers the expert's policy, but its reward is one representative of the class: plotted
per state it differs from the true reward. The world's features (cell type one-hot, row,
column) describe the true reward exactly; the learned one only approximately."""),
    ("code", """
expert = a
rho_expert = occupancy(mdp, expert.policy)
learned = trirl(mdp, rho_expert, iterations=60)   # TRIRLConfig's recommended eps, beta, eta
print("reverse KL after 60 iterations:", learned.metric("reverse_kl")[-1])
X = world.features                                           # [S, F]
for name, r in [("true", world.reward), ("learned", learned.reward)]:
    rs = state_reward(r, expert.policy)
    coef, res, *_ = np.linalg.lstsq(X, rs - rs.mean(), rcond=None)
    print(f"{name:8s} reward: R^2 of a linear fit on {list(world.feature_names)} = {1 - res[0] / np.sum((rs - rs.mean())**2) if len(res) else 1:.3f}")
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
plot_values(axes[0], world, normalise(state_reward(world.reward, expert.policy)), "true reward")
plot_values(axes[1], world, normalise(state_reward(learned.reward, expert.policy)), "learned reward")"""),
    ("md", r"""
## Re-optimising the learned reward in perturbed worlds

Move the learned reward to the windy, mirrored and slippery variants, cell by cell and action
by action of the map file (`compare.transfer_reward`, which undoes a mirror through
`gridworld.correspondence`), solve for its soft-optimal policy there and score it by the
expert-normalised true return $(R - R_{unif})/(R_{expert} - R_{unif})$. The policy-only
baseline copies the learned policy the same way."""),
    ("code", """
for variant in gridworld.variants("icy_goal"):
    target = gridworld.load("icy_goal", variant)
    from_reward = solve(target.mdp, transfer_reward(world, target, learned.reward)).policy
    from_true = solve(target.mdp, transfer_reward(world, target, world.reward)).policy
    copied = transfer_reward(world, target, learned.policy)
    print(f"{variant:9s} true reward {normalised_return(target, from_true):6.3f}   learned reward {normalised_return(target, from_reward):6.3f}"
          f"   copied policy {normalised_return(target, copied):6.3f}")"""),
    ("md", r"""
Under wind and slip the re-optimised learned reward beats the copied policy: the reward says
*where* to go, the new dynamics decide *how*. The mirrored world is the same world with its
columns reversed and `left` and `right` renamed, so reward and policy both transfer perfectly:
a check of the evaluation, not of the learner. Moved by raw (row, col) coordinates instead, the
goal's reward lands where the start now is, and every reward fails, the true one included: an
evaluation error, not a learning one."""),
    ("code", """
target = gridworld.load("icy_goal", "mirrored")
raw = world.state_index[target.coords[:, 0], target.coords[:, 1]]   # the same (row, col), mirror ignored
for name, r in [("true", world.reward), ("learned", learned.reward)]:
    print(f"mirrored, moved by raw coordinates: {name} reward {normalised_return(target, solve(target.mdp, np.asarray(r)[raw]).policy):.3f}")"""),
]

# ---------------------------------------------------------------------------------------------
NOTEBOOKS["08_towards_continuous"] = [
    ("md", r"""
# 8. Towards continuous control

In a continuous task neither $\rho_E$ nor $\rho_\pi$ is available, only samples. TRIRL's update
needs $\log(\rho_E/\rho_\pi)$, and the logit of a classifier trained with the logistic loss on
balanced expert and agent samples estimates exactly that (paper, Section 4.1). Here we check the
idea on a grid world, where the exact log-ratio is known: fit a table of logits on sampled
occupancies and compare."""),
    ("code", SETUP + """
from trirl.tabular import gridworld, solve, occupancy, log_occupancy, sample_trajectories, empirical_occupancy
from trirl.tabular.algorithms.gail import exact_discriminator_logits, logistic_steps

world = gridworld.load("four_rooms")
mdp = world.mdp
expert = solve(mdp, world.reward)
agent = solve(mdp, np.zeros(mdp.shape))                   # TRIRL's starting policy
exact = exact_discriminator_logits(log_occupancy(mdp, expert.log_policy), log_occupancy(mdp, agent.log_policy))
print(world)"""),
    ("code", """
p_expert = occupancy(mdp, expert.policy) * (1 - mdp.discount)         # normalised occupancies
p_agent = occupancy(mdp, agent.policy) * (1 - mdp.discount)
both = np.minimum(p_expert, p_agent) > 2e-4                           # pairs both visit
fig, ax = plt.subplots(figsize=(5, 4.5))
for n in [100, 1000, 10000]:
    # horizon 300: gamma^300 ~ 1e-4, so truncation does not bias the counts
    p_e = empirical_occupancy(mdp, sample_trajectories(mdp, expert.policy, n, 300, seed=1), smoothing=0) * (1 - mdp.discount)
    p_pi = empirical_occupancy(mdp, sample_trajectories(mdp, agent.policy, n, 300, seed=2), smoothing=0) * (1 - mdp.discount)
    logits = logistic_steps(np.zeros(mdp.shape), p_e, p_pi, steps=3000, lr=20.0)   # logistic loss, gradient steps
    err = np.sqrt(np.mean((logits[both] - exact[both]) ** 2))
    print(f"n = {n:5d} trajectories per side: RMS error of the logits on the {both.sum()} pairs both visit: {err:.3f}")
    ax.scatter(exact[both], logits[both], s=8, label=f"n = {n}")
lim = [exact[both].min(), exact[both].max()]
ax.plot(lim, lim, "k--", lw=1)
ax.set(xlabel="exact log(rho_E / rho_pi)", ylabel="classifier logit", title="discriminator vs exact log-ratio"); ax.legend()"""),
    ("md", r"""
The logits converge to the log-ratio where both occupancies put mass; where neither does, the
classifier knows nothing, which is why the continuous trainer adds a gradient penalty and keeps
a buffer of past discriminators. The same `trirl.core` functions (`function_space_update`,
`trust_region_reward`, `corrected_step`) then run on JAX arrays in `trirl.continuous`."""),
    ("md", r"""
## The small continuous task

`trirl.continuous` runs the same loop on a 2-D point maze (AIRL's transfer task): the agent
starts below a wall and must reach the goal above it through the gap. Its expert and
demonstrations ship with the repository (`continuous/experts/point_maze/`); the measured
results of GPU runs land in `continuous/results/`."""),
    ("code", """
import json
from pathlib import Path
import trirl
root = Path(trirl.__file__).resolve().parents[1]
expert_dir = root / "continuous" / "experts" / "point_maze"
try:
    from trirl.continuous.demos import load_demonstrations
    from trirl.continuous.envs.point_maze import GOAL, WALL_Y, PointMazeConfig, wall_span
except ImportError as error:
    print(f"the continuous backend is not importable here ({error}); pip install -e '.[continuous]'")
else:
    if not (expert_dir / "demos.npz").exists():
        print("no point-maze expert in this checkout yet")
    else:
        demos = load_demonstrations(expert_dir / "demos.npz")
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        ax.plot(wall_span(PointMazeConfig()), [WALL_Y, WALL_Y], "k-", lw=4, label="wall")
        for obs, n in zip(demos.observations, demos.lengths):
            ax.plot(obs[:n, 0], obs[:n, 1], lw=0.7, alpha=0.6)
        ax.scatter(*GOAL, marker="*", s=250, c="gold", zorder=3, label="goal")
        ax.set(xlim=(0, 1), ylim=(0, 1), aspect="equal", title=f"{len(demos.lengths)} expert demonstrations")
        ax.legend(loc="lower right")
        returns = json.loads((expert_dir / "returns.json").read_text())
        print(f"expert return {returns['expert_return']:.2f} +- {returns['expert_return_std']:.2f}, "
              f"random {returns['random_return']:.2f} +- {returns['random_return_std']:.2f}")"""),
    ("code", """
# measured results: benchmarks and training runs write JSON with the machine and the command
results = {path.name: json.loads(path.read_text()) for path in sorted((root / "continuous" / "results").glob("*.json"))}
on_gpu = [name for name, data in results.items() if any(k in str(data.get("device", "")).lower() for k in ("gpu", "cuda"))]
print(f"{len(results)} result files, {len(on_gpu)} from a GPU" + ("" if on_gpu else ": no GPU results yet"))
for name, data in results.items():
    print(f"- {name}: {data.get('command', '')}")
    print(f"  {data.get('machine', data.get('device', ''))}")"""),
    ("code", """
try:
    import jax.numpy as jnp
    from trirl import core
    r = core.function_space_update(jnp.zeros(3), jnp.array([0.1, -0.2, 0.3]), 0.5, 1e4)
    print("trirl.core on jax arrays:", r, type(r).__name__)
except ImportError:
    print("jax is not installed here (pip install -e '.[continuous]'); trirl.core is backend-agnostic arithmetic")"""),
]

# ---------------------------------------------------------------------------------------------
# the Voila app (tests/test_browser.py drives it in headless Chromium)
NOTEBOOKS["app_trirl_stepper"] = [
    ("md", "# TRIRL, step by step\n\nPaint the map, set beta, eps and eta, press **Step**."),
    ("code", """
from trirl.tabular import gridworld
from trirl.tabular.widgets import TRIRLStepper

stepper = TRIRLStepper(gridworld.load("icy_goal"))
stepper.widget"""),
]


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        path = HERE / f"{name}.ipynb"
        nbformat.write(notebook(cells), path)
        print("wrote", path.relative_to(HERE.parent))


if __name__ == "__main__":
    main()
