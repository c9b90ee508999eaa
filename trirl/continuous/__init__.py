"""The JAX/Flax/MJX backend of trirl: continuous-control TRIRL (Algorithm 2 of the paper).

Import the submodules directly (``trirl.continuous.trpl``, ``trirl.continuous.discriminator``,
``trirl.continuous.reward``, ...); this package imports nothing so that ``import trirl`` works
without the ``[continuous]`` extra installed.
"""
