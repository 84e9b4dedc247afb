"""HTTP routes and the Prometheus export of the metrics."""
