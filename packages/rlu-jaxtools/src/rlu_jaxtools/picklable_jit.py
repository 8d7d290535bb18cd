"""Compatibility module: it exists only so that old pickles keep loading.

rlu-jaxtools 0.1.0 defined ``JittedFunc`` (what ``rlu.jit(f)`` returns) here, and its pickles
and checkpoints record the path ``rlu_jaxtools.picklable_jit.JittedFunc``. The class now lives
in a private module; import ``jit`` from ``rlu_jaxtools`` instead of anything from here.
"""

from rlu_jaxtools._jit import JittedFunc as JittedFunc
