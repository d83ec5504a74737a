"""The `dynamowave` command: local runtime, failover drill, DLQ replay and benchmarks."""

__version__ = "0.1.0"
