"""A generated telecom-like customer table: string categories, a Yes/No label, blank numbers.

Shaped like the public telecom churn CSVs (one row per customer, `customerID`, `Churn` Yes/No,
`TotalCharges` blank for new customers) so the customer-table source, tests and the benchmark
have a realistic messy table without a download. Churn depends on contract, tenure, internet
service, payment method and charges, with interactions a linear model cannot fully express.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

CONTRACTS = ("Month-to-month", "One year", "Two year")
INTERNET = ("DSL", "Fiber optic", "No")
PAYMENTS = (
    "Electronic check",
    "Mailed check",
    "Bank transfer (automatic)",
    "Credit card (automatic)",
)
COLUMNS = [
    "customerID", "gender", "SeniorCitizen", "Partner", "Dependents", "tenure", "PhoneService",
    "InternetService", "Contract", "PaperlessBilling", "PaymentMethod", "MonthlyCharges",
    "TotalCharges", "Churn",
]  # fmt: skip
# The generated table's categorical columns (SeniorCitizen is 0/1, read as a number).
CATEGORICAL = [
    "gender", "Partner", "Dependents", "PhoneService", "InternetService", "Contract",
    "PaperlessBilling", "PaymentMethod",
]  # fmt: skip
NUMERIC = ["SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges"]


def generate_customer_table(path: str | Path, customers: int = 5000, seed: int = 0) -> Path:
    """Write the table as CSV at `path` (whole or not at all) and return the path."""
    rng = np.random.default_rng(seed)
    n = customers
    contract = rng.choice(3, n, p=[0.55, 0.21, 0.24])
    internet = rng.choice(3, n, p=[0.34, 0.44, 0.22])
    payment = rng.choice(4, n, p=[0.34, 0.23, 0.22, 0.21])
    senior = (rng.random(n) < 0.16).astype(int)
    partner = rng.random(n) < 0.48
    dependents = rng.random(n) < np.where(partner, 0.5, 0.1)
    phone = rng.random(n) < 0.9
    paperless = rng.random(n) < 0.59
    tenure = np.clip(rng.gamma(1.0 + contract, 12 + 8 * contract), 1, 72).astype(int)
    tenure[rng.random(n) < 0.01] = 0  # new customers: no total charge yet
    monthly = np.round(
        20 + 25 * (internet == 0) + 50 * (internet == 1) + 10 * phone + rng.normal(0, 8, n), 2
    )
    monthly = np.clip(monthly, 18.25, 118.75)
    total = np.round(monthly * tenure * rng.normal(1, 0.05, n), 2)

    logit = (
        -1.9
        + 1.4 * (contract == 0) - 1.3 * (contract == 2)
        - 0.9 * np.log1p(tenure) + 2.2
        + 0.9 * (internet == 1) - 0.8 * (internet == 2)
        + 0.7 * (payment == 0)
        + 0.35 * senior + 0.3 * paperless - 0.2 * dependents
        + 0.012 * (monthly - 65)
        + 0.8 * ((contract == 0) & (internet == 1) & (tenure < 12))  # the risky segment
    )  # fmt: skip
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))

    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))[rng.integers(0, 26, (n, 5))]
    ids = [f"{d}-{''.join(w)}" for d, w in zip(rng.integers(1000, 9999, n), letters, strict=True)]
    yes_no = np.array(["No", "Yes"])
    rows = zip(
        ids,
        np.where(rng.random(n) < 0.5, "Male", "Female"),
        senior,
        yes_no[partner.astype(int)],
        yes_no[dependents.astype(int)],
        tenure,
        yes_no[phone.astype(int)],
        np.array(INTERNET)[internet],
        np.array(CONTRACTS)[contract],
        yes_no[paperless.astype(int)],
        np.array(PAYMENTS)[payment],
        monthly,
        [" " if t == 0 else f"{v:.2f}" for t, v in zip(tenure, total, strict=True)],
        yes_no[churn.astype(int)],
        strict=True,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            writer.writerows(rows)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
