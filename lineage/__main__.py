"""python -m lineage: the same as the lineage command."""

from lineage.cli import main

main()
