"""``python -m splitbench`` runs the command-line interface (as the console script does)."""

from splitbench.cli.console import console

console()
