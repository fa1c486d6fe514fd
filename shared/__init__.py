"""Common package of the GMNER service: API schemas, image handling, clients, settings."""
