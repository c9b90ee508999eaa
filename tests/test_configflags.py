"""Flags derived from the frozen config dataclasses (trirl.configflags): one flag per field, help
from the field's documentation, only what the user set overrides the TOML file, tables merge."""

import argparse
import dataclasses

import pytest

from trirl import configflags


def test_sub_configs_check_derived_fields_and_never_rewrite_them():
    pytest.importorskip("jax")
    from trirl.continuous import baselines, train
    from trirl.continuous import trirl as T
    from trirl.continuous.discriminator import DiscriminatorConfig
    from trirl.continuous.reward import RewardBufferConfig
    from trirl.errors import InvalidConfigError

    # one rule for the baselines' discriminator input
    assert baselines.input_mode("gail") == "state_action"
    assert baselines.input_mode("airl") == baselines.input_mode("amp") == "state_transition"
    assert baselines.input_mode("trirl") is None and baselines.input_mode("trirl", "state_transition") == "state_transition"
    with pytest.raises(InvalidConfigError, match=r"^DiscriminatorConfig.input_mode = 'state_action', but airl uses"):
        baselines.BaselineConfig(algo="airl")
    # R_fit shares the discriminator's config: TRIRLConfig refuses another one instead of replacing it
    small = DiscriminatorConfig(hidden_sizes=(8,))
    with pytest.raises(InvalidConfigError, match=r"^TRIRLConfig.buffer.network must be TRIRLConfig.discriminator"):
        T.TRIRLConfig(discriminator=small)
    assert T.TRIRLConfig(discriminator=small, buffer=RewardBufferConfig(network=small)).buffer.network == small
    # ... and trirl train builds it once, from [discriminator]; buffer.network is no key of its own
    config = train.load_config(None, discriminator={"hidden_sizes": [8]})
    assert config.learner_config().buffer.network == small and config.learner_config() is config.learner_config()
    assert "network" not in config.to_dict()["buffer"]
    with pytest.raises(InvalidConfigError, match=r"^TrainConfig.buffer.network cannot be set"):
        train.TrainConfig(buffer=RewardBufferConfig(network=small))
    with pytest.raises(InvalidConfigError, match=r"^defaults: \[buffer\] unknown key network"):
        train.load_config(None, buffer={"network": {}})


@dataclasses.dataclass(frozen=True)
class Inner:
    """A nested table.

    Attributes:
        width: hidden units per layer,
            continued on a second line.
        sizes: layer widths.
    """

    width: int = 4
    sizes: tuple[int, ...] = (8, 8)


@dataclasses.dataclass(frozen=True)
class Outer:
    name: str = "a"  #: what to call it
    rate: float = 0.5  #: step size
    flag: bool = True  #: a switch
    table: dict = dataclasses.field(default_factory=dict)  #: TOML only
    inner: Inner = Inner()


def parse(argv, **kwargs):
    parser = argparse.ArgumentParser()
    configflags.add_config_flags(parser, Outer, **kwargs)
    return parser, configflags.overrides(parser.parse_args(argv))


def test_flags_carry_types_docs_and_only_what_was_set():
    parser, given = parse(["--rate", "0.25", "--inner.sizes", "3", "5", "--no-flag"])
    assert given == {"rate": 0.25, "flag": False, "inner": {"sizes": [3, 5]}}
    text = parser.format_help()
    assert "step size" in text and "hidden units per layer, continued on a second line." in text
    assert "--table" not in text
    assert parse([])[1] == {}
    with pytest.raises(SystemExit):
        parse(["--inner.width", "x"])


def test_aliases_choices_and_merge():
    _, given = parse(["--n", "b"], aliases={"name": ("--n",)}, choices={"name": ("a", "b")})
    assert given == {"name": "b"}
    with pytest.raises(SystemExit):
        parse(["--name", "c"], choices={"name": ("a", "b")})
    merged = configflags.merge({"rate": 1.0, "inner": {"width": 2, "sizes": [1]}}, {"inner": {"sizes": [3]}, "rate": None})
    assert merged == {"rate": 1.0, "inner": {"width": 2, "sizes": [3]}}


def test_trirl_train_flags_override_the_config_file_field_by_field(tmp_path):
    pytest.importorskip("jax")
    from trirl.continuous import train
    from trirl.continuous.train import TrainConfig

    parser = train.build_parser()
    text = parser.format_help()
    for field in dataclasses.fields(TrainConfig):  # every scalar field has a documented flag
        if field.name not in ("env_options", "ppo", "discriminator", "buffer", "trust_region"):
            assert f"--{field.name.replace('_', '-')}" in text, field.name
    assert "--ppo.entropy-coef" in text and "--buffer.network" not in text
    args = parser.parse_args(["--out", str(tmp_path), "--config", "trirl_point_maze", "--steps", "2048",
                              "--ppo.learning-rate", "0.002", "--discriminator.hidden-sizes", "8", "--seeds", "2"])
    config = train.config_from_args(args)
    shipped = train.load_config("trirl_point_maze")
    assert (config.total_steps, config.seeds, config.ppo.learning_rate) == (2048, 2, 0.002)
    assert config.discriminator.hidden_sizes == (8,) and config.learner_config().buffer.network.hidden_sizes == (8,)
    # the rest of each table is the file's
    assert config.ppo.num_envs == shipped.ppo.num_envs == 32
    assert config.discriminator.minibatch_size == shipped.discriminator.minibatch_size


def test_baselines_record_their_input_mode_and_refuse_a_conflicting_one(tmp_path):
    pytest.importorskip("jax")
    from trirl.continuous import train
    from trirl.errors import InvalidConfigError

    # the shipped config leaves input_mode out: config.json now records the one AIRL runs with
    assert train.load_config("trirl_point_maze", algo="airl").to_dict()["discriminator"]["input_mode"] == "state_transition"
    assert train.load_config("trirl_point_maze", algo="gail").discriminator.input_mode == "state_action"
    with pytest.raises(InvalidConfigError, match=r"\[discriminator\] input_mode = 'state_action', but airl uses"):
        train.load_config("gail_ant", algo="airl")
    args = train.build_parser().parse_args(["--out", str(tmp_path), "--config", "gail_ant", "--algo", "airl",
                                            "--discriminator.input-mode", "state_transition"])
    assert train.config_from_args(args).learner_config().discriminator.input_mode == "state_transition"
    # a config built in code is checked, never rewritten: the error names the field
    with pytest.raises(InvalidConfigError, match=r"^DiscriminatorConfig.input_mode = 'state_action', but amp uses"):
        train.TrainConfig(algo="amp")


@dataclasses.dataclass(frozen=True)
class Options:
    """A command's options.

    Attributes:
        out: where to write.
        sizes: batch sizes.
        names: which ones.
        limit: an optional cap.
    """

    out: str
    sizes: tuple[int, ...] = (2, 4)
    names: tuple[str, ...] = ("a",)
    limit: float | None = None

    def __post_init__(self):
        if min(self.sizes) < 1:
            raise ValueError(f"{configflags.flag('sizes')} is {list(self.sizes)}, expected integers >= 1")


def test_option_flags_are_required_without_a_default_show_defaults_and_read_commas(capsys):
    parser = argparse.ArgumentParser(prog="cmd")
    configflags.add_option_flags(parser, Options, choices={"names": ("a", "b")})
    text = parser.format_help()
    assert "(default: 2 4)" in text and "an optional cap." in text and "(from a, b)" in text
    read = lambda argv: configflags.options_from_args(Options, parser.parse_args(argv))  # noqa: E731
    assert read(["--out", "o"]) == Options("o")
    assert read(["--out", "o", "--sizes", "1,3", "5", "--names", "b,a", "--limit", "0.5"]) == Options(
        "o", (1, 3, 5), ("b", "a"), 0.5)
    with pytest.raises(ValueError, match=r"--sizes is \[0\], expected integers >= 1"):
        read(["--out", "o", "--sizes", "0"])
    for argv, message in ((["--sizes", "1"], "the following arguments are required: --out"),
                          (["--out", "o", "--sizes", "1,x"], "argument --sizes: expected integers, separated by"),
                          (["--out", "o", "--names", "c"], "argument --names: expected names from a, b"),
                          (["--out", "o", "--limit", "x"], "argument --limit: invalid float value: 'x'")):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
        assert message in capsys.readouterr().err, argv


# -- validation generated from the field types ------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Checked:
    count: int = 1
    rate: float = 0.1
    shift: float = 0.0
    widths: tuple[int, ...] = (4, 4)
    name: str = "a"
    flag: bool = True
    limit: float | None = None


BOUNDS = {"count": ">= 1", "rate": "(0, 1]", "widths": ">= 1", "limit": "> 0"}


@pytest.mark.parametrize("field, value, message", [
    ("count", 0, "Checked.count must be >= 1, got 0"),
    ("count", 1.5, "Checked.count must be an integer >= 1, got 1.5"),
    ("count", True, "Checked.count must be an integer >= 1, got True"),
    ("rate", float("nan"), "Checked.rate must be a finite number in (0, 1], got nan"),
    ("rate", 1.5, "Checked.rate must be in (0, 1], got 1.5"),
    ("shift", float("-inf"), "Checked.shift must be a finite number, got -inf"),
    ("shift", "0", "Checked.shift must be a finite number, got '0'"),
    ("widths", (4, 0), "Checked.widths must be a list of integers >= 1, got (4, 0)"),
    ("widths", 4, "Checked.widths must be a list of integers >= 1, got 4"),
    ("name", 3, "Checked.name must be a string, got 3"),
    ("flag", 1, "Checked.flag must be true or false, got 1"),
    ("limit", -1.0, "Checked.limit must be > 0, got -1.0"),
])
def test_check_fields_validates_types_finiteness_and_bounds(field, value, message):
    configflags.check_fields(Checked(), BOUNDS)  # the defaults pass; so do None for X | None and () widths
    configflags.check_fields(Checked(limit=None, widths=()), BOUNDS)
    with pytest.raises(configflags.InvalidConfigError) as info:
        configflags.check_fields(Checked(**{field: value}), BOUNDS)
    assert str(info.value) == message


def test_options_help_has_no_class_heading_and_each_default_once():
    @dataclasses.dataclass(frozen=True)
    class Options:
        """Attributes:
            run: the run.
            steps: steps (default 10, the protocol's).
            seed: the seed.
        """

        run: str
        steps: int = 10
        seed: int = 3

    parser = argparse.ArgumentParser(prog="x")
    configflags.add_option_flags(parser, Options)
    text = " ".join(parser.format_help().split())
    assert "Options fields" not in text and "(default: 3)" in text
    assert text.count("default") == 2  # steps' own words, seed's appended default
