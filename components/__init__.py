"""Reusable Dash pieces shared by the pages."""
