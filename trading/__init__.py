"""Paper broker, alert rules and their SQLite stores; the services that stream them."""
