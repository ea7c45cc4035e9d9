"""Registering and changing the directory's records, by record type: every change authorised,
validated, and audited (through the store's Writer) in one transaction. Invalid input changes
nothing.

    organisations.py   create, change, vet, statuses
    domains.py         claim, verify and record posture by hand, remove
    recipients.py      mailbox and domain-wide entries, one or many
    accreditations.py  add, end
    sponsorships.py    add, end
    keys.py            API keys
    reads.py           what an administrator may read, authorised
    base.py            what they share: validation, reading the records a change starts from
"""

from __future__ import annotations

from directory.registration.accreditations import Accreditations
from directory.registration.base import Clock, StatusHook
from directory.registration.domains import Domains
from directory.registration.keys import ApiKeys
from directory.registration.organisations import IDENTIFIER_SCHEMES, TRANSITIONS, Organisations
from directory.registration.reads import OrganisationRecord, Reads
from directory.registration.recipients import NewMailbox, Recipients
from directory.registration.sponsorships import Sponsorships

__all__ = [
    "IDENTIFIER_SCHEMES",
    "TRANSITIONS",
    "Clock",
    "NewMailbox",
    "OrganisationRecord",
    "Registration",
    "StatusHook",
]


class Registration(
    Organisations, Domains, Recipients, Accreditations, Sponsorships, ApiKeys, Reads
):
    """Every record type's registration, as one object (Directory.registration)."""
