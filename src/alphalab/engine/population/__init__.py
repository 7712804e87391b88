"""The population engine: the jobs of a sweep that differ only in approach and alpha, trained
as one Keras model in one ``fit``, every job keeping the numbers, the MLflow child run and the
artifacts it would have had alone.

``model`` builds the population (a vectorised alpha layer for the built-in architecture, K copies
of the user's model side by side otherwise) and computes each member's own loss; ``train`` fits
it and keeps each member's history, stopping a member that diverges as a single run stops;
``export`` gives each member its ordinary single-run artifacts; ``run`` ties them to MLflow.
"""
