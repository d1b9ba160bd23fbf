"""Tracing, metrics and log context around the runtime, through the OpenTelemetry API only."""
