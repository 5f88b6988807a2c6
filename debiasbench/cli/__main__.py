"""`python -m debiasbench.cli` runs the CLI."""

from debiasbench.cli.app import main

main()
