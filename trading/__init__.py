"""Paper trading: orders, fills, positions, trades, performance, their store and the service that streams them."""
