"""The SQLite store of alert rules and their firing history (WAL, versioned schema with migration steps).

One file, ``<data dir>/alerts.sqlite``. Every write is one transaction committed before the caller announces it
(a firing is in the history before its ``alert`` message goes out), so a crash loses nothing that was announced.
The history keeps the newest ``max_history`` firings.

Thread rules: any thread; one connection guarded by one lock (writes are rare and short: a rule made or removed, a
firing, a webhook result).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from trading.alerts import AlertRule, Firing

FILE_NAME = "alerts.sqlite"
DEFAULT_MAX_HISTORY = 10_000


def _v1(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE rules (rule_id TEXT PRIMARY KEY, created_at REAL NOT NULL, body TEXT NOT NULL)")
    db.execute("CREATE TABLE history (id INTEGER PRIMARY KEY, alert_id TEXT NOT NULL UNIQUE, rule_id TEXT NOT NULL, "
               "level TEXT NOT NULL, symbol TEXT, message TEXT NOT NULL, time REAL NOT NULL, "
               "condition TEXT NOT NULL, details TEXT NOT NULL)")


def _v2(db: sqlite3.Connection) -> None:
    # Webhook deliveries are recorded with the firing they belong to (added after the first release of the store).
    db.execute("ALTER TABLE history ADD COLUMN webhook_status TEXT")
    db.execute("ALTER TABLE history ADD COLUMN webhook_attempts INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE history ADD COLUMN webhook_error TEXT")
    db.execute("CREATE INDEX history_rule ON history (rule_id, id)")


def _v3(db: sqlite3.Connection) -> None:
    # The URL as it was when the rule fired: a delivery cut short by a restart is retried with it.
    db.execute("ALTER TABLE history ADD COLUMN webhook_url TEXT")


# MIGRATIONS[n] brings a database from schema version n to n + 1 (PRAGMA user_version holds the version).
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1, _v2, _v3)
SCHEMA_VERSION = len(MIGRATIONS)


class NewerSchema(RuntimeError):
    """The file was written by a newer Tickstream: refuse rather than guess."""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    alert_id: str
    rule_id: str
    level: str
    symbol: str | None
    message: str
    time: float
    condition: str
    details: dict[str, Any]
    webhook_status: str | None = None
    webhook_attempts: int = 0
    webhook_error: str | None = None


_ENTRY_COLUMNS = ("alert_id, rule_id, level, symbol, message, time, condition, details, webhook_status, "
                  "webhook_attempts, webhook_error")


def _entry(row: tuple[Any, ...]) -> HistoryEntry:
    return HistoryEntry(row[0], row[1], row[2], row[3], row[4], row[5], row[6], orjson.loads(row[7]), row[8],
                        int(row[9]), row[10])


class AlertStore:
    def __init__(self, path: Path, max_history: int = DEFAULT_MAX_HISTORY) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_history = max_history
        self._lock = threading.Lock()
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE … COMMIT) below.
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before the caller announces what it stored (alerts are rare; the cost is small).
        self._db.execute("PRAGMA synchronous=FULL")
        self._migrate()

    @classmethod
    def in_dir(cls, data_dir: Path, max_history: int = DEFAULT_MAX_HISTORY) -> AlertStore:
        return cls(Path(data_dir) / FILE_NAME, max_history)

    def _migrate(self) -> None:
        with self._lock:
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise NewerSchema(f"{self.path} has alert schema version {version}; this server knows up to "
                                  f"{SCHEMA_VERSION}")
            for step in range(version, SCHEMA_VERSION):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    MIGRATIONS[step](self._db)
                    self._db.execute(f"PRAGMA user_version = {step + 1}")
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, statements: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = statements(self._db)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return result

    # -- rules -------------------------------------------------------------------------------------------------

    def load_rules(self) -> list[AlertRule]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM rules ORDER BY created_at, rule_id").fetchall()
        return [AlertRule.from_dict(orjson.loads(body)) for (body,) in rows]

    def add_rule(self, rule: AlertRule, max_rules: int) -> bool:
        """Store ``rule`` unless ``max_rules`` rules are stored already (False then)."""

        def add(db: sqlite3.Connection) -> bool:
            (count,) = db.execute("SELECT COUNT(*) FROM rules").fetchone()
            if count >= max_rules:
                return False
            db.execute("INSERT INTO rules (rule_id, created_at, body) VALUES (?, ?, ?)",
                       (rule.rule_id, rule.created_at, orjson.dumps(rule.to_dict()).decode()))
            return True

        return bool(self._write(add))

    def delete_rule(self, rule_id: str) -> bool:
        return bool(self._write(lambda db: db.execute("DELETE FROM rules WHERE rule_id = ?", (rule_id,)).rowcount))

    def delete_all_rules(self) -> int:
        return int(self._write(lambda db: db.execute("DELETE FROM rules").rowcount))

    # -- firings -----------------------------------------------------------------------------------------------

    def record_firing(self, firing: Firing) -> None:
        """The firing in the history (its webhook ``pending`` when the rule has one) and its rule's new state, in
        one transaction; the oldest firings beyond ``max_history`` go."""
        url = firing.rule.webhook_url

        def record(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO history (alert_id, rule_id, level, symbol, message, time, condition, details, "
                       "webhook_status, webhook_url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (firing.alert_id, firing.rule_id, firing.level.value, firing.symbol, firing.message,
                        firing.time, firing.condition.value, orjson.dumps(firing.details).decode(),
                        "pending" if url else None, url))
            # A rule deleted meanwhile stays deleted (no row to update); its firing is history all the same.
            db.execute("UPDATE rules SET body = ? WHERE rule_id = ?",
                       (orjson.dumps(firing.rule.to_dict()).decode(), firing.rule_id))
            db.execute("DELETE FROM history WHERE id <= (SELECT MAX(id) FROM history) - ?", (self.max_history,))

        self._write(record)

    def record_webhook(self, alert_id: str, status: str, attempts: int, error: str | None) -> None:
        self._write(lambda db: db.execute(
            "UPDATE history SET webhook_status = ?, webhook_attempts = ?, webhook_error = ? WHERE alert_id = ?",
            (status, attempts, error[:500] if error else None, alert_id)))

    def history(self, limit: int = 100, rule_id: str | None = None) -> list[HistoryEntry]:
        """Firings newest first."""
        sql = f"SELECT {_ENTRY_COLUMNS} FROM history"
        where: list[str] = []
        args: list[Any] = []
        if rule_id is not None:
            where.append("rule_id = ?")
            args.append(rule_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_entry(r) for r in rows]

    def pending_webhooks(self, limit: int) -> list[tuple[HistoryEntry, str]]:
        """Firings whose webhook was still pending (the process stopped before its outcome), oldest first, with
        their URL."""
        with self._lock:
            rows = self._db.execute("SELECT alert_id, webhook_url FROM history WHERE webhook_status = 'pending' "
                                    "AND webhook_url IS NOT NULL ORDER BY id LIMIT ?", (limit,)).fetchall()
        entries = {e.alert_id: e for e in self._entries_by_id([r[0] for r in rows])}
        return [(entries[alert_id], url) for alert_id, url in rows if alert_id in entries]

    def _entries_by_id(self, alert_ids: list[str]) -> list[HistoryEntry]:
        if not alert_ids:
            return []
        marks = ",".join("?" * len(alert_ids))
        with self._lock:
            rows = self._db.execute(f"SELECT {_ENTRY_COLUMNS} FROM history WHERE alert_id IN ({marks})",
                                    alert_ids).fetchall()
        return [_entry(r) for r in rows]

    def history_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM history").fetchone()[0])
