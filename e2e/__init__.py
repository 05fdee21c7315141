"""End-to-end: the real Pulumi CLI, providers and servers on loopback (``make e2e``)."""
