"""Experiment tracking: ``--track NAME[:TARGET]`` on run, sweep and study (docs/tracking.md).

The backends are plugins (the ``register_trackers`` hook, :class:`~debiasbench.plugin_system.interfaces.Tracker`);
this package only chooses what every backend holds: :mod:`targets` parses and checks the
``--track`` values before any model loads, :mod:`fanout` sends each call to every named tracker,
:mod:`logged` turns a finished run into params, step metrics, figures and files.
"""
