"""Evaluation: the protocol of ``docs/EVALUATION.md``, metrics, the peers reco is compared
with, reports, and the text models' evaluations.

It may read every part but serving; nothing in reco imports it (only scripts do).
"""
