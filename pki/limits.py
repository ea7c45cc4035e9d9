"""The S/MIME Baseline Requirements' numeric limits the CA is held to (imports nothing, so the CLI
can show them in its help without loading the CA)."""

BR_MAX_VALIDITY_DAYS = 825  # S/MIME BR 6.3.2, strict generation
# pkilint warns (cabf.smime.certificate_validity_period_at_maximum) at exactly 825 days, and a
# warning blocks issuance, so the longest certificate Clearance can issue is 824 days.
MAX_SUBSCRIBER_VALIDITY_DAYS = BR_MAX_VALIDITY_DAYS - 1
MAX_CRL_VALIDITY_HOURS = 240  # S/MIME BR 4.9.7: nextUpdate at most 10 days after thisUpdate
MIN_OCSP_VALIDITY_HOURS = 8  # S/MIME BR 4.9.10
MAX_OCSP_VALIDITY_HOURS = 240
