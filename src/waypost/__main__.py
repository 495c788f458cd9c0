"""``python -m waypost`` and the ``waypost`` console script."""

import sys

from waypost import __version__


def main() -> int:
    """Answer ``--version`` without loading the CLI; hand everything else to it."""
    if sys.argv[1:] == ["--version"]:
        sys.stdout.write(f"waypost {__version__}\n")
        return 0
    from waypost.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
