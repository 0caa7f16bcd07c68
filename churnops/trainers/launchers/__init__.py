"""Launchers run `fit_net` on one or more processes: local | torch_distributor | ray."""

from churnops.trainers.launchers.base import Launcher, make_launcher

__all__ = ["Launcher", "make_launcher"]
