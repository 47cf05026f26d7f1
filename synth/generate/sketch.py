"""The domain sketch: the one input of the spec compiler.

A sketch says what a service desk is about in words a person would use -- the sector, the
agent's role, who the user is and how they sign in, what the things the desk handles are
called, and which mechanisms (booking, ledger, lifecycle ...) the business runs on. The
offline catalog fills sketches by hand; a language model can fill one from a sentence later.
Everything here is data: no SQL, no code.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SNAKE_RE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
AuthMethod = Literal["email", "phone", "name_dob", "member_number"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Role(_Model):
    """A kind of thing the desk handles: its table name, what one is called, its id format.

    ``names`` (a vocabulary) or ``provider`` (a Faker provider) fill its display name;
    ``kinds`` are the values of its category column, when it has one.
    """

    table: str
    noun: str
    id_pattern: str
    names: list[str] = Field(default_factory=list)
    provider: str | None = None
    kinds: list[str] = Field(default_factory=list)
    description: str = ""

    @field_validator("table")
    @classmethod
    def _snake(cls, v: str) -> str:
        if not SNAKE_RE.match(v):
            raise ValueError(f"table name must be snake_case, got {v!r}")
        return v

    @property
    def key(self) -> str:
        """The snake_case singular: ``dentist`` -> columns ``dentist_id``, tools ``get_dentist``."""
        return re.sub(r"[^a-z0-9]+", "_", self.noun.lower()).strip("_")


class UserRole(Role):
    """The person the agent serves (the login entity) and how they prove who they are."""

    auth: list[AuthMethod] = Field(default_factory=lambda: list[AuthMethod](["email"]))
    tiers: list[str] = Field(default_factory=list)

    @field_validator("auth")
    @classmethod
    def _some_auth(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("a user needs at least one way to authenticate")
        return v


class MechanismUse(_Model):
    """One mechanism the business runs on, with the roles it binds and its parameters."""

    kind: str
    optional: bool = False  # the composer may leave it out for some seeds
    params: dict[str, Any] = Field(default_factory=dict)


class DomainSketch(_Model):
    sector: str
    name: str
    title: str  # the business: "Brightsmile Dental Care"
    description: str
    agent_role: str  # "front-desk assistant"
    user: UserRole
    roles: dict[str, Role] = Field(default_factory=dict)  # role key -> naming
    mechanisms: list[MechanismUse]
    policy_notes: list[str] = Field(default_factory=list)  # extra, unenforced house rules

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not SNAKE_RE.match(v):
            raise ValueError(f"sketch name must be snake_case, got {v!r}")
        return v

    @model_validator(mode="after")
    def _distinct(self) -> DomainSketch:
        kinds = [m.kind for m in self.mechanisms]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"sketch {self.name}: a mechanism is listed twice")
        tables = [self.user.table] + [r.table for r in self.roles.values()]
        if len(set(tables)) != len(tables):
            raise ValueError(f"sketch {self.name}: two roles share a table name")
        return self

    def role(self, key: str, default: Role) -> Role:
        """The sketch's naming for a role, or the mechanism's default."""
        return self.roles.get(key, default)
