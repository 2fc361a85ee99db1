"""PostgreSQL metrics that are more than one SQL statement (``python:`` in their definitions)."""
