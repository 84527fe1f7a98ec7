"""Device live-migration compatibility for the OpenStack Nova scheduler."""
