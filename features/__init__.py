"""Data contract, loaders, the partner-program simulator, point-in-time features and KPIs."""
