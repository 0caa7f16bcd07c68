"""Scenarios: data that plays a deployment forward, for the monitor to watch.

`replay` scores the CDNOW customers at each month end as the served versions would and writes the
inference log and labels; `closed_loop.replay_monitor` runs the monitor over that replay month by
month. They sit above `monitoring` (they drive it) and below `pipelines` (whose tasks call them).
"""
