"""hvfuzz front-end: build presets, fuzz campaigns, finding triage, repro.

Standard library only (Python 3.11). Entry point: scripts/hvfuzz.
"""
