"""Service plumbing: model store, doctor, systemd notify."""
