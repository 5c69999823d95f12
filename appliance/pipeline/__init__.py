"""Workers, their inboxes and the supervisor that keeps them alive."""
