"""Monitoring: profile and drift tables over the predictions, model quality, retraining decisions.

Heavy imports (engines, deltalake, scipy) happen in the modules that need them.
"""
