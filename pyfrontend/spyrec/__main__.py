"""`python -m spyrec ...` is the `spyrec` command."""

import sys

from spyrec.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
