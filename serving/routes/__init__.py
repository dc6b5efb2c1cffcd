"""HTTP routes, one module per noun (score, deals, admin, health, plans, review)."""
