"""OpenStackClient commands of nova-migcompat."""
