"""Payment creation, validation and currency rules."""
