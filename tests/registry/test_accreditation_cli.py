"""`senim participants register|apply|applications|review|approve|reject` and `senim ca …`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from senim.cli import main
from tests.registry.test_certificate_authority import _csr
from tests.support.accreditation import new_bin


@pytest.fixture
def senim(tmp_path):
    """Run the command against a fresh, migrated data directory."""
    runner = CliRunner()
    env = {"SENIM_DATA_DIR": str(tmp_path), "SENIM_ISSUER": "http://senim.test"}
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    return lambda *args: runner.invoke(main, list(args), env=env)


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def _registered(senim) -> dict:
    return _json(
        senim(
            "participants", "register", "--name", "Qarjy LLP", "--bin", new_bin(),
            "--email", "office@qarjy.kz", "--phone", "+7 701 234 56 78",
        )
    )  # fmt: skip


def _applied(senim, tmp_path, participant_id: str) -> dict:
    document = tmp_path / "charter.pdf"
    document.write_bytes(b"%PDF-1.7\n%%EOF\n")
    return _json(
        senim("participants", "apply", participant_id, "--role", "api_user", "--document", str(document))
    )


def test_a_participant_is_registered_accredited_and_certified_from_the_command_line(senim, tmp_path) -> None:
    participant = _registered(senim)
    assert (participant["status"], participant["roles"]) == ("registered", [])
    application = _applied(senim, tmp_path, participant["id"])
    queue = senim("participants", "applications").output.strip().splitlines()
    [listed] = [json.loads(line) for line in queue]
    assert listed["id"] == application["id"] and listed["documents"][0]["filename"] == "charter.pdf"
    assert (
        _json(senim("participants", "review", application["id"], "--actor", "op-1"))["status"] == "in_review"
    )
    approved = _json(senim("participants", "approve", application["id"], "--actor", "op-1"))
    assert approved["status"] == "approved" and approved["certificate_number"].startswith("SNM-A-")
    assert senim("participants", "applications").output.strip() == ""

    csr = tmp_path / "client.csr"
    csr.write_bytes(_csr())
    signed = senim("ca", "sign", "--participant", participant["id"], "--csr", str(csr))
    assert signed.exit_code == 0, signed.output
    certificate = x509.load_pem_x509_certificate(signed.stdout.encode())
    serial = format(certificate.serial_number, "x")
    [issued] = [
        json.loads(line)
        for line in senim("ca", "list", "--participant", participant["id"]).output.splitlines()
    ]
    assert issued["serial"] == serial and issued["purpose"] == "mtls"
    revoked = senim("ca", "revoke", serial, "--reason", "keyCompromise")
    assert revoked.exit_code == 0 and "revoked (keyCompromise)" in revoked.output


def test_a_rejection_needs_a_reason_and_is_shown(senim, tmp_path) -> None:
    participant = _registered(senim)
    application = _applied(senim, tmp_path, participant["id"])
    refused = senim("participants", "reject", application["id"], "--actor", "op-1", "--reason", "x")
    assert refused.exit_code != 0 and "in_review" in refused.output  # not reviewed yet
    senim("participants", "review", application["id"], "--actor", "op-1")
    rejected = _json(
        senim("participants", "reject", application["id"], "--actor", "op-1", "--reason", "expired licence")
    )
    assert rejected["rejection_reason"] == "expired licence"
    mine = senim("participants", "applications", "--participant", participant["id"]).output.splitlines()
    assert json.loads(mine[0])["status"] == "rejected"


def test_command_line_refusals_are_clear_errors(senim, tmp_path) -> None:
    participant = _registered(senim)
    not_pdf = tmp_path / "scan.pdf"
    not_pdf.write_bytes(b"\x89PNG not a pdf")
    result = senim(
        "participants", "apply", participant["id"], "--role", "api_user", "--document", str(not_pdf)
    )
    assert result.exit_code == 1 and "not a PDF" in result.output
    csr = tmp_path / "client.csr"
    csr.write_bytes(_csr(rsa.generate_private_key(65537, 1024)))
    result = senim("ca", "sign", "--participant", participant["id"], "--csr", str(csr))
    assert result.exit_code == 1 and "not accredited" in result.output
    garbage = tmp_path / "garbage.csr"
    garbage.write_bytes(b"hello")
    assert (
        "not accredited"
        in senim("ca", "sign", "--participant", participant["id"], "--csr", str(garbage)).output
    )
    result = senim("ca", "revoke", "abcdef", "--reason", "keyCompromise")
    assert result.exit_code == 1 and "no certificate" in result.output
    bad = senim(
        "participants",
        "register",
        "--name",
        "X",
        "--bin",
        "123",
        "--email",
        "a@b.kz",
        "--phone",
        "+77011234567",
    )
    assert bad.exit_code == 1 and "BIN" in bad.output


def test_the_ca_key_is_made_once_and_kept(senim, tmp_path) -> None:
    participant = _registered(senim)
    application = _applied(senim, tmp_path, participant["id"])
    senim("participants", "review", application["id"], "--actor", "op-1")
    senim("participants", "approve", application["id"], "--actor", "op-1")
    csr = tmp_path / "client.csr"
    issuers = set()
    for _ in range(2):
        csr.write_bytes(_csr(ec.generate_private_key(ec.SECP384R1())))
        signed = senim(
            "ca", "sign", "--participant", participant["id"], "--csr", str(csr), "--purpose", "signing"
        )
        assert signed.exit_code == 0, signed.output
        certificate = x509.load_pem_x509_certificate(signed.stdout.encode())
        issuers.add(
            certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        )
    assert len(issuers) == 1
    key_file = tmp_path / "keys" / "ca" / "ca-key.pem"
    assert serialization.load_pem_private_key(key_file.read_bytes(), password=None)
