"""The original Myelin hyper-parameter tuning contract, one implementation for the cluster and ``myelin run``.

What a tuning trial gets (the 2019 HpBandSter controller's contract) and how many trials there are::

    from myelin_sdk.runtime.hpo import budget_ladder, bracket, hpo_args, hpo_params

    budget_ladder(1, 4)        # (1.333..., 4.0): the budgets of successive halving, eta 3
    bracket(1, rungs=2)        # [2]: HpBandSter's iteration 1 (get_next_iteration)
    hpo_params({"C": 0.5}, budget=4.0, config_id="0_0_1")   # HPO_PARAMS (base64 JSON)
    hpo_args({"C": 0.5}, budget=4.0, config_id="0_0_1")     # ['--config_id', '0_0_1', '--budget', '4', ...]

* budgets: ``S = 1 + floor(log_eta(maxBudget / minBudget))`` rungs, ``maxBudget * eta**-k`` for
  ``k = S-1 .. 0`` (HpBandSter's ``budgets``);
* trials: HyperBand/BOHB iteration ``i`` is a bracket of ``s = S-1 - i mod S`` rounds starting with
  ``n0 = floor(S / (s+1)) * eta**s`` configurations, ``max(int(n0 * eta**-r), 1)`` in round ``r``;
* ``HPO_PARAMS``: base64 of a JSON object with the parameters, ``config-id``, ``budget`` and ``hpo-conf``
  (the same object as a JSON string, which the original client's ``get_hpo_params`` decodes); keys sorted;
* arguments appended to the trial's command: ``--config_id ID --budget B --<param> VALUE ...``.

On a cluster this module's source is the trial's ``hpo-params`` step (``python -c <source> ARGS``, see
:mod:`myelin_sdk.compiler.katib`): it turns Katib's strings into the declared types, Katib's hyperband
resource into the budget of the same ladder, prints ``HPO_PARAMS`` and writes the arguments to
``<out>/arg-<i>``::

    python -c "$SOURCE" --spec "$SPEC" --trial exp-x7k2 --resource 1 --out /tmp/hpo -- 0.5 rbf

(``SPEC``: ``{"params": [["C", "UniformFloat", null], ["kernel", "Categorical", ["rbf"]]], "budgets": [4]}``.)

This module imports only the standard library, so the compiler can inline it.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "ETA",
    "bracket",
    "budget_ladder",
    "hpo_args",
    "hpo_document",
    "hpo_params",
    "katib_budget",
    "main",
    "plain_budget",
    "typed_value",
]

#: HpBandSter's default ``eta``: each successive-halving round keeps 1/eta of the configurations.
ETA = 3


def budget_ladder(low: float, high: float, eta: int = ETA) -> tuple[float, ...]:
    """The original's budgets from ``low`` to ``high``.

    >>> budget_ladder(1, 4)
    (1.3333333333333333, 4.0)
    >>> budget_ladder(1, 9)
    (1.0, 3.0, 9.0)
    """
    rungs = 1 + math.floor(math.log(high / low) / math.log(eta) + 1e-9) if high > low else 1
    return tuple(float(high) * eta ** -(rungs - 1 - k) for k in range(rungs))


def bracket(iteration: int, rungs: int, eta: int = ETA) -> list[int]:
    """Configurations in each round of HyperBand iteration ``iteration`` with ``rungs`` budgets (HpBandSter's
    ``get_next_iteration``: ``n0 = floor(max_SH_iter / (s+1)) * eta**s``).

    >>> [bracket(i, 4) for i in range(4)]
    [[27, 9, 3, 1], [9, 3, 1], [6, 2], [4]]
    """
    s = rungs - 1 - iteration % rungs
    n0 = rungs // (s + 1) * eta**s
    return [max(int(n0 * eta ** (-i)), 1) for i in range(s + 1)]


def plain_budget(budget: float) -> float | int:
    """A budget as the original wrote it: ``10`` rather than ``10.0``."""
    return int(budget) if float(budget).is_integer() else float(budget)


def hpo_document(params: Mapping[str, Any], *, budget: float, config_id: str) -> dict[str, Any]:
    """The JSON object of ``HPO_PARAMS`` (see the module docstring)."""
    conf = {**params, "config-id": config_id, "budget": plain_budget(budget)}
    return {**conf, "hpo-conf": json.dumps(conf, sort_keys=True)}


def hpo_params(params: Mapping[str, Any], *, budget: float, config_id: str) -> str:
    """A trial's ``HPO_PARAMS``: base64 of :func:`hpo_document`.

    >>> doc = json.loads(base64.b64decode(hpo_params({"C": 0.5}, budget=4.0, config_id="0_0_2")))
    >>> doc["hpo-conf"]
    '{"C": 0.5, "budget": 4, "config-id": "0_0_2"}'
    """
    text = json.dumps(hpo_document(params, budget=budget, config_id=config_id), sort_keys=True)
    return base64.b64encode(text.encode()).decode()


def hpo_args(params: Mapping[str, Any], *, budget: float, config_id: str) -> list[str]:
    """The arguments the original controller appended to a trial's command (its examples' ``argparse``).

    >>> hpo_args({"kernel": "rbf", "C": 0.5}, budget=10.0, config_id="0_0_1")
    ['--config_id', '0_0_1', '--budget', '10', '--kernel', 'rbf', '--C', '0.5']
    """
    out = ["--config_id", config_id, "--budget", str(plain_budget(budget))]
    for name, value in params.items():
        out += [f"--{name}", str(value)]
    return out


def typed_value(text: str, kind: str, values: Sequence[Any] | None = None) -> Any:
    """A value Katib passed as text, in the type the parameter declares (a categorical value as written in
    the Axon: Katib lists ``str(value)``)."""
    if kind == "UniformInteger":
        return int(float(text))
    if kind == "UniformFloat":
        return float(text)
    return next((v for v in values or () if str(v) == text), text)


def katib_budget(resource: str | float, budgets: Sequence[float], eta: int = ETA) -> float:
    """The ladder's budget for Katib's hyperband resource value (``eta**k`` of ``r_l = eta**(S-1)``; the rung
    nearest on the log scale, so a rounded resource still gives one of ``budgets``).

    >>> katib_budget("1", (10 / 3, 10.0)), katib_budget("3", (10 / 3, 10.0)), katib_budget("x", (10.0,))
    (3.3333333333333335, 10.0, 10.0)
    """
    if len(budgets) == 1:
        return float(budgets[0])
    try:
        value = float(resource) * budgets[-1] / eta ** (len(budgets) - 1)
    except (TypeError, ValueError):
        return float(budgets[-1])
    if not value > 0 or not math.isfinite(value):
        return float(budgets[-1])
    return float(min(budgets, key=lambda b: abs(math.log(b / value))))


def main(argv: Sequence[str] | None = None) -> int:
    """The cluster's ``hpo-params`` step (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="hpo-params")
    parser.add_argument("--spec", required=True, help='{"params": [[name, type, values]], "budgets": [...]}')
    parser.add_argument("--trial", required=True, help="the trial's name: its config-id")
    parser.add_argument("--resource", default="", help="Katib's hyperband resource (empty: maxBudget)")
    parser.add_argument("--out", required=True, help="folder for the trial's arguments, arg-<i>")
    parser.add_argument("values", nargs="*", help="Katib's parameter values, in the spec's order")
    args = parser.parse_args(argv)
    spec = json.loads(args.spec)
    if len(args.values) != len(spec["params"]):
        parser.error(f"expected {len(spec['params'])} parameter values, got {len(args.values)}")
    params = {
        name: typed_value(text, kind, values)
        for (name, kind, values), text in zip(spec["params"], args.values, strict=True)
    }
    budget = katib_budget(args.resource, spec["budgets"])
    os.makedirs(args.out, exist_ok=True)
    for i, value in enumerate(hpo_args(params, budget=budget, config_id=args.trial)):
        with open(os.path.join(args.out, f"arg-{i}"), "w", encoding="utf-8") as out:
            out.write(value)
    print(hpo_params(params, budget=budget, config_id=args.trial))
    return 0


if __name__ == "__main__":
    sys.exit(main())
