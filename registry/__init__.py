"""The registry of participants: the legal entities (known by their BIN) that
take part in the platform, each an API provider (a bank that serves the
Open Banking API), an API user (an app that calls it), or both, and each
registered, active or blocked.

The authorization server asks whether a client's API user and the banks a
consent names may take part (``participants``). Accreditation
(``accreditation``, ``accreditation_certificate``), the public register
(``register``), the platform's certificate authority
(``certificate_authority``) and logos (``logos``) are described in
docs/registry.md. Staff, the showcase and billing come later.
"""
