"""The subcommands' argument parser. Its own module: argparse (with re) is
imported by the commands that parse, not by `spyrec run`, which every
recorded program's start-up pays for."""

from __future__ import annotations

import argparse

from ..errors import UsageError


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is a UsageError (one line), not usage text + exit."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")
