"""Biometrics: the reference photo registry (and, later, liveness and match).

A library: images in, decisions out. Nothing here knows HTTP; the only
platform helpers used are the database session and the audit log.
"""
