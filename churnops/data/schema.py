"""The canonical orders and labels shapes every source is normalised to, and how numbers in
text are read."""

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


# "1,889.5": digits grouped by thousands, as spreadsheets export them. Read as 1889.5 both when
# a customer table is read (data.sources.customers, in SQL) and when a logged model scores
# (models.encoding.parse_numbers).
THOUSANDS = r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?"
