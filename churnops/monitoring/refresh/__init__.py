"""Refresh: the predictions (unpacked from the inference log) -> the metric tables.

Reads the inference log or payload table, unpacks it into the predictions table, profiles each
window in the engine, computes drift against the previous window and the baseline, and quality
once labels land, and replaces those windows in `<name>_profile_metrics` and
`<name>_drift_metrics`. `run.refresh_monitor` is the entry point.
"""
