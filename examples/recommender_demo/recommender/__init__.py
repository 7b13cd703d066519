"""The movie recommender of the Myelin demo: MovieLens data, a Bayesian matrix factorisation, serving.

- :mod:`recommender.movielens` downloads and verifies a GroupLens release (standard library only);
- :mod:`recommender.data` reads a release and stores/loads the normalised ratings;
- :mod:`recommender.model` is the model (:class:`~recommender.model.BayesianMF`, numpy only);
- :mod:`recommender.store` saves a trained model and serves recommendations from it (numpy only);
- :mod:`recommender.feedback` publishes a metric from the model server.
"""
