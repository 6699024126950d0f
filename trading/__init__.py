"""Paper broker, alert rules and their SQLite stores."""
