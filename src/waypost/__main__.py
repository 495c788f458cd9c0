"""``python -m waypost`` and the ``waypost`` console script."""

import sys

from waypost import __version__

# Commands after which the heap is frozen (see main): they close their store themselves and
# leave no open file behind for a shutdown collection to finalise.
FREEZE_AT_EXIT = frozenset({"track", "list", "config", "carriers", "--help", "-h"})


def main() -> int:
    """Answer ``--version`` without loading the CLI; hand everything else to it.

    After the commands of ``FREEZE_AT_EXIT`` the heap is frozen: interpreter shutdown then skips
    the objects alive at the end (modules, schemas, the answers) in its final garbage
    collections, which cost ~90 ms at 1,000 numbers. Flushing, ``atexit`` and the exit code stay
    as they were.
    """
    if sys.argv[1:] == ["--version"]:
        sys.stdout.write(f"waypost {__version__}\n")
        return 0
    try:
        from waypost import quick
        from waypost.cli import main as cli_main
    except KeyboardInterrupt:  # Ctrl-C before the CLI is loaded: as cli.main() reports it
        sys.stderr.write("waypost: interrupted\n")
        return 130

    quick.ENABLED = True

    code = cli_main()
    if sys.argv[1:2] and sys.argv[1] in FREEZE_AT_EXIT:
        import gc

        gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(main())
