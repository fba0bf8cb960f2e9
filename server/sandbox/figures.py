"""Matplotlib's backend in the sandbox: Agg, with show() as IPython's inline backend has it.

Named by MPLBACKEND in a notebook's sandbox (notebook.MATPLOTLIB_ENV). The zygote
imports this module but not matplotlib (see docs/notebooks.md, "Figures"): a notebook
that imports matplotlib loads it, and Agg through FigureCanvas below, when it does.
"""

import contextlib
import ctypes

from . import notebook

# Matplotlib and what it imports, mounted read-only beside NumPy (where installed).
PACKAGES = (
    "matplotlib",
    "mpl_toolkits",
    "PIL",
    "pillow.libs",
    "contourpy",
    "cycler",
    "kiwisolver",
    "dateutil",
    "pyparsing",
    "packaging",
    "fontTools",
    "six.py",
)

# System libraries matplotlib's and Pillow's extensions link that the zygote has not
# loaded already (the sandbox's root has no /lib): loaded once here, found by soname.
LIBRARIES = ("libdl.so.2",)


def prepare():
    """Load the system libraries matplotlib's extensions will ask for."""
    for name in LIBRARIES:
        with contextlib.suppress(OSError):  # not on this host: those extensions fail to load
            ctypes.CDLL(name)


def show(*args, **kwargs):
    """plt.show(): the open figures go into the cell's answer as PNG, then close."""
    notebook.show_figures()


def __getattr__(name):
    """FigureCanvas, loaded when matplotlib first asks for it (switch_backend)."""
    if name != "FigureCanvas":
        raise AttributeError(name)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    globals()["FigureCanvas"] = FigureCanvasAgg  # switch_backend then copies the globals
    return FigureCanvasAgg
