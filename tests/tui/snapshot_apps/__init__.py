"""Scenario modules for the SVG snapshots: each builds one family of app states.

Everything rendered comes from fixed inputs: names, texts and a fake clock.
Ids (sessions, actors, items) stay random, and the screens never show them.
"""
