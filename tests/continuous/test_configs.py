"""Every config shipped in continuous/ loads (the user's first step with any of them)."""

import pytest

pytest.importorskip("jax")

from trirl.continuous import expert  # noqa: E402
from trirl.continuous.train import CONFIG_DIR, load_config  # noqa: E402

pytestmark = pytest.mark.continuous

CONFIGS = sorted(CONFIG_DIR.glob("*.toml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_config_loads(path):
    if path.stem.startswith("table"):  # a study spec of trirl bench table1: it loads every config it names
        from trirl.bench import table1 as study

        spec = study.load_study(path)
        assert spec.variants and spec.train.seeds >= 10
        return
    if path.stem.startswith("suite"):  # a suite spec of trirl bench suite: it builds every stage's config
        from trirl.bench import suite

        spec = suite.load_suite(path)
        assert spec.tasks and spec.methods and spec.train.seeds >= 5
        return
    if "expert" in path.stem:
        config = expert.load_config(path)
        assert path.stem.startswith(config.env + "_expert")
    else:
        config = load_config(path)
        assert config.env in path.stem and config.algo.split("-")[0] in path.stem


def test_cpu_configs_match_each_other():
    """TRIRL and GAIL on the CPU share the budget and policy settings (a fair comparison)."""
    trirl, gail = load_config(CONFIG_DIR / "trirl_ant_cpu.toml"), load_config(CONFIG_DIR / "gail_ant_cpu.toml")
    assert (trirl.ppo, trirl.discriminator, trirl.total_steps) == (gail.ppo, gail.discriminator, gail.total_steps)
    ant, disabled = (expert.load_config(CONFIG_DIR / f"{e}_expert_cpu.toml") for e in ("ant", "ant_disabled"))
    assert ant.ppo == disabled.ppo


@pytest.mark.parametrize("name, says", [
    ("suite_cpu", r"a suite spec \(\[tasks\]\), not a training config; run it with: trirl bench suite "),
    ("table1_point_maze", r"a Table 1 study \(\[variants\]\), not a training config; run it with: trirl bench table1 --study "),
    ("hopper_expert_cpu", r"an expert config \(PPO on the true reward\), not an IRL config; train it with: trirl expert train "),
])
def test_train_names_the_command_for_a_spec_or_an_expert_config(name, says):
    from trirl.errors import InvalidConfigError

    with pytest.raises(InvalidConfigError, match=says):
        load_config(name)
