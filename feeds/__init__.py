"""Market data: domain types, sources, candle building, the feed thread and the bus."""
