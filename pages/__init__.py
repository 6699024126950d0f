"""Thin Dash pages, each composed from components/."""
