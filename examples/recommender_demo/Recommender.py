"""The recommender's model server: a Seldon Core v1 Python model class (seldon-core 1.17.1).

    seldon-core-microservice Recommender --service-type MODEL \
        --http-port 9000 --grpc-port 9500 --metrics-port 6000

``POST /api/v1.0/predictions`` (or ``/predict``) with ``{"data": {"ndarray": [3, 4]}}`` (user ids) answers
one row per recommendation, the 5 best unseen movies of each user in order::

    {"data": {"names": ["user_id", "rank", "movie_id", "title", "predicted_rating"],
              "ndarray": [[3, 1, 1449, "Pather Panchali (1955)", 4.581], ...]}, "meta": {}}

An unknown or malformed user id answers HTTP 400 with ``{"status": {"info": "unknown user id 99999: ...",
"reason": "MICROSERVICE_BAD_DATA", ...}}``.  ``POST /api/v1.0/feedback`` (``/send-feedback``) with a
``reward`` publishes it as ``recommender_deploy_accuracy``.

Environment: ``MODEL_PATH`` (a model version folder, or the train task's registry root: then its version
with the lowest ``recommender_train_rmse``), ``RECOMMENDER_TOP_N`` (5); for feedback ``PUSHGATEWAY_URL``,
``AXON_NAME``, ``TASK_ID`` and ``MODEL_VERSION`` (the metric's ``model_version`` group).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from recommender import feedback, store

try:
    from seldon_core.flask_utils import SeldonMicroserviceException
except ImportError:  # serving without seldon-core (tests, notebooks): same constructor and fields

    class SeldonMicroserviceException(Exception):  # type: ignore[no-redef]
        """Stand-in for ``seldon_core.flask_utils.SeldonMicroserviceException``."""

        status_code = 400

        def __init__(self, message, status_code=None, payload=None, reason="MICROSERVICE_BAD_DATA"):
            super().__init__(message)
            self.message = message
            if status_code is not None:
                self.status_code = status_code
            self.payload = payload
            self.reason = reason


logger = logging.getLogger(__name__)

FEEDBACK_METRIC = "recommender_deploy_accuracy"
COLUMNS = ["user_id", "rank", "movie_id", "title", "predicted_rating"]


class Recommender:
    """Top-N unseen movies per user id, from the model version in ``MODEL_PATH``."""

    def __init__(self, model_path: str | None = None, top_n: int | None = None) -> None:
        path = model_path or os.environ.get("MODEL_PATH")
        if not path:
            raise RuntimeError("MODEL_PATH is not set: it must name the model version folder to serve")
        self.model = store.load(Path(path))
        self.top_n = int(top_n or os.environ.get("RECOMMENDER_TOP_N") or 5)
        logger.info("serving recommender model %s (%d users)", self.model.folder, len(self.model.user_ids))

    def class_names(self) -> list[str]:
        """The column names of the prediction rows (Seldon puts them in ``data.names``)."""
        return list(COLUMNS)

    def _user_ids(self, X: object) -> list[int]:
        values = np.asarray(X, dtype=object).ravel().tolist()
        if not values:
            raise SeldonMicroserviceException(
                'no user ids given: send {"data": {"ndarray": [<user id>, ...]}}'
            )
        ids = []
        for value in values:
            try:
                number = float("nan") if isinstance(value, bool) else float(value)
            except (TypeError, ValueError):
                number = float("nan")
            if not np.isfinite(number) or number != int(number):
                raise SeldonMicroserviceException(f"invalid user id {value!r}: user ids are integers")
            ids.append(int(number))
        unknown = [u for u in ids if not self.model.knows(u)]
        if unknown:
            first, last = int(self.model.user_ids.min()), int(self.model.user_ids.max())
            raise SeldonMicroserviceException(
                f"unknown user id{'s' if len(unknown) > 1 else ''} {', '.join(map(str, unknown))}: "
                f"the model knows {len(self.model.user_ids)} users (ids {first}..{last})",
                status_code=400,
            )
        return ids

    def predict(self, X: object, features_names: Iterable[str] | None = None) -> list[list[object]]:
        """Rows ``[user_id, rank, movie_id, title, predicted_rating]``: the top N of each user, in order."""
        rows: list[list[object]] = []
        for user in self._user_ids(X):
            for rank, (movie, title, rating) in enumerate(self.model.recommend(user, self.top_n), start=1):
                rows.append([user, rank, movie, title, rating])
        return rows

    def send_feedback(self, features, feature_names, reward, truth, routing=None) -> list:
        """Publish ``reward`` as ``recommender_deploy_accuracy`` (when ``PUSHGATEWAY_URL`` is set)."""
        if reward is None:
            return []
        try:
            value = float(reward)
        except (TypeError, ValueError):
            raise SeldonMicroserviceException(f"invalid reward {reward!r}: a reward is a number") from None
        if not feedback.configured():
            logger.warning("PUSHGATEWAY_URL is not set: reward %s not published", reward)
            return []
        try:
            name = feedback.publish(FEEDBACK_METRIC, value)
        except Exception as exc:  # a metrics outage must not fail the caller's request
            logger.error("could not publish %s=%s: %s", FEEDBACK_METRIC, reward, exc)
            return []
        logger.info("published %s = %s", name, reward)
        return []
