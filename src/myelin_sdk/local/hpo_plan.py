"""A train task's ``hpTuning`` as the local runner tunes it: the compiler's reading, raised as an error.

One reading of ``hpTuning`` serves lint, the compiler and ``myelin run``
(:func:`myelin_sdk.compiler.hpo.read_hp_tuning`), and one implementation of the original trial contract serves
the cluster's trials and the local ones (:mod:`myelin_sdk.runtime.hpo`); :mod:`.tuning` runs the plan with
Optuna::

    plan = hpo_plan(task.train.hp_tuning, "spec.tasks[1].train.hpTuning")
    plan.budgets        # (1.333..., 4.0): minBudget 1, maxBudget 4, eta 3 — the original's ladder
    plan.trials         # 5 configurations for numIteration 2 (HyperBand/BOHB), as HpBandSter sampled
    hpo_params({"C": 0.5}, budget=4.0, config_id="0_0_3")   # base64 HPO_PARAMS
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import MyelinError
from ..runtime.hpo import ETA, budget_ladder, hpo_args, hpo_params

if TYPE_CHECKING:
    from ..compiler.hpo import HpTuning

__all__ = ["ETA", "budget_ladder", "hpo_args", "hpo_params", "hpo_plan"]


def hpo_plan(hp_tuning: Any, where: str) -> HpTuning:
    """Read a train task's ``hpTuning`` (``where``: its field path). Raises MyelinError naming each field.

    >>> plan = hpo_plan({"minBudget": 1, "maxBudget": 4, "numIteration": 2, "params": [
    ...     {"type": "UniformFloat", "name": "x", "numerical": {"lower": "0", "upper": "1"}}]}, "hpTuning")
    >>> plan.budgets, plan.trials
    ((1.3333333333333333, 4.0), 5)
    >>> hpo_plan({"minBudget": 0, "params": []}, "hpTuning")
    Traceback (most recent call last):
    ...
    myelin_sdk.errors.MyelinError: ...hpTuning.minBudget...
    """
    from ..compiler.hpo import read_hp_tuning  # lazily: importing the compiler package imports hera

    spec, problems = read_hp_tuning(hp_tuning, where)
    if spec is None:
        raise MyelinError(problems)
    return spec
