"""Runnable examples built on maskkit (not part of the installed package)."""
