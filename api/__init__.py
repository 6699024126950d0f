"""Edges to the outside: wire protocol, REST routes, WebSocket routes."""
