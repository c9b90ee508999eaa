"""Applications above the library: benchmarks and studies, each a script that prints figures and
writes JSON with the machine and the command (``trirl bench SUITE``).

``tabular``, ``demos`` and ``continuous`` (with :mod:`.profile_trirl`) time the engines;
``compile`` times compilation with and without JAX's cache; ``table1`` is the paper's Table 1
study (:mod:`trirl.bench.table1`); ``suite`` runs every method on every task of a suite and
reports rliable's aggregates (:mod:`trirl.bench.suite`), sharing the studies' machinery
(:mod:`trirl.bench.study`) with ``table1``; ``report`` collects a folder of continuous runs. The library
(``trirl.tabular``, ``trirl.continuous``) never imports this package.
"""
