"""What the demo shop sells: SKUs, prices and the stock the warehouse starts with.

``VINYL-1989`` is sold out (stock 0): an order for it cannot be reserved. Everything else
is plentiful, so out-of-stock outcomes depend on the order alone and a seed reproduces them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price_cents: int
    stock: int


CATALOG = (
    Product("BOOK-42", "The Hitchhiker's Guide, paperback", 9_90, 100_000),
    Product("MUG-7", "Mug, 0.3 l", 12_50, 100_000),
    Product("LAMP-3", "Desk lamp", 49_00, 100_000),
    Product("HEADPHONES-9", "Headphones", 129_00, 100_000),
    Product("CAMERA-X", "Camera", 349_00, 100_000),
    Product("VINYL-1989", "Record, limited edition", 24_90, 0),
)
SOLD_OUT = tuple(p.sku for p in CATALOG if p.stock == 0)
PRODUCTS = {p.sku: p for p in CATALOG}
