"""The MuJoCo model files of the locomotion suite: Gymnasium's own, trirl's version 1, and their edits.

Gymnasium's model files are read from the installed ``gymnasium`` package (MIT; nothing is
copied) and pinned by :data:`GYMNASIUM_SHA256` (the same bytes in gymnasium 1.0 to 1.4; a changed
file warns with :class:`GymnasiumModelWarning`). trirl's own version-1 models are in
``trirl/continuous/assets/``.
"""

from __future__ import annotations

import importlib.resources
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import mujoco

from trirl.errors import InvalidConfigError

ASSETS = Path(__file__).resolve().parents[1] / "assets"
#: Gymnasium's model files as read here (gymnasium 1.0.0 to 1.4.0 ship the same bytes)
GYMNASIUM_SHA256 = {
    "ant.xml": "cd5f83ef0ea35b0969e65d360c5bacd5b74ccaef6b27e4433b5168c605e3e2be",
    "half_cheetah.xml": "11797a5d69e8ac955e89ca6fdd3a0087f1c990094fda401ac51420de1b6c5494",
    "hopper.xml": "3ce93a055ffdcd83c0c701d2400768e40d2cbb9532f3c4ae33377c27f8b39f9e",
    "walker2d_v5.xml": "6bed53a6cc3ca73c4fe8ac3486d3b4228927264a6454f4ef16d3eed3c58bc09d",
    "humanoid.xml": "85816f372c826d2094b4a598918233bd9c5843b2439119eece2733bdc2e0d073",
}
#: Ant-v5's legs that point forward (+x): body names and the actuated joints of each
_DISABLED_LEGS = {"front_left_leg": ("hip_1", "ankle_1"), "right_back_leg": ("hip_4", "ankle_4")}

class GymnasiumModelWarning(UserWarning):
    """The installed gymnasium's model file differs from the one trirl measured its equivalence on."""


def gymnasium_asset(xml: str) -> Path:
    """The path of Gymnasium's model file ``xml`` in the installed ``gymnasium`` package."""
    try:
        root = importlib.resources.files("gymnasium")
    except ModuleNotFoundError:
        raise InvalidConfigError(
            "the locomotion tasks of version 2 read Gymnasium's model files: pip install 'trirl[continuous]' "
            "(it installs gymnasium)") from None
    path = Path(str(root.joinpath("envs", "mujoco", "assets", xml)))
    if not path.is_file():
        raise InvalidConfigError(f"the installed gymnasium has no model file {path}")
    return path


def disable_front_legs(text: str) -> str:
    """Ant-v5's two forward legs: thigh and shin shortened to a quarter (as trirl's version 1), gear 0.

    The hip stays where it is (the ``aux`` geom from the torso keeps its length); every geom and
    body offset below the hip is scaled by 1/4.
    """
    root = ET.fromstring(text)
    for leg in root.iter("body"):
        if leg.get("name") not in _DISABLED_LEGS:
            continue
        for hip in leg.findall("body"):
            for element in hip.iter():
                attribute = "fromto" if element.tag == "geom" else "pos" if element.tag == "body" else None
                if element is hip or attribute is None or element.get(attribute) is None:
                    continue
                values = [0.25 * float(v) for v in element.get(attribute).split()]
                element.set(attribute, " ".join(repr(v) for v in values))
    disabled = {joint for joints in _DISABLED_LEGS.values() for joint in joints}
    for motor in root.iter("motor"):
        if motor.get("joint") in disabled:
            motor.set("gear", "0")
    return ET.tostring(root, encoding="unicode")


def compile_model(text: str) -> mujoco.MjModel:
    """Compile MJCF ``text``; a ``<compiler settotalmass=...>`` is applied as MuJoCo now asks.

    MuJoCo (>= 3.3) deprecates the compiler attribute ``settotalmass`` (Gymnasium's
    HalfCheetah model uses it) and prints a warning at every compilation; this removes the
    attribute and calls ``mj_setTotalmass`` and ``mj_setConst`` on the compiled model instead,
    which gives the same masses, inertias and constants bit for bit (tested).
    """
    match = _SETTOTALMASS.search(text)
    if match is None:
        return mujoco.MjModel.from_xml_string(text)
    model = mujoco.MjModel.from_xml_string(text[:match.start()] + text[match.end():])
    mujoco.mj_setTotalmass(model, float(match.group(1)))
    mujoco.mj_setConst(model, mujoco.MjData(model))
    return model


_SETTOTALMASS = re.compile(r'\s+settotalmass="([^"]+)"')
