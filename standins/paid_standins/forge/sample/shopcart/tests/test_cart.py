from shopcart import LineItem, total_cents


def test_empty_cart_costs_nothing() -> None:
    assert total_cents([]) == 0


def test_total_counts_every_item() -> None:
    items = [LineItem("apple", 50), LineItem("pear", 70), LineItem("plum", 30)]
    assert total_cents(items) == 150


def test_total_multiplies_by_quantity() -> None:
    assert total_cents([LineItem("egg", 25, quantity=12)]) == 300
