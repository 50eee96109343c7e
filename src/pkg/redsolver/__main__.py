"""redpak's family-aware dependency resolution with libsolv (python3-solv): see
docs/solver-protocol.md. Run as `/usr/bin/python3 -I path/to/redsolver/__main__.py` (Debian's
`solv` module lives with /usr/bin/python3; -I keeps the user's environment, user site-packages
and the working directory out of the import path)."""
import os
import sys

if not __package__:
    # Run as a file (or as a directory), not as `-m redsolver`: the package's parent directory
    # (src/pkg, which holds nothing else Python can import) is what makes `redsolver` importable.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [os.path.dirname(here)] + [p for p in sys.path if p != here]

from redsolver.entry import main  # noqa: E402

sys.exit(main())
