"""Reads Prometheus text on stdin with prometheus_client's own parser and prints every
sample as JSON lines: {"family", "type", "name", "labels", "value"}. A text the parser
refuses makes it exit 1 with the parser's message, so the test fails on it."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

try:
    for family in text_string_to_metric_families(sys.stdin.read()):
        for sample in family.samples:
            print(json.dumps({"family": family.name, "type": family.type, "name": sample.name,
                              "labels": sample.labels, "value": sample.value}))
except Exception as error:  # the parser's own error, whatever its type
    print(f"not Prometheus text: {error}", file=sys.stderr)
    sys.exit(1)
