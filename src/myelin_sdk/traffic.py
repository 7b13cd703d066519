"""How a deployer's traffic splits between served versions — one rule for the compiler and the local runner.

``rolloutSpec[0].destinations`` gives each version (``destinationIndex`` 0 = newest) a weight. Only the
versions that exist get traffic; their weights are scaled to sum to exactly 100 (largest remainders, ties
to the earlier destination), so on a first deploy ``0:50, 1:50`` serves the one version at 100::

    >>> version_shares([(0, 50), (1, 50)], count=1)
    [(0, 100)]
    >>> version_shares([(0, 50), (1, 50)], count=3)
    [(0, 50), (1, 50)]
    >>> version_shares([(1, 80), (2, 20)], count=1)
    [(0, 100)]
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from .spec import Axon, Deployer

#: No rolloutSpec: the newest version serves everything; legacy ``deploymentType: canary``: 50/50.
DEFAULT_DESTINATIONS = [(0, 100)]
LEGACY_CANARY_DESTINATIONS = [(0, 50), (1, 50)]


def apportion(weights: Sequence[int], total: int) -> list[int]:
    """Scale non-negative ``weights`` (sum > 0) to integers summing to ``total``: largest remainders, ties to
    the earlier weight.

    >>> apportion([1, 1, 1], 100)
    [34, 33, 33]
    """
    whole = sum(weights)
    exact = [Fraction(w * total, whole) for w in weights]
    out = [int(x) for x in exact]  # floor: all non-negative
    left = total - sum(out)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in order[:left]:
        out[i] += 1
    return out


def destinations(deployer: Deployer, legacy_canary: bool = False) -> list[tuple[int, int]]:
    """(destinationIndex, weight) of the deployer's first rollout step, or the default split."""
    if not deployer.rollout_spec:
        return list(LEGACY_CANARY_DESTINATIONS if legacy_canary else DEFAULT_DESTINATIONS)
    return [(d.destination_index, d.weight) for d in deployer.rollout_spec[0].destinations]


def legacy_canary(axon: Axon, deployer: Deployer) -> bool:
    """``deploymentType: canary`` on the deployer or on one of its deploy tasks (the 2019-03 form)."""
    if (deployer.deployment_type or "").lower() == "canary":
        return True
    tasks = {t.name: t for t in axon.tasks}
    for model in deployer.models:
        for backend in model.backend_models:
            task = tasks.get(backend.deployer)
            body = task.deploy if task is not None else None
            if body is not None and (body.deployment_type or "").lower() == "canary":
                return True
    return False


def deployer_destinations(axon: Axon, deployer: Deployer) -> list[tuple[int, int]]:
    """:func:`destinations` of ``deployer``, the legacy canary form read from ``axon``."""
    return destinations(deployer, legacy_canary(axon, deployer))


def version_shares(dests: Sequence[tuple[int, int]], count: int) -> list[tuple[int, int]]:
    """(version index, traffic percent) for ``count`` existing versions, in destination order."""
    live = [(index, weight) for index, weight in dests if index < count]
    if sum(weight for _, weight in live) == 0:
        return [(0, 100)]
    shares = apportion([weight for _, weight in live], 100)
    return [(index, share) for (index, _), share in zip(live, shares, strict=True)]
