"""``python -m saga`` runs the command line."""

from saga.cli import main

main()
