"""``python -m spectral_physics.cli`` runs the command-line interface."""

import sys

from . import main

sys.exit(main())
