"""Rulebooks (YAML) and the engine: validate, evaluate, explain, test, simulate."""
