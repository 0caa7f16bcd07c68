"""Churn models: the tabular net (plain nn.Module), its LightningModule, and the baselines.

Every family exposes the same `fit(x, y)` / `predict_proba(x)` on raw feature matrices, so a
benchmark compares like with like on the same splits.
"""
