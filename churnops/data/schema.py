"""The canonical orders and labels shapes every source is normalised to."""

import pyarrow as pa

ORDERS_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("order_id", pa.string()),  # customer + day where the source has no order id (CDNOW)
        ("order_date", pa.date32()),
        ("amount", pa.float64()),
        ("quantity", pa.int64()),
    ]
)

ORDER_COLUMNS = tuple(ORDERS_SCHEMA.names)
LABEL_COLUMNS = ("customer_id", "cutoff", "churn")
