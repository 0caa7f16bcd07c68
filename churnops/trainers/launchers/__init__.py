"""Launchers run `fit_net` on one or more processes: local | torch_distributor | ray."""

from churnops.trainers.launchers.base import LAUNCHERS, Launcher, make_launcher

__all__ = ["LAUNCHERS", "Launcher", "make_launcher"]
