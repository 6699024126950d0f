"""The paper broker's SQLite store: WAL mode, a versioned schema with migration steps, one transaction per change.

Durability: WAL with ``synchronous=NORMAL``. A committed transaction is in the WAL file before ``commit`` returns,
so a killed process (``kill -9``) loses nothing committed; only a power cut may lose the last transactions, which
the operating system had not yet written (https://www.sqlite.org/wal.html, "Durability"). The broker commits every
change before it announces it, so nothing announced is ever lost to a crash of the process.

Thread rules: one connection, used under the store's lock, from any thread.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trading.orders import Leg, Order, OrderStatus, OrderType, Side, TimeInForce
from trading.positions import Position, Trade, TradeSide, TradeStatus

# Each step brings the schema from version i to i + 1; a new release appends steps, never edits old ones.
MIGRATIONS: tuple[str, ...] = (
    # 0 → 1: accounts, orders, fills, positions, trades, equity curve.
    """
    CREATE TABLE account (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        cash REAL NOT NULL,
        starting_cash REAL NOT NULL,
        created_at REAL NOT NULL,
        day INTEGER NOT NULL,
        day_start_value REAL NOT NULL
    );
    CREATE TABLE orders (
        order_id TEXT PRIMARY KEY,
        client_order_id TEXT UNIQUE,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        type TEXT NOT NULL,
        quantity REAL NOT NULL,
        limit_price REAL,
        stop_price REAL,
        time_in_force TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        filled_quantity REAL NOT NULL,
        avg_fill_price REAL,
        last_fill_quantity REAL,
        last_fill_price REAL,
        reason TEXT,
        triggered INTEGER NOT NULL,
        expires_at REAL,
        leg TEXT NOT NULL,
        take_profit REAL,
        stop_loss REAL,
        parent_id TEXT,
        commission REAL NOT NULL,
        evaluated INTEGER NOT NULL
    );
    CREATE INDEX orders_status ON orders (status);
    CREATE TABLE fills (
        fill_id INTEGER PRIMARY KEY,
        order_id TEXT NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        quantity REAL NOT NULL,
        price REAL NOT NULL,
        commission REAL NOT NULL,
        time REAL NOT NULL
    );
    CREATE INDEX fills_order ON fills (order_id);
    CREATE TABLE positions (
        symbol TEXT PRIMARY KEY,
        quantity REAL NOT NULL,
        avg_price REAL NOT NULL,
        realized_pnl REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE trades (
        trade_id TEXT PRIMARY KEY,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        opened_at REAL NOT NULL,
        entry_quantity REAL NOT NULL,
        entry_price REAL NOT NULL,
        exit_quantity REAL NOT NULL,
        exit_price REAL,
        realized_pnl REAL NOT NULL,
        commission REAL NOT NULL,
        status TEXT NOT NULL,
        closed_at REAL,
        fills INTEGER NOT NULL
    );
    CREATE INDEX trades_status ON trades (status);
    CREATE TABLE equity (
        time REAL PRIMARY KEY,
        value REAL NOT NULL
    );
    """,
    # 1 → 2: orders made from a signal engine idea remember it (POST /api/v1/orders/from-payload/{idea_id});
    # auto-trading rules per (symbol, timeframe).
    """
    ALTER TABLE orders ADD COLUMN idea_id TEXT;
    CREATE TABLE auto_rules (
        symbol TEXT NOT NULL,
        timeframe TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        notional REAL NOT NULL,
        PRIMARY KEY (symbol, timeframe)
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
# Equity samples kept (one a minute: about 35 days); older ones are deleted as new ones come.
MAX_EQUITY_SAMPLES = 50_000
# Closed orders (with their fills) and closed trades kept; the oldest beyond are deleted by ``prune`` (the service
# calls it every minute), so the file does not grow without bound however many orders clients send.
MAX_CLOSED_ORDERS = 100_000
MAX_CLOSED_TRADES = 100_000


@dataclass(frozen=True, slots=True)
class Fill:
    order_id: str
    symbol: str
    side: Side
    quantity: float
    price: float
    commission: float
    time: float


@dataclass(frozen=True, slots=True)
class Account:
    cash: float
    starting_cash: float
    created_at: float
    day: int
    day_start_value: float


@dataclass(frozen=True, slots=True)
class AutoRule:
    symbol: str
    timeframe: str
    enabled: bool
    notional: float


@dataclass
class Changes:
    """One transaction: everything a single broker step changed."""

    reset: bool = False
    account: Account | None = None
    orders: dict[str, Order] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    positions: dict[str, Position] = field(default_factory=dict)
    trades: dict[str, Trade] = field(default_factory=dict)
    equity: list[tuple[float, float]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.reset or self.account or self.orders or self.fills or self.positions or self.trades
                    or self.equity)


@dataclass(frozen=True, slots=True)
class Loaded:
    """What a restart needs: the account, the open orders, every position and the open trades."""

    account: Account | None
    open_orders: list[Order]
    positions: list[Position]
    open_trades: list[Trade]
    closed_trade_pnls: list[float]


_ORDER_COLUMNS = ("order_id", "client_order_id", "symbol", "side", "type", "quantity", "limit_price", "stop_price",
                  "time_in_force", "status", "created_at", "updated_at", "filled_quantity", "avg_fill_price",
                  "last_fill_quantity", "last_fill_price", "reason", "triggered", "expires_at", "leg", "take_profit",
                  "stop_loss", "parent_id", "commission", "evaluated", "idea_id")
_TRADE_COLUMNS = ("trade_id", "symbol", "side", "opened_at", "entry_quantity", "entry_price", "exit_quantity",
                  "exit_price", "realized_pnl", "commission", "status", "closed_at", "fills")
_OPEN_STATUSES = tuple(s.value for s in OrderStatus if s.is_open)


def _order_row(o: Order) -> tuple[Any, ...]:
    return (o.order_id, o.client_order_id, o.symbol, o.side.value, o.type.value, o.quantity, o.limit_price,
            o.stop_price, o.time_in_force.value, o.status.value, o.created_at, o.updated_at, o.filled_quantity,
            o.avg_fill_price, o.last_fill_quantity, o.last_fill_price, o.reason, int(o.triggered), o.expires_at,
            o.leg.value, o.take_profit, o.stop_loss, o.parent_id, o.commission, int(o.evaluated), o.idea_id)


def _order(row: sqlite3.Row) -> Order:
    return Order(order_id=row["order_id"], client_order_id=row["client_order_id"], symbol=row["symbol"],
                 side=Side(row["side"]), type=OrderType(row["type"]), quantity=row["quantity"],
                 limit_price=row["limit_price"], stop_price=row["stop_price"],
                 time_in_force=TimeInForce(row["time_in_force"]), status=OrderStatus(row["status"]),
                 created_at=row["created_at"], updated_at=row["updated_at"], filled_quantity=row["filled_quantity"],
                 avg_fill_price=row["avg_fill_price"], last_fill_quantity=row["last_fill_quantity"],
                 last_fill_price=row["last_fill_price"], reason=row["reason"], triggered=bool(row["triggered"]),
                 expires_at=row["expires_at"], leg=Leg(row["leg"]), take_profit=row["take_profit"],
                 stop_loss=row["stop_loss"], parent_id=row["parent_id"], commission=row["commission"],
                 idea_id=row["idea_id"], evaluated=bool(row["evaluated"]))


def _trade_row(t: Trade) -> tuple[Any, ...]:
    return (t.trade_id, t.symbol, t.side.value, t.opened_at, t.entry_quantity, t.entry_price, t.exit_quantity,
            t.exit_price, t.realized_pnl, t.commission, t.status.value, t.closed_at, t.fills)


def _trade(row: sqlite3.Row) -> Trade:
    return Trade(trade_id=row["trade_id"], symbol=row["symbol"], side=TradeSide(row["side"]),
                 opened_at=row["opened_at"], entry_quantity=row["entry_quantity"], entry_price=row["entry_price"],
                 exit_quantity=row["exit_quantity"], exit_price=row["exit_price"], realized_pnl=row["realized_pnl"],
                 commission=row["commission"], status=TradeStatus(row["status"]), closed_at=row["closed_at"],
                 fills=row["fills"])


def _fill(row: sqlite3.Row) -> Fill:
    return Fill(row["order_id"], row["symbol"], Side(row["side"]), row["quantity"], row["price"], row["commission"],
                row["time"])


class TradingStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Autocommit mode (isolation_level None): transactions are opened and committed explicitly below.
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self.commits = 0
        self.migrate()

    # -- schema ----------------------------------------------------------------------------------------------

    def schema_version(self) -> int:
        with self._lock:
            return self._version()

    def _version(self) -> int:
        self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = self._db.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def migrate(self, target: int = SCHEMA_VERSION) -> int:
        """Apply the migration steps the file has not had yet, each in its own transaction; returns the version."""
        with self._lock:
            version = self._version()
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path} has schema version {version}, newer than this release's "
                                   f"{SCHEMA_VERSION}")
            while version < target:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in MIGRATIONS[version].split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute("DELETE FROM schema_version")
                    self._db.execute("INSERT INTO schema_version (version) VALUES (?)", (version + 1,))
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                version += 1
            return version

    # -- writing -------------------------------------------------------------------------------------------

    def commit(self, changes: Changes) -> None:
        """Write one broker step in one transaction; when this returns, the step survives a killed process."""
        if not changes:
            return
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                if changes.reset:
                    for table in ("account", "orders", "fills", "positions", "trades", "equity"):
                        db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
                if changes.account is not None:
                    a = changes.account
                    db.execute("INSERT OR REPLACE INTO account (id, cash, starting_cash, created_at, day, "
                               "day_start_value) VALUES (1, ?, ?, ?, ?, ?)",
                               (a.cash, a.starting_cash, a.created_at, a.day, a.day_start_value))
                if changes.orders:
                    db.executemany(f"INSERT OR REPLACE INTO orders ({', '.join(_ORDER_COLUMNS)}) VALUES "
                                   f"({', '.join('?' * len(_ORDER_COLUMNS))})",
                                   [_order_row(o) for o in changes.orders.values()])
                if changes.fills:
                    db.executemany("INSERT INTO fills (order_id, symbol, side, quantity, price, commission, time) "
                                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                                   [(f.order_id, f.symbol, f.side.value, f.quantity, f.price, f.commission, f.time)
                                    for f in changes.fills])
                for p in changes.positions.values():
                    if p.is_flat:
                        db.execute("DELETE FROM positions WHERE symbol = ?", (p.symbol,))
                    else:
                        db.execute("INSERT OR REPLACE INTO positions (symbol, quantity, avg_price, realized_pnl, "
                                   "updated_at) VALUES (?, ?, ?, ?, ?)",
                                   (p.symbol, p.quantity, p.avg_price, p.realized_pnl, p.updated_at))
                if changes.trades:
                    db.executemany(f"INSERT OR REPLACE INTO trades ({', '.join(_TRADE_COLUMNS)}) VALUES "
                                   f"({', '.join('?' * len(_TRADE_COLUMNS))})",
                                   [_trade_row(t) for t in changes.trades.values()])
                if changes.equity:
                    db.executemany("INSERT OR REPLACE INTO equity (time, value) VALUES (?, ?)", changes.equity)
                    db.execute("DELETE FROM equity WHERE time NOT IN (SELECT time FROM equity ORDER BY time DESC "
                               "LIMIT ?)", (MAX_EQUITY_SAMPLES,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self.commits += 1

    def prune(self, max_orders: int = MAX_CLOSED_ORDERS, max_trades: int = MAX_CLOSED_TRADES) -> int:
        """Delete the oldest closed orders (and their fills) and closed trades beyond the limits; returns how many
        rows went."""
        marks = ", ".join("?" * len(_OPEN_STATUSES))
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                old = [r[0] for r in db.execute(
                    f"SELECT order_id FROM orders WHERE status NOT IN ({marks}) ORDER BY updated_at DESC, rowid DESC "
                    "LIMIT -1 OFFSET ?", (*_OPEN_STATUSES, max_orders))]
                for start in range(0, len(old), 500):
                    chunk = old[start:start + 500]
                    places = ", ".join("?" * len(chunk))
                    db.execute(f"DELETE FROM fills WHERE order_id IN ({places})", chunk)
                    db.execute(f"DELETE FROM orders WHERE order_id IN ({places})", chunk)
                gone = db.execute("DELETE FROM trades WHERE trade_id IN (SELECT trade_id FROM trades WHERE status = "
                                  "'closed' ORDER BY closed_at DESC LIMIT -1 OFFSET ?)", (max_trades,)).rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return len(old) + max(0, gone)

    def save_auto_rule(self, rule: AutoRule) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO auto_rules (symbol, timeframe, enabled, notional) "
                             "VALUES (?, ?, ?, ?)", (rule.symbol, rule.timeframe, int(rule.enabled), rule.notional))

    # -- reading -------------------------------------------------------------------------------------------

    def load(self) -> Loaded:
        with self._lock:
            db = self._db
            row = db.execute("SELECT * FROM account WHERE id = 1").fetchone()
            account = Account(row["cash"], row["starting_cash"], row["created_at"], row["day"],
                              row["day_start_value"]) if row else None
            marks = ", ".join("?" * len(_OPEN_STATUSES))
            orders = [_order(r) for r in db.execute(
                f"SELECT * FROM orders WHERE status IN ({marks}) ORDER BY created_at, rowid", _OPEN_STATUSES)]
            positions = [Position(r["symbol"], r["quantity"], r["avg_price"], r["realized_pnl"], r["updated_at"])
                         for r in db.execute("SELECT * FROM positions ORDER BY symbol")]
            trades = [_trade(r) for r in db.execute("SELECT * FROM trades WHERE status = 'open'")]
            pnls = [r[0] for r in db.execute(
                "SELECT realized_pnl FROM trades WHERE status = 'closed' ORDER BY closed_at")]
        return Loaded(account, orders, positions, trades, pnls)

    def order(self, order_id: str) -> Order | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        return _order(row) if row else None

    def order_by_client_id(self, client_order_id: str) -> Order | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,)).fetchone()
        return _order(row) if row else None

    def orders(self, statuses: Sequence[OrderStatus] | None = None, limit: int = 100,
               symbol: str | None = None) -> list[Order]:
        """Newest first."""
        clauses: list[str] = []
        params: list[Any] = []
        if statuses is not None:
            clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
            params.extend(s.value for s in statuses)
        if symbol is not None:
            clauses.append("symbol = ?")
            params.append(symbol)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM orders {where} ORDER BY created_at DESC, rowid DESC LIMIT ?",
                                    (*params, limit)).fetchall()
        return [_order(r) for r in rows]

    def fills(self, order_id: str | None = None, limit: int = 1000) -> list[Fill]:
        """Oldest first."""
        with self._lock:
            if order_id is None:
                rows = self._db.execute("SELECT * FROM (SELECT * FROM fills ORDER BY fill_id DESC LIMIT ?) "
                                        "ORDER BY fill_id", (limit,)).fetchall()
            else:
                rows = self._db.execute("SELECT * FROM fills WHERE order_id = ? ORDER BY fill_id LIMIT ?",
                                        (order_id, limit)).fetchall()
        return [_fill(r) for r in rows]

    def trades(self, limit: int = 100, status: TradeStatus | None = None) -> list[Trade]:
        """Newest first."""
        with self._lock:
            if status is None:
                rows = self._db.execute("SELECT * FROM trades ORDER BY opened_at DESC, rowid DESC LIMIT ?",
                                        (limit,)).fetchall()
            else:
                rows = self._db.execute("SELECT * FROM trades WHERE status = ? ORDER BY opened_at DESC, rowid DESC "
                                        "LIMIT ?", (status.value, limit)).fetchall()
        return [_trade(r) for r in rows]

    def equity_curve(self, since: float | None = None) -> list[tuple[float, float]]:
        """Oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT time, value FROM equity WHERE time >= ? ORDER BY time",
                                    (since if since is not None else float("-inf"),)).fetchall()
        return [(r[0], r[1]) for r in rows]

    def auto_rules(self) -> list[AutoRule]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM auto_rules ORDER BY symbol, timeframe").fetchall()
        return [AutoRule(r["symbol"], r["timeframe"], bool(r["enabled"]), r["notional"]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()

