"""Data: order sources, labels, feature definitions, engines and the feature store."""
