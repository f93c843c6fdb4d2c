"""Load and fault checks against a real gunicorn on loopback (see RELIABILITY.md)."""
