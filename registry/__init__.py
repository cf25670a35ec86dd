"""The registry of participants: the legal entities (known by their BIN) that
take part in the platform, each an API provider (a bank that serves the
Open Banking API), an API user (an app that calls it), or both, and each
active or blocked.

This is the part the authorization server needs now: it asks whether a
client's API user and the banks a consent names may take part. Staff,
accreditation, certificates, the showcase and billing come later.
"""
