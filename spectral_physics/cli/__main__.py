"""``python -m spectral_physics.cli`` runs the command-line interface."""

import sys

from . import main

# guarded: importing the module (autosummary walking the package, for one) must not run
# the command line on the importer's arguments
if __name__ == "__main__":
    sys.exit(main())
