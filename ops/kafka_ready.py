"""Exit 0 when the Kafka broker at argv[1] answers a metadata request, 1 otherwise."""

import sys

from confluent_kafka.admin import AdminClient

try:
    metadata = AdminClient({"bootstrap.servers": sys.argv[1]}).list_topics(timeout=2)
except Exception:  # any failure just means "not ready yet"
    sys.exit(1)
sys.exit(0 if metadata.brokers else 1)
