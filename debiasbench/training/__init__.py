"""The one training loop behind every loss-based unlearning method, and its loss interface.

A method is an :class:`~debiasbench.training.objective.UnlearningLoss` (a forget term, an
optional retain term, what it needs) run by :func:`~debiasbench.training.loop.train`;
:class:`~debiasbench.training.method.LossMethod` turns such a loss into a registrable
:class:`~debiasbench.api.UnlearningMethod`. Plugins reach all of it through
:mod:`debiasbench.api.training`. Importing this package (or ``options``, ``objective``, ``method``)
imports no torch; ``loop``, ``batch``, ``reference``, ``weights`` and ``losses`` do.
"""
