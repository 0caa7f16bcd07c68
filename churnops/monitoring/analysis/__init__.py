"""Analysis: the predictions, labels and metric tables -> answers.

Label-free performance estimates, the A/B experiment's analysis, and the retraining decision.
"""
