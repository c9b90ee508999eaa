"""What a new user meets on the command line: each test reads what the user sees."""

import re

import pytest

from trirl.cli import main
from trirl.configfile import resolve_config, shipped_kinds
from trirl.errors import InvalidConfigError
from trirl.helptext import HELP_DIR
from trirl.text import plain, plural

MARKUP = re.compile(r"``|:(func|class|mod|meth|data|attr):`")


def exit_code(argv) -> int:
    try:
        return main(argv)
    except SystemExit as exit:
        return exit.code


def test_trirl_train_lists_its_own_configs_and_names_the_command_of_the_others():
    with pytest.raises(InvalidConfigError) as caught:
        resolve_config("NAME", training=True)
    message = str(caught.value)
    listed, others = message.split("shipped: ")[1].split(". Not for trirl train: ")
    kinds = shipped_kinds()
    assert listed.split(", ") == kinds[None] and "trirl_point_maze" in kinds[None]
    assert not any("expert" in name or name.startswith(("suite", "table")) for name in listed.split(", "))
    assert "expert configs (run with trirl expert train --config NAME --out DIR): " in others
    assert "hopper_expert_cpu" in others and "suite specs (run with trirl bench suite NAME): suite_cpu" in others
    assert "Table 1 studies (run with trirl bench table1 --study NAME): table1_point_maze" in others


def test_a_bad_grid_flag_prints_grid_s_usage(capsys):
    assert exit_code(["grid", "--bogus-flag"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: trirl grid [-h] [--world WORLD]")
    assert err.strip().endswith("trirl grid: error: unrecognized arguments: --bogus-flag")


def test_zero_iterations_claim_no_residual_and_no_rounding_noise(tmp_path, capsys):
    assert main(["grid", "--iterations", "0", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "after 0 iterations" in printed
    assert "(expert-normalised 0; uniform policy = 0, expert = 1)" in printed
    assert "relative residual" not in printed and not re.search(r"expert-normalised -?[\d.]+e-", printed)
    assert "the learned reward is a constant plus potential shaping, so it prefers no behaviour (scale c = 0, no " \
           "residual to report); shaping-invariant distance D = 0.71" in printed


def test_counts_read_in_the_singular_and_the_plural(tmp_path, capsys):
    assert main(["grid", "--world", "open_room", "--demos", "1", "--horizon", "1", "--iterations", "1",
                 "--out", str(tmp_path / "run"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "learning from 1 sampled trajectory of 1 step" in printed and "after 1 iteration\n" in printed
    assert [plural(n, "seed") for n in (0, 1, 2)] == ["0 seeds", "1 seed", "2 seeds"]
    assert plural(1, "trajectory", "trajectories") == "1 trajectory" and plural(3, "trajectory", "trajectories") == "3 trajectories"


def test_the_eta_rules_figure_labels_one_seed_in_the_singular():
    import numpy as np

    from trirl.continuous import lq_swaps

    rows = [{"instance": 0, "log_ratio": "discounted", "iterations": [0, 1], "residual": [1.0, 0.5], "seed": 0}]
    fig = lq_swaps.plot_eta_rules({"step": {"rows": rows}, "projection": {"rows": rows + [{**rows[0], "seed": 1}]}})
    labels = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert labels[:2] == ["eta rule 'step' (1 seed)", "eta rule 'projection' (2 seeds)"]
    assert np.allclose(fig.axes[0].get_lines()[0].get_ydata(), [1.0, 0.5])


def test_help_shows_no_rest_markup(capsys):
    assert plain("``a`` :func:`~trirl.core.parse_eta_schedule`, :class:`trirl.A`") == "a parse_eta_schedule, trirl.A"
    for path in sorted(HELP_DIR.glob("*.txt")):  # every continuous command's help, as kept for the terminal
        assert not MARKUP.search(path.read_text()), path.name
    assert plain("The trirl command line::\n\n    trirl grid\n\n::\n\n    x = 1\n") == \
        "The trirl command line:\n\n    trirl grid\n\n\n    x = 1\n"  # a literal block's marker
    for words in ([], ["compare"], ["verify"], ["bench", "tabular"], ["grid"]):
        assert exit_code([*words, "--help"]) == 0
        text = capsys.readouterr().out
        assert "usage: trirl" in text and not MARKUP.search(text) and "::" not in text, words


def test_grid_help_says_what_a_flag_left_out_means_instead_of_default_none(capsys):
    assert exit_code(["grid", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in text and "(default: False)" not in text
    assert "(default: icy_goal)" in text and "(default: 100)" in text
    assert "slippery); without it, the world as defined" in text and "(without it: eta is --eta)" in text


def test_a_map_file_for_world_says_to_pass_the_toml(tmp_path, capsys):
    world = tmp_path / "maze.txt"
    world.write_text("S..\n..G\n")
    assert exit_code(["grid", "--world", str(world), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err == (f"trirl grid: error: --world {world}: {world} is not a world's .toml but a map: pass the world's "
                   f".toml, which names its map (map = \"maze.txt\") and sets what a map alone does not (rewards, "
                   "discount, absorbing cells, start); gridworlds/README.md shows the format\n")
    (tmp_path / "maze.toml").write_text('map = "maze.txt"\n')
    assert exit_code(["grid", "--world", str(world), "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.strip().endswith(f"; {tmp_path / 'maze.toml'} is beside it")
    assert not (tmp_path / "run").exists()


def test_a_missing_map_names_the_file_the_key_and_the_world(tmp_path, capsys):
    toml = tmp_path / "mine.toml"
    toml.write_text('name = "mine"\nmap = "gone.txt"\n\n[variants.big]\nmap = "big.txt"\n')
    assert exit_code(["grid", "--world", str(toml), "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == (
        f"trirl grid: error: --world {toml}: {toml}, line 2: map = 'gone.txt' (world 'mine'): the map file "
        f"{tmp_path / 'gone.txt'} does not exist; a map path is relative to the folder of the .toml "
        "(format: gridworlds/README.md)\n")
    assert exit_code(["grid", "--world", str(toml), "--variant", "big", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert f"{toml}, line 5: [variants.big] map = 'big.txt' (world 'mine', variant 'big'): the map file " \
           f"{tmp_path / 'big.txt'} does not exist" in err and "Errno" not in err
