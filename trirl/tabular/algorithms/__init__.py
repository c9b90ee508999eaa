"""Tabular IRL algorithms, each a :class:`trirl.tabular.driver.Learner` in its own module."""
