"""Scoring: question kinds, per-student parameters and gradebook policies."""
