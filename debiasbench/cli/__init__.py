"""The ``debiasbench`` command line (Typer + rich).

One module per command; :mod:`debiasbench.cli.app` assembles them with the commands plugins add
(the ``register_commands`` hook). Importing this package must not import torch: ``--help`` and
``plugins`` stay fast. User errors print one line and exit non-zero, without a traceback.
"""

from debiasbench.cli.app import app, build_app, guarded, main

__all__ = ["app", "build_app", "guarded", "main"]
