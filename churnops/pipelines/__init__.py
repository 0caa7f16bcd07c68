"""Pipelines: typed stage tasks, the job spec, a local runner and scheduler, Databricks export."""
