"""Who keeps which symbol in the feed: the limits on new symbols per connection and per client address."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Holder:
    address: str
    # Symbols this holder subscribes to (dict as an ordered set), and those of them charged to it.
    held: dict[str, None] = field(default_factory=dict)
    charged: set[str] = field(default_factory=set)


class SymbolQuota:
    """Charges each symbol a client brings into the feed to exactly one holder, and refuses a holder (a
    WebSocket connection) or a client address over its limit.

    A connection that subscribes to a symbol no other holder keeps (and that is not one of the ``shared`` start-up
    symbols) is charged for it: at most ``per_connection`` such symbols per connection and ``per_address`` per
    client address. When the charged connection lets the symbol go (its last subscription of that symbol ends, or
    it closes) while other connections still hold it, the charge passes to the one that took it first of them,
    even past its limit (it then brings in nothing more): otherwise a client could pass its symbols to a second
    connection and bring in new ones without end. A symbol nobody holds any more is free again; subscribing to it
    while it waits to be released counts as bringing it in.

    REST leases (a request keeping a symbol in the feed for a while) count against their address for as long as
    they last, each (address, symbol) once, and at most ``max_leases`` at a time in all. All leases are expected to
    last the same time, so they expire in the order they were last taken.

    Not thread-safe: the hub calls it under its lock. Everything here is bounded by the connections and their
    subscriptions, and by ``max_leases``.
    """

    def __init__(self, per_connection: int, per_address: int, max_leases: int = 2000) -> None:
        self.per_connection = per_connection
        self.per_address = per_address
        self.max_leases = max_leases
        self._holders: dict[str, _Holder] = {}
        self._symbol_holders: dict[str, dict[str, None]] = {}
        self._charged_to: dict[str, str] = {}
        self._address_count: dict[str, int] = {}
        self._leases: OrderedDict[tuple[str, str], float] = OrderedDict()
        self.refusals = 0

    # -- connections ----------------------------------------------------------------------------------------------

    def open(self, holder: str, address: str) -> None:
        self._holders.setdefault(holder, _Holder(address))

    def close(self, holder: str) -> None:
        state = self._holders.get(holder)
        if state is None:
            return
        for symbol in list(state.held):
            self.drop(holder, symbol)
        del self._holders[holder]

    def holds(self, holder: str, symbol: str) -> bool:
        state = self._holders.get(holder)
        return state is not None and symbol in state.held

    def hold(self, holder: str, symbol: str, shared: bool = False) -> str | None:
        """``holder`` subscribes to ``symbol``: None when allowed (charged if it brings the symbol in), else why
        not. ``shared``: the feed streams the symbol anyway (a start-up symbol), so it is never charged."""
        state = self._holders.get(holder)
        if state is None:
            state = self._holders[holder] = _Holder("")
        if symbol in state.held:
            return None
        if not shared and symbol not in self._charged_to:
            if len(state.charged) >= self.per_connection:
                self.refusals += 1
                return (f"at most {self.per_connection} symbols the server was not already streaming per "
                        "connection")
            if self._address_count.get(state.address, 0) >= self.per_address:
                self.refusals += 1
                return f"at most {self.per_address} symbols the server was not already streaming per client address"
            self._charge(symbol, holder, state)
        state.held[symbol] = None
        self._symbol_holders.setdefault(symbol, {})[holder] = None
        return None

    def drop(self, holder: str, symbol: str) -> None:
        """``holder`` no longer subscribes to ``symbol``; a charge it carried passes to the next holder."""
        state = self._holders.get(holder)
        if state is None or symbol not in state.held:
            return
        del state.held[symbol]
        others = self._symbol_holders.get(symbol, {})
        others.pop(holder, None)
        if not others:
            self._symbol_holders.pop(symbol, None)
        if self._charged_to.get(symbol) != holder:
            return
        self._uncharge(symbol, state)
        if others:
            heir = next(iter(others))
            self._charge(symbol, heir, self._holders[heir])

    def charged(self, holder: str) -> int:
        state = self._holders.get(holder)
        return len(state.charged) if state is not None else 0

    def address_count(self, address: str) -> int:
        return self._address_count.get(address, 0)

    def _charge(self, symbol: str, holder: str, state: _Holder) -> None:
        self._charged_to[symbol] = holder
        state.charged.add(symbol)
        self._address_count[state.address] = self._address_count.get(state.address, 0) + 1

    def _uncharge(self, symbol: str, state: _Holder) -> None:
        del self._charged_to[symbol]
        state.charged.discard(symbol)
        self._count_down(state.address)

    def _count_down(self, address: str) -> None:
        left = self._address_count.get(address, 0) - 1
        if left > 0:
            self._address_count[address] = left
        else:
            self._address_count.pop(address, None)

    # -- REST leases --------------------------------------------------------------------------------------------

    def lease(self, address: str, symbol: str, until: float) -> bool:
        """Lease ``symbol`` for ``address`` until ``until`` (renewing its lease); False when the address is at its
        limit or the lease table is full."""
        key = (address, symbol)
        if key in self._leases:
            self._leases[key] = max(until, self._leases[key])
            self._leases.move_to_end(key)
            return True
        if self._address_count.get(address, 0) >= self.per_address or len(self._leases) >= self.max_leases:
            self.refusals += 1
            return False
        self._leases[key] = until
        self._address_count[address] = self._address_count.get(address, 0) + 1
        return True

    def expire(self, now: float) -> None:
        """Let the leases that ran out by ``now`` go."""
        while self._leases:
            key, until = next(iter(self._leases.items()))
            if until > now:
                return
            del self._leases[key]
            self._count_down(key[0])

    def stats(self) -> dict[str, int]:
        return {"symbols_charged": len(self._charged_to), "leases": len(self._leases),
                "new_symbol_refusals": self.refusals}
