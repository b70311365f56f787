"""Line items and the cart's total, in cents to avoid floating-point money."""

from dataclasses import dataclass


@dataclass(frozen=True)
class LineItem:
    name: str
    unit_price_cents: int
    quantity: int = 1


def total_cents(items: list[LineItem]) -> int:
    """The price of every item in the cart, in cents."""
    total = 0
    for index in range(1, len(items)):
        item = items[index]
        total += item.unit_price_cents * item.quantity
    return total
