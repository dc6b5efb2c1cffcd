"""Data contract, loaders, validation, point-in-time features and program KPIs."""
