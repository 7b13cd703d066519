"""The original Myelin client's package (``myelin`` 0.0.x-0.1.x), served by ``myelin_sdk.runtime``.

On the ``PYTHONPATH`` of everything ``myelin run`` starts (:func:`myelin_sdk.compat.path`), so code written
for Myelin keeps its imports::

    import myelin.metric
    from myelin import metric, admin

    myelin.metric.publish_result(0.9, "test_accuracy")            # test_accuracy_<axon> under job TASK_ID
    metric.MetricClient().post_update("deploy_accuracy", reward)
    admin.task(task_name="DataPrep").data_path                      # the latest execution's folders

Only the standard library and ``myelin_sdk.runtime`` are used (``prometheus_client`` on the first push),
so a model server's environment needs nothing else.
"""

from __future__ import annotations

from . import admin, hpo, metric

__all__ = ["admin", "hpo", "metric"]
