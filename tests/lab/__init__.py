"""The network lab: simulated laptops in network namespaces (see docs/reliability.md)."""
