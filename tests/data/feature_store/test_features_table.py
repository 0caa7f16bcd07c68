from churnops.data.feature_store.features_table import features_table_name
from churnops.data.sources.config import SourceConfig


def test_a_non_cdnow_source_gets_its_own_feature_table():
    configured = "churnops.cdnow.customer_features"
    csv = SourceConfig(kind="csv", path="/data/My Orders.csv")
    assert features_table_name(configured, csv) == "churnops.csv_my_orders.customer_features"
    assert features_table_name(configured, SourceConfig()) == configured
