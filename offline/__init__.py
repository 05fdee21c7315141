"""Offline tooling: the engine stand-in, schema validation, the plan renderer and the benchmark."""
