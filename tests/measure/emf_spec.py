"""The CloudWatch embedded metric format's rules, checked on a document (the specification:
docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
"""

from __future__ import annotations

import json
from typing import Any

# StandardUnit, as the CloudWatch API (botocore's model) spells it
UNITS = frozenset(
    [
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ]
)


def check_emf(document: dict[str, Any]) -> None:
    """Fail unless `document` is a valid EMF document."""
    assert len(json.dumps(document)) < 1_000_000  # a log event's limit
    meta = document["_aws"]
    assert set(meta) <= {"Timestamp", "CloudWatchMetrics"}, meta  # no other members
    timestamp = meta["Timestamp"]
    assert isinstance(timestamp, int)
    assert timestamp > 1_600_000_000_000
    directives = meta["CloudWatchMetrics"]
    assert isinstance(directives, list)
    assert directives
    for directive in directives:
        assert set(directive) == {"Namespace", "Dimensions", "Metrics"}, directive
        namespace = directive["Namespace"]
        assert isinstance(namespace, str)
        assert 1 <= len(namespace) <= 255
        for dimension_set in directive["Dimensions"]:
            assert isinstance(dimension_set, list)
            assert 1 <= len(dimension_set) <= 30
            for name in dimension_set:
                value = document[name]  # every dimension is a member of the root
                assert isinstance(value, str)
                assert 1 <= len(value) <= 1024
                assert value.strip()
        metrics = directive["Metrics"]
        assert 1 <= len(metrics) <= 100
        for metric in metrics:
            assert set(metric) <= {"Name", "Unit", "StorageResolution"}, metric
            assert isinstance(metric["Name"], str)
            assert 1 <= len(metric["Name"]) <= 1024
            assert metric.get("Unit", "None") in UNITS, metric
            value = document[metric["Name"]]  # every metric is a member of the root
            values = value if isinstance(value, list) else [value]
            assert 1 <= len(values) <= 100
            for v in values:
                assert isinstance(v, int | float), metric
                assert not isinstance(v, bool), metric
