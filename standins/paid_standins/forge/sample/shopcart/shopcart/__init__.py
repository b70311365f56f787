"""A tiny shopping cart."""

from .cart import LineItem, total_cents

__all__ = ["LineItem", "total_cents"]
