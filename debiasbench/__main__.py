"""`python -m debiasbench` runs the CLI."""

from debiasbench.cli import main

main()
