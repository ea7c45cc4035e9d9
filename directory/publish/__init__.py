"""Publishing the directory (LDAP) and importing recipients from an organisation's LDAP.

ldap3 2.9 reads pyasn1 names that pyasn1 >= 0.6 deprecates (tagMap, typeMap), once, when ldap3
is first imported; that import happens here with those warnings silenced (tests turn warnings
into errors), so the rest of the package imports ldap3 normally.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="pyasn1")
    warnings.filterwarnings(
        "ignore", message=r".*is deprecated\. Please use", category=DeprecationWarning
    )
    import ldap3  # noqa: F401
