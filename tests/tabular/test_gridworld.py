"""Grid worlds: shipped data, dynamics worked by hand, mirror symmetry and error messages."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trirl.errors import InvalidConfigError
from trirl.tabular import gridworld
from trirl.tabular.gridworld import (ACTION_NAMES, CELL_TYPES, GridSpec, Wind, correspondence, from_cells, load, names,
                                     open_grid, variants)

UP, DOWN, LEFT, RIGHT, STAY = range(5)
SHIPPED = [(name, variant) for name in names() for variant in [None, *variants(name)]]


def test_the_required_worlds_and_variants_are_shipped():
    assert {"open_room", "lava_corridor", "four_rooms", "icy_goal"} <= set(names())
    for name in names():
        assert {"windy", "mirrored", "slippery"} <= set(variants(name))


@pytest.mark.parametrize("name, variant", SHIPPED)
def test_every_shipped_world_loads_and_is_consistent(name, variant):
    world = load(name, variant)
    S, A = world.mdp.shape
    assert A == len(world.action_names) == len(world.action_deltas) == 5
    assert world.reward.shape == (S, A) and world.features.shape == (S, len(world.feature_names))
    assert world.coords.shape == (S, 2) and world.mdp.discount == world.spec.discount
    assert np.allclose(world.mdp.transition_matrix.sum(axis=1), 1.0)
    assert world.mdp.absorbing.any() and world.mdp.initial.sum() == pytest.approx(1.0)
    # the goal pays: the best absorbing reward is the largest reward in the world
    assert world.reward[world.mdp.absorbing].max() == world.reward.max() > 0
    assert world.mdp.reachable[world.cell_type == "goal"].all()
    # state_index and coords are inverse maps
    assert (world.state_index[world.coords[:, 0], world.coords[:, 1]] == np.arange(S)).all()
    assert world.variant == variant and world.name == name


def test_absorbing_states_loop_on_every_action():
    world = load("lava_corridor")
    P = world.mdp.transitions
    for s in np.flatnonzero(world.mdp.absorbing):
        assert (P[s, :, s] == 1.0).all()
    assert set(world.cell_type[world.mdp.absorbing]) == {"goal", "lava"}


def test_slip_in_a_1x3_corridor_by_hand():
    # slip 0.2: the chosen action w.p. 0.8, each of the other four w.p. 0.05
    world = from_cells(["S.."], GridSpec(slip={"floor": 0.2}, absorbing=()))
    P = world.mdp.transitions
    # from the middle, right: right 0.8 -> 2; left 0.05 -> 0; up, down, stay 0.15 -> 1
    np.testing.assert_allclose(P[1, RIGHT], [0.05, 0.15, 0.8])
    # from the west end, left is blocked by the edge: only a slip to the right moves
    np.testing.assert_allclose(P[0, LEFT], [0.95, 0.05, 0.0])
    np.testing.assert_allclose(P[0, STAY], [0.95, 0.05, 0.0])
    np.testing.assert_allclose(P[2, UP], [0.0, 0.05, 0.95])


def test_wind_by_hand_and_no_wind_out_of_an_absorbing_goal():
    world = from_cells(["S.G"], GridSpec(wind=Wind("right", 0.5), absorbing=("goal",)))
    P = world.mdp.transitions
    np.testing.assert_allclose(P[0, STAY], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(P[0, RIGHT], [0.0, 0.5, 0.5])
    np.testing.assert_allclose(P[1, LEFT], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(P[1, STAY], [0.0, 0.5, 0.5])
    np.testing.assert_allclose(P[2], np.tile([0.0, 0.0, 1.0], (5, 1)))


def test_reward_is_state_only_with_step_cost_off_the_absorbing_cells():
    world = from_cells(["S.GL"], GridSpec(step_cost=-0.1, rewards={"goal": 2.0, "lava": -3.0}))
    np.testing.assert_allclose(world.reward, np.tile([[-0.1], [-0.1], [2.0], [-3.0]], (1, 5)))
    np.testing.assert_allclose(world.mdp.initial, [1.0, 0.0, 0.0, 0.0])


def test_walls_block_and_are_not_states():
    world = from_cells(["S#.", "..."], GridSpec(absorbing=()))
    assert world.mdp.n_states == 5 and world.state_index[0, 1] == -1
    P = world.mdp.transitions
    s = world.state_index[0, 0]
    assert P[s, RIGHT, s] == 1.0 and P[s, UP, s] == 1.0
    below = world.state_index[1, 1]
    assert P[below, UP, below] == 1.0
    image = world.to_grid(np.arange(5.0))
    assert np.isnan(image[0, 1]) and image[1, 2] == 4.0 and image.shape == (2, 3)


@pytest.mark.parametrize("name", ["icy_goal", "lava_corridor", "four_rooms"])
def test_mirrored_variant_is_the_mirror_image(name):
    base, mirrored = load(name), load(name, "mirrored")
    rows, cols = base.shape
    assert mirrored.cells == tuple(row[::-1] for row in base.cells)
    # state s of base sits where mirrored state m[s] sits, seen in the mirror
    m = mirrored.state_index[base.coords[:, 0], cols - 1 - base.coords[:, 1]]
    assert (m >= 0).all()
    swap = [UP, DOWN, RIGHT, LEFT, STAY]
    P, Q = base.mdp.transitions, mirrored.mdp.transitions
    np.testing.assert_allclose(Q[np.ix_(m, swap, m)], P)
    np.testing.assert_allclose(mirrored.reward[m], base.reward)
    np.testing.assert_allclose(mirrored.mdp.initial[m], base.mdp.initial)


@pytest.mark.parametrize("mirror", ["horizontal", "vertical"])
def test_correspondence_undoes_the_mirror_in_cells_and_actions(mirror):
    cells = ["S.#", "..G", "~L."]
    base = from_cells(cells, GridSpec(wind=Wind("left", 0.3), slip={"floor": 0.1}))
    mirrored = from_cells(cells, GridSpec(wind=Wind("left", 0.3), slip={"floor": 0.1}, mirror=mirror))
    states, actions = correspondence(base, mirrored)
    assert (states >= 0).all() and sorted(states) == list(range(base.mdp.n_states))
    swapped = {"horizontal": ("left", "right"), "vertical": ("up", "down")}[mirror]
    names = list(base.action_names)
    assert [names[a] for a in actions] == [
        {swapped[0]: swapped[1], swapped[1]: swapped[0]}.get(a, a) for a in mirrored.action_names
    ]
    # the mirrored world is the base world relabelled: rewards, start and dynamics all agree
    np.testing.assert_array_equal(mirrored.reward, base.reward[states][:, actions])
    np.testing.assert_array_equal(mirrored.mdp.initial, base.mdp.initial[states])
    P, Q = base.mdp.transitions, mirrored.mdp.transitions  # [S, A, S]
    np.testing.assert_allclose(Q, P[np.ix_(states, actions, states)])
    # and back: the composition is the identity
    back_states, back_actions = correspondence(mirrored, base)
    np.testing.assert_array_equal(states[back_states], np.arange(base.mdp.n_states))
    np.testing.assert_array_equal(actions[back_actions], np.arange(len(names)))


def test_correspondence_keeps_cells_in_place_and_marks_cells_the_source_lacks():
    small = from_cells(["S.", ".G"], GridSpec())
    larger = from_cells(["S.#", ".G.", "..."], GridSpec())
    states, actions = correspondence(small, larger)
    np.testing.assert_array_equal(actions, np.arange(len(ACTION_NAMES)))
    expected = [small.state_index[r, c] if r < 2 and c < 2 else -1 for r, c in larger.coords]
    np.testing.assert_array_equal(states, expected)


def naive_transitions(world):
    """The documented dynamics, one state, action and executed action at a time."""
    spec, (rows, cols), deltas = world.spec, world.shape, world.action_deltas
    S, A = world.mdp.shape
    absorbing = np.isin(world.cell_type, spec.absorbing)

    def move(s, delta):
        r, c = world.coords[s] + delta
        inside = 0 <= r < rows and 0 <= c < cols and world.state_index[r, c] >= 0
        return world.state_index[r, c] if inside else s

    wind = deltas[world.action_names.index(spec.wind.direction)]
    w = spec.wind.probability
    P = np.zeros((S, A, S))
    for s in range(S):
        if absorbing[s]:
            P[s, :, s] = 1.0
            continue
        p = spec.slip.get(world.cell_type[s], 0.0)
        for a in range(A):
            for b in range(A):
                q = 1 - p if a == b else p / (A - 1)
                m = move(s, deltas[b])
                if absorbing[m]:
                    P[s, a, m] += q
                else:
                    P[s, a, m] += q * (1 - w)
                    P[s, a, move(m, wind)] += q * w
    return P


@pytest.mark.parametrize("name, variant", [("icy_goal", "windy"), ("icy_goal", "slippery"), ("four_rooms", "windy"),
                                           ("lava_corridor", "mirrored")])
def test_vectorised_transitions_match_a_naive_loop(name, variant):
    world = load(name, variant)
    np.testing.assert_allclose(world.mdp.transitions, naive_transitions(world), atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    grid=st.lists(st.text(".#~GL", min_size=4, max_size=4), min_size=1, max_size=4),
    slip=st.floats(0, 1),
    wind=st.tuples(st.sampled_from(["up", "down", "left", "right"]), st.floats(0, 1)),
    mirror=st.sampled_from([None, "horizontal", "vertical"]),
)
def test_random_maps_against_the_naive_loop(grid, slip, wind, mirror):
    grid = ["S" + row[1:] if i == 0 else row for i, row in enumerate(grid)]
    spec = GridSpec(slip={"floor": slip, "ice": 1 - slip}, wind=Wind(*wind), mirror=mirror)
    world = from_cells(grid, spec)
    np.testing.assert_allclose(world.mdp.transitions, naive_transitions(world), atol=1e-12)
    # the stored spec rebuilds the same world from the stored (mirrored) cells
    again = from_cells(world.cells, world.spec)
    np.testing.assert_array_equal(again.mdp.transitions, world.mdp.transitions)


def test_variants_only_change_what_they_override():
    base, windy, slippery = load("icy_goal"), load("icy_goal", "windy"), load("icy_goal", "slippery")
    assert windy.spec.wind == Wind("down", 0.2) and windy.spec.slip == base.spec.slip
    assert slippery.spec.slip["ice"] == 0.6 and slippery.spec.wind == base.spec.wind
    np.testing.assert_array_equal(windy.reward, base.reward)
    assert (windy.mdp.transitions != base.mdp.transitions).any()


def test_features_are_one_hot_cell_types_and_scaled_coordinates():
    world = load("icy_goal")
    onehot = world.features[:, :4]
    assert (onehot.sum(axis=1) == 1).all()
    goal = np.flatnonzero(world.cell_type == "goal")[0]
    assert world.features[goal, world.feature_names.index("is_goal")] == 1
    assert world.features[:, -2:].min() == 0 and world.features[:, -2:].max() == 1


def test_big_open_grid_builds_fast_and_sparse():
    start = time.perf_counter()
    world = open_grid(128, 128, slip=0.1, discount=0.99)
    elapsed = time.perf_counter() - start
    assert world.mdp.n_states == 128 * 128 and elapsed < 2.0
    assert world.mdp.transition_matrix.nnz <= 5 * world.mdp.n_states * 5
    assert world.mdp.absorbing.sum() == 1 and world.mdp.initial[0] == 1.0


# ---------------------------------------------------------------------------------------------
# error paths


def write_world(tmp_path, toml: str, grid: str = "S.G\n"):
    (tmp_path / "w.txt").write_text(grid)
    path = tmp_path / "w.toml"
    path.write_text(toml)
    return path


def test_unknown_map_character_names_line_and_column(tmp_path):
    path = write_world(tmp_path, "discount = 0.9\n", "S..\n.x.\n..G\n")
    with pytest.raises(InvalidConfigError, match=r"w\.txt, line 2, column 2: unknown map character 'x'"):
        load(path)


def test_ragged_map(tmp_path):
    path = write_world(tmp_path, "discount = 0.9\n", "S..\n..\n..G\n")
    with pytest.raises(InvalidConfigError, match=r"w\.txt, line 2: ragged map"):
        load(path)


def test_no_start_cell(tmp_path):
    path = write_world(tmp_path, "discount = 0.9\n", "...\n..G\n")
    with pytest.raises(InvalidConfigError, match=r"w\.txt.*no start cell 'S'"):
        load(path)


def test_toml_syntax_error_names_line_and_column(tmp_path):
    path = write_world(tmp_path, "discount = 0.9\nslip = \n")
    with pytest.raises(InvalidConfigError, match=r"w\.toml, line 2, column \d+: TOML syntax error"):
        load(path)


def test_unknown_key_names_its_line(tmp_path):
    path = write_world(tmp_path, "discount = 0.9\n\n[variants.windy]\nwnid = { direction = 'up' }\n")
    with pytest.raises(InvalidConfigError, match=r"w\.toml, line 4: unknown key 'wnid' in \[variants\.windy\]"):
        load(path, "windy")
    path = write_world(tmp_path, "discount = 0.9\nslipp = 0.1\n")
    with pytest.raises(InvalidConfigError, match=r"line 2: unknown key 'slipp'"):
        load(path)


def test_unknown_variant_and_unknown_world():
    with pytest.raises(InvalidConfigError, match=r"unknown variant 'stormy'.*'windy'"):
        load("icy_goal", "stormy")
    with pytest.raises(InvalidConfigError, match=r"unknown grid world 'atlantis'"):
        load("atlantis")


@pytest.mark.parametrize(
    "toml, message",
    [
        ("discount = 1.0\n", r"line 1: discount is 1.0, expected a number in \[0, 1\)"),
        ("[slip]\nfloor = 1.5\n", r"line 2: slip.floor is 1.5"),
        # one number for every cell type: blamed as the key written, not as its expansion slip.floor
        ("discount = 0.9\nslip = 2\n", r"w\.toml, line 2: slip is 2\.0, expected a probability in \[0, 1\]"),
        ("[rewards]\nmud = 1\n", r"line 2: rewards has unknown cell type 'mud'"),
        ("wind = { direction = 'sideways' }\n", r"line 1: wind.direction is 'sideways'"),
        ("absorbing = ['goal', 'exit']\n", r"line 1: absorbing is"),
        ("start = 'anywhere'\n", r"line 1: start is 'anywhere'"),
    ],
)
def test_bad_values_name_the_field_and_line(tmp_path, toml, message):
    with pytest.raises(InvalidConfigError, match=message):
        load(write_world(tmp_path, toml))


def test_specs_and_maps_built_in_code_are_validated_too():
    with pytest.raises(InvalidConfigError, match=r"discount is 1.2, expected a number in \[0, 1\)"):
        GridSpec(discount=1.2)
    with pytest.raises(InvalidConfigError, match=r"slip.ice is 2.0"):
        GridSpec(slip={"ice": 2.0})
    with pytest.raises(InvalidConfigError, match=r"^slip is -0.5, expected a probability"):
        GridSpec(slip=-0.5)
    assert GridSpec(slip=0.25).slip == dict.fromkeys(CELL_TYPES, 0.25)
    with pytest.raises(InvalidConfigError, match=r"wind.probability is -0.1"):
        Wind("up", -0.1)
    with pytest.raises(InvalidConfigError, match=r"mirror is 'diagonal'"):
        GridSpec(mirror="diagonal")
    with pytest.raises(InvalidConfigError, match=r"map, line 1, column 2: unknown map character '@'"):
        from_cells(["S@G"])
    with pytest.raises(InvalidConfigError, match=r"open_grid needs at least 2 cells"):
        open_grid(1, 1)


def test_default_world_is_icy_goal():
    world = load()
    assert world.name == "icy_goal" and (world.cell_type == "ice").any()
    assert world.spec.slip["ice"] > world.spec.slip.get("floor", 0.0)


def test_to_grid_checks_the_shape():
    with pytest.raises(InvalidConfigError, match=r"values has shape \(3,\)"):
        load("open_room").to_grid(np.zeros(3))


def test_gridworlds_folder_sits_next_to_the_package():
    assert (gridworld.GRIDWORLDS_DIR / "icy_goal.toml").is_file()
