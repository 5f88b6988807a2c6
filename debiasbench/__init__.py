"""debiasbench: unlearn social bias from language models and measure what it did, domain by domain.

The core holds the plugin hook specs, the registry, the run orchestration and the result
tables. Methods, models, metrics and data sets live in plugins (first-party ones included)
that register through the ``debiasbench`` entry-point group.
"""

__version__ = "0.1.0"

from debiasbench.plugin_system.hookspecs import hookimpl  # noqa: E402  (the one import a plugin needs)

__all__ = ["__version__", "hookimpl"]
