"""redpak's family-aware dependency resolution with libsolv (python3-solv): see
docs/solver-protocol.md. Run as `/usr/bin/python3 -I path/to/redsolver` (Debian's `solv` module
lives with /usr/bin/python3; -I keeps the user's environment and site-packages out)."""
import os
import sys

if __package__ in (None, ''):
    # Run as a directory, Python put the package's own directory first on the path; its parent is
    # what lets `redsolver` be imported as a package (that directory holds nothing else to import).
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from redsolver.entry import main  # noqa: E402

sys.exit(main())
