"""Pure checks: frames and the catalog in, frames out.

Importing the package changes nothing process-wide; the settings cleanclaim runs with are applied
by its entry points (validators/runtime.py).
"""
