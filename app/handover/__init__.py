"""Hand-over of an incident to another regency: the ONLY code that writes across tenants."""
