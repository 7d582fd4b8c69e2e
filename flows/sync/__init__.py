"""Keeping an output directory in step with ClinicalTrials.gov: the registry sync.

``sync-trials`` asks the API v2 for the studies of a query that changed since the last sync
(``api``), keeps each one as the API gave it under ``DIR/sources/ctgov/`` (``store``), then runs the
ordinary export (and publish) on that directory. The watermark (``state``) moves only once all of
that has finished, so a sync that is killed or fails is simply done again (``flow``).
"""
