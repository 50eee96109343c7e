"""redpak's family-aware dependency resolution with libsolv (python3-solv): see
docs/solver-protocol.md. Run as `/usr/bin/python3 -I -S path/to/redsolver/__main__.py` (Debian's
`solv` module lives with /usr/bin/python3; -I keeps the user's environment, user site-packages
and the working directory out of the import path; -S skips `site` at start-up, see below)."""
import os
import sys

if sys.flags.no_site:
    # Started with -S: the interpreter's site directories (where python3-solv is), without their
    # .pth files, which import setuptools' hooks and cost a third of Python's start-up. Where the
    # solv module is found only through a .pth file, site runs in full after all.
    import site
    sys.path += [p for p in site.getsitepackages() if p not in sys.path]
    try:
        import solv  # noqa: F401
    except ImportError:
        site.main()

if not __package__:
    # Run as a file (or as a directory), not as `-m redsolver`: the package's parent directory
    # (src/pkg, which holds nothing else Python can import) is what makes `redsolver` importable.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [os.path.dirname(here)] + [p for p in sys.path if p != here]

from redsolver.entry import main  # noqa: E402

sys.exit(main())
