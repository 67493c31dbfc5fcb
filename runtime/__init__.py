"""Runtimes: runners, device profiles, verification and reports."""
