"""Monitoring: the served predictions, watched stage by stage as the data flows.

- `refresh/`: the inference log -> predictions -> profile and drift metric tables (and quality
  once labels land), window by window in the engine.
- `analysis/`: predictions, labels and metric tables -> label-free estimates, the A/B analysis,
  the retraining decision.
- `report/`: the report files, plots and `monitor show` views.

`config` (the monitor), `windows` (the one windowing rule) and `labels` (the one labelling
rule) serve all three. Imports run report -> analysis -> refresh, never back (an importlinter
contract in pyproject.toml checks it). Heavy imports (engines, deltalake, scipy) happen in
the modules that need them.
"""
