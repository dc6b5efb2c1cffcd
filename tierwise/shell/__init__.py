"""The application shell: the `tierwise` CLI and `make demo`.

Imports every package; no package imports it.
"""
