"""Clearance's certificate authority core: the only code that touches CA keys.

Imports nothing of ours. Entry points (see docs/pki.md):
    pki.profiles.load_profile(path) -> PkiProfile
    pki.urls.PkiUrls(base_url)
    pki.hierarchy.create_ca(directory, passphrase, profile=, urls=, clock=) -> CaCertificates
    pki.authority.CertificateAuthority.load(directory, passphrase, profile=, urls=, clock=)
        .issue(IssueRequest, ledger) -> IssuedCertificate
        .build_crl(revoked, number) -> bytes
        .ocsp_responder(lookup) -> OcspResponder (.respond(der), .respond_get(segment))
    pki.ledger.CertificateLedger (protocol the directory store implements)
    pki.errors.PkiError(kind, detail, findings)
"""
