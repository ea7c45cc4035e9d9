"""API keys: created with scopes (the secret shown once), revoked."""

from __future__ import annotations

import uuid

from directory import apikeys
from directory.authz import Action, Principal, authorize, check_scope
from directory.errors import malformed, not_found
from directory.model import ApiKey
from directory.registration.base import (
    RegistrationBase,
    required_text,
)


class ApiKeys(RegistrationBase):
    def create_api_key(self, p: Principal, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
        authorize(p, Action.MANAGE_API_KEYS)
        if not scopes:
            raise malformed("at least one scope is required", field="scopes")
        clean = sorted({check_scope(s) for s in scopes})
        for scope in clean:
            if scope.startswith("org-admin:") and self.store.organisation(scope[10:]) is None:
                raise not_found(f"no organisation {scope[10:]} for scope {scope}")
        secret = apikeys.new_secret()
        now = self.clock()
        row = ApiKey(
            id=str(uuid.uuid4()),
            name=required_text(name, "name", limit=200),
            scopes=tuple(clean),
            created_at=now,
            revoked_at=None,
        )
        with self.store.write(p.name, now) as w:
            w.add(row, "api-key.create", key_hash=apikeys.key_hash(secret), created_by=p.name)
        key = self.store.api_key(row.id)
        assert key is not None
        return key, secret

    def revoke_api_key(self, p: Principal, key_id: str) -> None:
        authorize(p, Action.MANAGE_API_KEYS)
        key = self.store.api_key(key_id)
        if key is None or key.revoked_at is not None:
            raise not_found(f"no active API key {key_id}")
        now = self.clock()
        with self.store.write(p.name, now) as w:
            w.change(ApiKey, key_id, {"revoked_at": now}, "api-key.revoke")
