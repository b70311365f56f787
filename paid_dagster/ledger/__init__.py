"""The event ledger: an append-only table of facts, with idempotency keys for side effects."""

from .store import Event, Ledger, default_ledger_url

__all__ = ["Event", "Ledger", "default_ledger_url"]
