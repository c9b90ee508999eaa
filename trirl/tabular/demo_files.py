"""Your own demonstrations: read and write :class:`~trirl.tabular.demos.Trajectories` files.

Two formats, chosen by the file's suffix.

**CSV** (``.csv``), one row per visited state, with a header naming the columns::

    episode,step,state,action,absorbing
    0,0,12,4,0
    0,1,13,4,0
    0,2,14,,1
    1,0,12,2,0
    ...

- ``episode``: any label (integer or text); an episode's rows are contiguous.
- ``step``: ``0, 1, 2, ...`` within an episode, in order.
- ``state``: the state index ``s_t`` (``0 <= s_t < S``, the MDP's state order; for a grid world
  ``world.state_index[row, col]`` gives the state of a cell, ``world.action_names`` the actions).
- ``action``: the action index ``a_t`` taken in ``s_t`` (or, when the caller gives the action names,
  e.g. a grid world's ``up, down, left, right, stay``, its name); **empty on an episode's last
  row**, which holds the state the episode ended in (so an episode of ``L`` actions has ``L + 1`` rows).
- ``absorbing`` (optional column, ``0``/``1``, empty = 0): ``1`` on an episode's last row says the
  episode ended by entering an absorbing state (the goal, a hole); the world must agree. Episodes
  that end elsewhere were cut short (truncated); how the estimator treats both is in
  :mod:`trirl.tabular.demos`.

**NumPy** (``.npz``): the fields of :class:`~trirl.tabular.demos.Trajectories` as arrays:
``states [n, horizon + 1]`` and ``actions [n, horizon]`` (integers, padded past each episode's
end with any value), optionally ``lengths [n]`` (actions per episode) and ``absorbed [n]`` (bool).

Every error is an :class:`~trirl.errors.InvalidDemonstrationError` that names the file, the line
(CSV) or array (``.npz``), the field and the expected form.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trirl.errors import InvalidDemonstrationError
from trirl.files import read_npz
from trirl.tabular.demos import Trajectories, check_trajectories, episode_ends
from trirl.tabular.mdp import MDP

COLUMNS = ("episode", "step", "state", "action")
OPTIONAL_COLUMNS = ("absorbing",)
NPZ_FIELDS = ("states", "actions", "lengths", "absorbed")


def load_trajectories(path, mdp: MDP | None = None, action_names: Sequence[str] | None = None) -> Trajectories:
    """Read demonstrations from a ``.csv`` or ``.npz`` file (module doc).

    With ``mdp``, indices are checked against its state and action counts and ``absorbing``
    flags against ``mdp.absorbing`` (errors name the line), and ``absorbed`` also marks the episodes
    that reach an absorbing state without a flag. With ``action_names`` (``[A]``, e.g. a grid world's
    ``world.action_names``), a CSV's action may be a name as well as an index, and a bad one's error
    lists them. Returns ``Trajectories`` with ``lengths`` and ``absorbed`` filled in.

    Raises:
        InvalidDemonstrationError: a missing file, an unknown suffix, or a malformed entry.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidDemonstrationError(f"demonstrations file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        demos = _read_csv(path, mdp, action_names)
    elif suffix == ".npz":
        demos = _read_npz(path)
    else:
        raise InvalidDemonstrationError(f"demonstrations file {path} has suffix {path.suffix!r}, expected .csv or .npz")
    if mdp is not None:
        try:
            demos = check_trajectories(mdp, demos)
        except InvalidDemonstrationError as err:
            raise InvalidDemonstrationError(f"{path}: {err}") from None
        # flagged or not, an episode that reached one of the world's absorbing states is absorbed
        flagged = np.zeros(len(demos.lengths), bool) if demos.absorbed is None else demos.absorbed
        demos = demos._replace(absorbed=flagged | episode_ends(mdp, demos).absorbed)
    return demos


def save_trajectories(path, trajectories: Trajectories) -> Path:
    """Write demonstrations as ``.csv`` (with the ``absorbing`` column if known) or ``.npz``."""
    path = Path(path)
    states, actions = np.asarray(trajectories[0]), np.asarray(trajectories[1])
    n, horizon = actions.shape
    lengths = np.full(n, horizon) if len(trajectories) < 3 or trajectories[2] is None else np.asarray(trajectories[2])
    absorbed = None if len(trajectories) < 4 or trajectories[3] is None else np.asarray(trajectories[3], dtype=bool)
    if path.suffix.lower() == ".npz":
        arrays = {"states": states, "actions": actions, "lengths": lengths}
        if absorbed is not None:
            arrays["absorbed"] = absorbed
        np.savez(path, **arrays)
        return path
    if path.suffix.lower() != ".csv":
        raise InvalidDemonstrationError(f"demonstrations file {path} has suffix {path.suffix!r}, expected .csv or .npz")
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS + (OPTIONAL_COLUMNS if absorbed is not None else ()))
        for i in range(n):
            for t in range(lengths[i] + 1):
                row = [i, t, int(states[i, t]), int(actions[i, t]) if t < lengths[i] else ""]
                if absorbed is not None:
                    row.append(int(absorbed[i] and t == lengths[i]))
                writer.writerow(row)
    return path


def _read_csv(path: Path, mdp: MDP | None, action_names: Sequence[str] | None = None) -> Trajectories:
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise InvalidDemonstrationError(f"{path} is empty, expected a header line {','.join(COLUMNS)}[,absorbing]")
        header = [h.strip() for h in header]
        missing = [c for c in COLUMNS if c not in header]
        unknown = [c for c in header if c not in COLUMNS + OPTIONAL_COLUMNS]
        if missing or unknown:
            raise InvalidDemonstrationError(
                f"{path} line 1: columns {header}; missing {missing}, unknown {unknown}; expected {','.join(COLUMNS)}[,absorbing]"
            )
        where = {name: header.index(name) for name in header}
        episodes: list[dict] = []
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InvalidDemonstrationError(f"{path} line {line}: {len(row)} fields, expected {len(header)} ({','.join(header)})")
            cell = {name: row[i].strip() for name, i in where.items()}
            step = _integer(path, line, "step", cell["step"])
            state = _integer(path, line, "state", cell["state"], mdp.n_states if mdp is not None else None)
            action = None if cell["action"] == "" else _action(path, line, cell["action"], mdp, action_names)
            flag = cell.get("absorbing", "")
            if flag not in ("", "0", "1"):
                raise InvalidDemonstrationError(f"{path} line {line}: absorbing is {flag!r}, expected 0, 1 or empty")
            if not episodes or episodes[-1]["label"] != cell["episode"]:
                if any(e["label"] == cell["episode"] for e in episodes):
                    raise InvalidDemonstrationError(
                        f"{path} line {line}: episode {cell['episode']!r} continues after other episodes; "
                        "expected each episode's rows together"
                    )
                if episodes:
                    _close(path, episodes[-1], mdp)
                episodes.append({"label": cell["episode"], "states": [], "actions": [], "absorbed": False, "line": line})
            episode = episodes[-1]
            if episode["absorbed"] or (episode["actions"] and episode["actions"][-1] is None):
                raise InvalidDemonstrationError(
                    f"{path} line {line}: episode {cell['episode']!r} goes on after a row with an empty action "
                    "(only an episode's last row has no action)"
                )
            if step != len(episode["states"]):
                raise InvalidDemonstrationError(
                    f"{path} line {line}: step is {step}, expected {len(episode['states'])} (steps count 0, 1, 2, ... within episode {cell['episode']!r})"
                )
            if flag == "1":
                if action is not None:
                    raise InvalidDemonstrationError(
                        f"{path} line {line}: absorbing is 1 but action is {action}; the absorbing state ends the episode, "
                        "so its row has an empty action"
                    )
                if mdp is not None and not mdp.absorbing[state]:
                    raise InvalidDemonstrationError(
                        f"{path} line {line}: absorbing is 1 but state {state} is not absorbing in this world "
                        f"(absorbing states: {np.flatnonzero(mdp.absorbing).tolist()})"
                    )
                episode["absorbed"] = True
            episode["states"].append(state)
            episode["actions"].append(action)
            episode["last_line"] = line
        if not episodes:
            raise InvalidDemonstrationError(f"{path} has a header but no rows; expected at least one episode")
        _close(path, episodes[-1], mdp)
    n, horizon = len(episodes), max(len(e["states"]) - 1 for e in episodes)
    states = np.zeros((n, horizon + 1), dtype=np.int64)
    actions = np.zeros((n, horizon), dtype=np.int64)
    for i, e in enumerate(episodes):
        states[i, : len(e["states"])] = e["states"]
        actions[i, : len(e["states"]) - 1] = e["actions"][:-1]
    lengths = np.array([len(e["states"]) - 1 for e in episodes], dtype=np.int64)
    return Trajectories(states, actions, lengths, np.array([e["absorbed"] for e in episodes]))


def _close(path: Path, episode: dict, mdp: MDP | None) -> None:
    """An episode ends with a row without action, after at least one action."""
    line = episode["last_line"]
    if episode["actions"][-1] is not None:
        raise InvalidDemonstrationError(
            f"{path} line {line}: episode {episode['label']!r} ends with action {episode['actions'][-1]}; expected a "
            "last row with an empty action holding the state the episode ended in"
        )
    if len(episode["states"]) < 2:
        raise InvalidDemonstrationError(
            f"{path} line {line}: episode {episode['label']!r} has no action; expected at least one step before its last row"
        )
    if any(a is None for a in episode["actions"][:-1]):
        bad = episode["line"] + episode["actions"].index(None)
        raise InvalidDemonstrationError(f"{path} line {bad}: action is empty before the end of episode {episode['label']!r}")


def _integer(path: Path, line: int, field: str, text: str, limit: int | None = None, names: str = "") -> int:
    try:
        value = int(text)
    except ValueError:
        raise InvalidDemonstrationError(f"{path} line {line}: {field} is {text!r}, expected an integer{names}") from None
    if value < 0 or (limit is not None and value >= limit):
        bound = f"[0, {limit})" if limit is not None else ">= 0"
        raise InvalidDemonstrationError(f"{path} line {line}: {field} is {value}, expected an index in {bound}{names}")
    return value


def _action(path: Path, line: int, text: str, mdp: MDP | None, action_names: Sequence[str] | None) -> int:
    """An action index, or with ``action_names`` a name (its index); a bad one's error lists them."""
    if not action_names:
        return _integer(path, line, "action", text, mdp.n_actions if mdp is not None else None)
    if text in action_names:
        return list(action_names).index(text)
    names = ", ".join(f"{i} {name}" for i, name in enumerate(action_names))
    return _integer(path, line, "action", text, len(action_names), f" or an action name ({names})")


def _read_npz(path: Path) -> Trajectories:
    fields = read_npz(path, "trajectories: arrays states, actions[, lengths, absorbed]", error=InvalidDemonstrationError)
    unknown = sorted(set(fields) - set(NPZ_FIELDS))
    missing = [k for k in NPZ_FIELDS[:2] if k not in fields]
    if missing or unknown:
        raise InvalidDemonstrationError(
            f"{path}: arrays {sorted(fields)}; missing {missing}, unknown {unknown}; expected states, actions[, lengths, absorbed]"
        )
    return Trajectories(fields["states"], fields["actions"], fields.get("lengths"), fields.get("absorbed"))
