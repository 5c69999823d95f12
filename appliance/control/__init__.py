"""The control plane: one state machine; MQTT and GPIO are two faces of its commands."""
