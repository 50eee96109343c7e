"""redpak's solver on libsolv, one module per mode of the protocol (docs/solver-protocol.md)."""
