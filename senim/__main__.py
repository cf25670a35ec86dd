"""``python -m senim``: the same as the ``senim`` command."""

from senim.cli import main

main(prog_name="senim")
