"""A train task's ``hpTuning``, read and checked once for the compiler, lint and ``myelin run``.

The model keeps ``hpTuning`` as written (a dict, the 2019 format of the original HpBandSter controller)::

    hpTuning:
      optimiser: HyperBand          # HyperBand | BOHB | RandomSearch
      minBudget: 3                  # budgets of successive halving, minBudget <= maxBudget
      maxBudget: 10
      numIteration: 2               # successive-halving brackets (HyperBand iterations)
      concurrency: 2                # trials at once, >= 1
      params:
        - {type: Categorical, name: kernel, categorical: {values: [rbf, linear]}}
        - {type: UniformFloat, name: C, numerical: {lower: "0.01", upper: "10", log: true}}
        - {type: UniformInteger, name: n, numerical: {lower: "10", upper: "1000", default_value: "100"}}

>>> spec, problems = read_hp_tuning({"optimiser": "RandomSearch", "minBudget": 1, "maxBudget": 9,
...     "numIteration": 1, "params": [{"type": "UniformFloat", "name": "C",
...     "numerical": {"lower": "0.1", "upper": "1"}}]}, "hpTuning")
>>> problems, spec.algorithm, spec.budgets, spec.trials, spec.max_trials
([], 'random', (1.0, 3.0, 9.0), 3, 3)

:func:`read_hp_tuning` gives the typed :class:`HpTuning` and the diagnostics together: lint and the compiler
report the diagnostics (what Katib would reject, with field paths), the local runner raises them
(:func:`myelin_sdk.local.hpo_plan.hpo_plan`). Budgets, trial counts and the trial contract (``HPO_PARAMS``,
the trial's arguments) are :mod:`myelin_sdk.runtime.hpo`'s, shared with the cluster's trial step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostic, did_you_mean
from ..runtime.hpo import ETA, bracket, budget_ladder

__all__ = ["ALGORITHMS", "ETA", "OPTIMISERS", "HpParam", "HpTuning", "read_hp_tuning"]

#: The original optimisers and the Katib algorithm each becomes (BOHB: Katib has no BOHB; its hyperband
#: runs the same brackets with random instead of model-based sampling).
ALGORITHMS = {"HyperBand": "hyperband", "BOHB": "hyperband", "RandomSearch": "random"}
OPTIMISERS = tuple(ALGORITHMS)
PARAM_TYPES = ("Categorical", "UniformFloat", "UniformInteger")
#: Characters a categorical value may not hold: Katib substitutes values into the trial's JSON text.
_UNSAFE = ('"', "\\", "${", "{{", "}}")
#: Names the compiler uses beside the user's parameters (Katib's resource), and the keys of ``HPO_PARAMS``
#: and arguments of the trial contract.
BUDGET_PARAM = "hpo_budget"
RESERVED = (BUDGET_PARAM, "budget", "config-id", "config_id", "hpo-conf")


@dataclass(frozen=True)
class HpParam:
    """One hyper-parameter: ``type`` ``Categorical`` (``values`` as written) or ``UniformFloat``/
    ``UniformInteger`` (``low``..``high``, on a log scale when ``log``), with its ``default`` (None without
    one; typed)."""

    name: str
    type: str
    values: tuple[Any, ...] = ()
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    default: Any = None

    @property
    def katib_type(self) -> str:
        return {"Categorical": "categorical", "UniformFloat": "double", "UniformInteger": "int"}[self.type]

    @property
    def katib_values(self) -> list[str]:
        """A categorical parameter's values as Katib lists them (text)."""
        return [str(v) for v in self.values]

    def bound(self, value: float) -> str:
        """A bound as Katib reads it: integers without a fraction."""
        return str(int(value)) if self.type == "UniformInteger" else repr(float(value))


@dataclass(frozen=True)
class HpTuning:
    """A checked ``hpTuning``: what Katib and the local runner tune."""

    optimiser: str
    min_budget: float
    max_budget: float
    num_iteration: int
    concurrency: int
    params: tuple[HpParam, ...] = field(default_factory=tuple)
    eta: int = ETA

    @property
    def algorithm(self) -> str:
        """Katib's ``algorithmName``."""
        return ALGORITHMS[self.optimiser]

    @property
    def budgets(self) -> tuple[float, ...]:
        """The original's budgets, ``minBudget``..``maxBudget`` (:func:`.runtime.hpo.budget_ladder`)."""
        return budget_ladder(self.min_budget, self.max_budget, self.eta)

    @property
    def rungs(self) -> tuple[float, ...]:
        """The budgets one configuration runs at, in order (RandomSearch: ``maxBudget`` only)."""
        return self.budgets[-1:] if self.algorithm == "random" else self.budgets

    @property
    def s_max(self) -> int:
        """HpBandSter's ``max_SH_iter - 1``: successive-halving rounds of the largest bracket."""
        return len(self.budgets) - 1

    def bracket(self, iteration: int) -> list[int]:
        """Configurations in each round of HpBandSter's bracket ``iteration`` (HyperBand)."""
        return bracket(iteration, len(self.budgets), self.eta)

    @property
    def trials(self) -> int:
        """The configurations the original sampled in ``numIteration`` iterations (RandomSearch: ``s_max + 1``
        an iteration, each at ``maxBudget`` only)."""
        if self.algorithm == "random":
            return self.num_iteration * len(self.budgets)
        return sum(self.bracket(i)[0] for i in range(self.num_iteration))

    @property
    def max_trials(self) -> int:
        """Katib's ``maxTrialCount``: the runs the original would make in ``numIteration`` iterations (each
        round of a bracket is a new Katib trial)."""
        if self.algorithm == "random":
            return self.trials
        return sum(sum(self.bracket(i)) for i in range(self.num_iteration))

    @property
    def katib_min_parallel(self) -> int:
        """The least ``parallelTrialCount`` Katib's hyperband accepts: ``eta ** s_max``."""
        return int(self.eta**self.s_max) if self.algorithm == "hyperband" else 1

    @property
    def katib_r_l(self) -> float:
        """Katib's hyperband ``r_l``: ``eta ** s_max``, so its resource values are the ladder's ``eta ** k``
        (nudged up when Katib's ``int(log(r_l) / log(eta))`` would round below ``s_max``)."""
        r_l = float(self.eta**self.s_max)
        if r_l > 1 and int(math.log(r_l) / math.log(self.eta)) != self.s_max:
            r_l *= 1 + 1e-9
        return r_l

    def defaults(self) -> dict[str, Any]:
        """The parameters that have a default: the first configuration tried locally."""
        return {p.name: p.default for p in self.params if p.default is not None}


def _raw(value: Any) -> Any:
    if hasattr(value, "model_dump"):  # a typed model: the YAML form
        return value.model_dump(by_alias=True, exclude_none=True)
    return value


def _get(data: Mapping[str, Any], *names: str) -> Any:
    return next((data[n] for n in names if n in data), None)


def _number(raw: Any, path: str, out: list[Diagnostic], *, integer: bool = False) -> float | None:
    """A number written as a number or a string (``"0.01"``), or None after reporting it."""
    if isinstance(raw, bool) or raw is None:
        out.append(Diagnostic(path, f"expected a number, got {raw!r}"))
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        out.append(Diagnostic(path, f"expected a number, got {raw!r}"))
        return None
    if not math.isfinite(value):
        out.append(Diagnostic(path, f"expected a finite number, got {raw!r}"))
        return None
    if integer and value != int(value):
        out.append(Diagnostic(path, f"expected an integer, got {raw!r}"))
        return None
    return value


def _param(raw: Any, path: str, out: list[Diagnostic]) -> HpParam | None:
    if not isinstance(raw, Mapping):
        out.append(Diagnostic(path, "expected a mapping with type, name and categorical or numerical"))
        return None
    name = raw.get("name")
    kind = raw.get("type")
    if not isinstance(name, str) or not name or any(c in name for c in '{}$"\\ '):
        out.append(
            Diagnostic(
                f"{path}.name",
                f"expected a parameter name without spaces, '{{', '}}', '$', "
                f"quotes or backslashes, got {name!r}",
            )
        )
        return None
    if kind not in PARAM_TYPES:
        hint = did_you_mean(str(kind), list(PARAM_TYPES))
        out.append(
            Diagnostic(
                f"{path}.type", f"unknown type {kind!r}: expected one of {', '.join(PARAM_TYPES)}{hint}"
            )
        )
        return None
    if kind == "Categorical":
        body = raw.get("categorical")
        values = body.get("values") if isinstance(body, Mapping) else None
        if not isinstance(values, list) or not values:
            out.append(Diagnostic(f"{path}.categorical.values", "expected a non-empty list of values"))
            return None
        texts = [str(v) for v in values]
        for i, text in enumerate(texts):
            if any(u in text for u in _UNSAFE):
                out.append(
                    Diagnostic(
                        f"{path}.categorical.values[{i}]",
                        f"{text!r}: Katib substitutes "
                        f"values into the trial's JSON text, so quotes, backslashes, '${{' "
                        f"and Argo's '{{{{' cannot be used",
                    )
                )
                return None
        if len(set(texts)) != len(texts):
            out.append(Diagnostic(f"{path}.categorical.values", "expected distinct values"))
            return None
        assert isinstance(body, Mapping)
        choice = _get(body, "default_value", "defaultValue")
        if choice is not None and choice not in values:
            out.append(
                Diagnostic(f"{path}.categorical.default_value", f"{choice!r} is not one of the values")
            )
            return None
        return HpParam(name, kind, tuple(values), default=choice)
    body = raw.get("numerical")
    if not isinstance(body, Mapping):
        out.append(Diagnostic(f"{path}.numerical", f"a {kind} parameter needs numerical: {{lower, upper}}"))
        return None
    integer = kind == "UniformInteger"
    lower = _number(body.get("lower"), f"{path}.numerical.lower", out, integer=integer)
    upper = _number(body.get("upper"), f"{path}.numerical.upper", out, integer=integer)
    log = str(body.get("log", False)).strip().lower() == "true"
    if lower is None or upper is None:
        return None
    if not lower < upper:
        out.append(
            Diagnostic(
                f"{path}.numerical.upper",
                f"expected more than lower (lower < upper), got lower {lower:g}, upper {upper:g}",
            )
        )
        return None
    if log and lower <= 0:
        out.append(Diagnostic(f"{path}.numerical.lower", f"a log scale needs lower > 0, got {lower:g}"))
        return None
    default: Any = None
    given = _get(body, "default_value", "defaultValue")
    if given is not None:
        default = _number(given, f"{path}.numerical.default_value", out, integer=integer)
        if default is None:
            return None
        if not lower <= default <= upper:
            out.append(
                Diagnostic(
                    f"{path}.numerical.default_value",
                    f"expected within [{lower:g}, {upper:g}], got {given!r}",
                )
            )
            return None
        default = int(default) if integer else default
    return HpParam(name, kind, low=lower, high=upper, log=log, default=default)


def read_hp_tuning(raw: Any, path: str) -> tuple[HpTuning | None, list[Diagnostic]]:
    """The typed ``hpTuning`` at ``path`` (e.g. ``spec.tasks[1].train.hpTuning``) and what is wrong with it;
    the spec is None when there is any error."""
    out: list[Diagnostic] = []
    raw = _raw(raw)
    if not isinstance(raw, Mapping):
        return None, [Diagnostic(path, "expected a mapping (optimiser, minBudget, maxBudget, params, ...)")]
    optimiser = _get(raw, "optimiser", "optimizer") or "HyperBand"
    if not isinstance(optimiser, str) or optimiser not in ALGORITHMS:  # a mapping is unhashable (#17 fuzz)
        hint = did_you_mean(str(optimiser), list(ALGORITHMS))
        out.append(
            Diagnostic(
                f"{path}.optimiser",
                f"unknown optimiser {optimiser!r}: expected one of {', '.join(ALGORITHMS)}{hint}",
            )
        )
    low_raw, high_raw = _get(raw, "minBudget", "min_budget"), _get(raw, "maxBudget", "max_budget")
    low = _number(1 if low_raw is None else low_raw, f"{path}.minBudget", out)
    high = _number(1 if high_raw is None else high_raw, f"{path}.maxBudget", out)
    if low is not None and low <= 0:
        out.append(Diagnostic(f"{path}.minBudget", f"expected a budget > 0, got {low:g}"))
    elif low is not None and high is not None and low > high:
        out.append(
            Diagnostic(
                f"{path}.maxBudget",
                f"expected minBudget <= maxBudget (at least minBudget, {low:g}), got {high:g}",
            )
        )
    iterations = _number(raw.get("numIteration", 1), f"{path}.numIteration", out, integer=True)
    if iterations is not None and iterations < 1:
        out.append(Diagnostic(f"{path}.numIteration", f"expected at least 1 iteration, got {iterations:g}"))
    concurrency = _number(raw.get("concurrency", 1), f"{path}.concurrency", out, integer=True)
    if concurrency is not None and concurrency < 1:
        out.append(
            Diagnostic(f"{path}.concurrency", f"expected concurrency >= 1 (at least 1), got {concurrency:g}")
        )
    params: list[HpParam] = []
    raw_params = raw.get("params")
    if not isinstance(raw_params, list) or not raw_params:
        out.append(Diagnostic(f"{path}.params", "expected at least one parameter to tune"))
    else:
        seen: dict[str, int] = {}
        for i, item in enumerate(raw_params):
            param = _param(item, f"{path}.params[{i}]", out)
            if param is None:
                continue
            if param.name in seen:
                out.append(
                    Diagnostic(
                        f"{path}.params[{i}].name",
                        f"duplicate parameter {param.name!r} (first at params[{seen[param.name]}])",
                    )
                )
            elif param.name in RESERVED:
                out.append(
                    Diagnostic(
                        f"{path}.params[{i}].name",
                        f"{param.name!r} is a name of the trial contract (HPO_PARAMS, the trial's "
                        f"arguments, Katib's budget {BUDGET_PARAM!r}): rename this parameter",
                    )
                )
            seen.setdefault(param.name, i)
            params.append(param)
    if out:
        return None, out
    assert low is not None and high is not None and iterations is not None and concurrency is not None
    spec = HpTuning(str(optimiser), low, high, int(iterations), int(concurrency), tuple(params))
    return spec, []
