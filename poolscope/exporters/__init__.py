"""Where an instrumented pool's measurements go: a prometheus_client registry, or
prometheus_client's multiprocess files when a service runs several worker processes."""
