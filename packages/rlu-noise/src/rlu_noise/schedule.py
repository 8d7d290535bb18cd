"""Compatibility module: it exists only so that old pickles keep loading.

rlu-noise 0.1.0 defined ``StepwiseLinearFunction`` here, and pickles and checkpoints of its
instances record the path ``rlu_noise.schedule.StepwiseLinearFunction``. Import it from
``rlu_noise`` instead.
"""

from rlu_noise._schedule import StepwiseLinearFunction as StepwiseLinearFunction
