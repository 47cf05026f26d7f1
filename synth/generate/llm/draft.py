"""What the model fills for a domain: a ``DomainSketch`` in a shape a grammar can hold.

``SketchDraft`` is the sketch with every free choice closed: the sector and the
mechanisms are enums of what exists, role slots are an enum of the keys the mechanisms read,
names are snake_case by pattern, ids are a short upper-case prefix. Its JSON schema goes to
the server as the response format, so a grammar-constrained server cannot emit anything else;
``to_sketch`` then maps it onto ``DomainSketch`` (adding the mechanisms a chosen one builds
on) for the ordinary compiler. The prompt shows one catalog sketch in the draft's shape.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from synth.generate import mechanisms
from synth.generate.sketch import DomainSketch, MechanismUse, Role, UserRole

# The mechanisms a draft may name (accounts always runs) and the role slots they read.
MechanismName = Literal[mechanisms.ORDER[1:]]  # type: ignore[valid-type]  # the library's own list
RoleKey = Literal[
    "item",
    "case",
    "claim",
    "provider",
    "booking",
    "unit",
    "reservation",
    "account",
    "plan",
    "subscription",
    "ticket",
    "course",
    "renewable",
]
SLOTS: dict[str, tuple[str, ...]] = {
    "catalog": ("item",),
    "lifecycle": ("case",),
    "claims": ("claim",),
    "slot_booking": ("provider", "booking"),
    "reservations": ("unit", "reservation"),
    "transfers": ("account",),
    "subscriptions": ("plan", "subscription"),
    "tickets": ("ticket",),
    "enrollments": ("course",),
    "renewals": ("renewable",),
}
Sector = Literal[
    "health",
    "travel",
    "finance",
    "insurance",
    "retail",
    "food",
    "telecom",
    "utilities",
    "education",
    "public_services",
    "logistics",
    "hospitality",
    "real_estate",
    "automotive",
    "entertainment",
    "hr",
    "legal",
    "fitness",
    "pets",
    "home_services",
]


def bounded(lo: int, hi: int, cut: bool = True) -> AfterValidator:
    """A length check pydantic runs but the JSON schema does not show: a ``maxLength`` in the
    schema becomes one nested grammar rule per character on a llama.cpp server (slow).
    Too short is an error; too long is cut (at a word or ``_`` boundary when there is one)
    where ``cut``: a name or a sentence that runs on is still usable, SQL cut short is not."""

    def check(v: str) -> str:
        v = v.strip()
        if len(v) > hi and cut:
            head = v[:hi]
            for sep in (" ", "_"):
                if sep in head[hi // 2 :]:
                    head = head[: head.rindex(sep)]
                    break
            v = head.rstrip(" _,;:-")
        if not lo <= len(v) <= hi:
            raise ValueError(f"must be {lo} to {hi} characters long, got {len(v)}")
        return v

    return AfterValidator(check)


# compact patterns (no {m,n} counts, no escapes: llama-cpp-python's grammar converter
# expands counts into nested rules and cannot parse an escaped dot)
Snake = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]*$"), bounded(3, 30)]
Prefix = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z][A-Z]?$")]
Short = Annotated[str, bounded(3, 40)]
Text = Annotated[str, bounded(10, 160)]
Label = Annotated[str, bounded(2, 30)]


class _Draft(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RoleDraft(_Draft):
    slot: RoleKey
    table: Snake  # plural snake_case table name: "dentists"
    noun: Short  # what one is called: "dentist"
    id_prefix: Prefix  # ids look like DN123456
    names: list[Label] = Field(default_factory=list, max_length=4)  # display names of rows
    kinds: list[Snake] = Field(default_factory=list, max_length=3)  # category values


class UserDraft(_Draft):
    table: Snake
    noun: Short
    id_prefix: Prefix
    auth: list[Literal["email", "phone", "name_dob", "member_number"]] = Field(
        min_length=1, max_length=2
    )


class SketchDraft(_Draft):
    sector: Sector
    name: Snake
    title: Short
    description: Text
    agent_role: Short
    user: UserDraft
    mechanisms: list[MechanismName] = Field(min_length=1, max_length=4)
    roles: list[RoleDraft] = Field(default_factory=list, max_length=4)
    policy_notes: list[Text] = Field(default_factory=list, max_length=1)


def _snake(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "domain"


def to_sketch(draft: SketchDraft) -> DomainSketch:
    """The draft as a DomainSketch: prerequisites added, roles kept only for slots a chosen
    mechanism reads, a role whose table another one already took dropped (the mechanism's
    own naming stands in)."""
    chosen = set(draft.mechanisms)
    for name in reversed(mechanisms.ORDER):  # close over prerequisites
        if name in chosen:
            chosen.update(r for r in mechanisms.get(name).REQUIRES if r != "accounts")
    kinds = [n for n in mechanisms.ORDER if n in chosen]
    slots = {s for k in kinds for s in SLOTS.get(k, ())}
    taken = {draft.user.table}
    roles: dict[str, Role] = {}
    for r in draft.roles:
        if r.slot not in slots or r.slot in roles or r.table in taken:
            continue
        taken.add(r.table)
        names = sorted(dict.fromkeys(n.strip() for n in r.names if n.strip()))
        roles[r.slot] = Role(
            table=r.table,
            noun=r.noun.strip().lower(),
            id_pattern=r.id_prefix + "#" * 6,
            names=names,
            provider="name" if r.slot == "provider" and not names else None,
            kinds=sorted(dict.fromkeys(r.kinds)),
        )
    user = UserRole(
        table=draft.user.table,
        noun=draft.user.noun.strip().lower(),
        id_pattern=draft.user.id_prefix + "#" * 6,
        auth=list(dict.fromkeys(draft.user.auth)),
    )
    return DomainSketch(
        sector=draft.sector,
        name=_snake(draft.name),
        title=draft.title.strip(),
        description=draft.description.strip(),
        agent_role=draft.agent_role.strip(),
        user=user,
        roles=roles,
        mechanisms=[MechanismUse(kind=k) for k in kinds if k != "accounts"],
        policy_notes=[n.strip() for n in draft.policy_notes],
    )


EXAMPLE = SketchDraft(
    sector="health",
    name="family_dental_practice",
    title="Brightsmile Family Dental",
    description="Front desk of a family dental practice that books cleanings and fillings and "
    "handles bills.",
    agent_role="front-desk assistant",
    user=UserDraft(table="patients", noun="patient", id_prefix="PT", auth=["email", "name_dob"]),
    mechanisms=["slot_booking", "payments", "catalog"],
    roles=[
        RoleDraft(
            slot="provider",
            table="dentists",
            noun="dentist",
            id_prefix="DN",
            kinds=["general", "hygiene", "orthodontics"],
        ),
        RoleDraft(slot="booking", table="appointments", noun="appointment", id_prefix="AP"),
        RoleDraft(
            slot="item",
            table="treatments",
            noun="treatment",
            id_prefix="TR",
            names=["Cleaning", "Filling", "Crown", "Whitening"],
            kinds=["preventive", "restorative"],
        ),
    ],
    policy_notes=["Never give clinical advice; book an appointment with a dentist instead."],
)

MECHANISM_HELP = {
    "catalog": "things the business offers, priced (slot item)",
    "inventory": "stock of catalog items and holds",
    "lifecycle": "orders or cases moving through states (slot case)",
    "shipments": "deliveries of orders with tracking",
    "claims": "returns, exchanges, claims on finished orders (slot claim)",
    "slot_booking": "appointments in time slots with a provider (slots provider, booking)",
    "reservations": "date-range reservations of units: rooms, cars (slots unit, reservation)",
    "payments": "bills, payment methods, payments and refunds",
    "transfers": "money accounts and transfers between them (slot account)",
    "subscriptions": "plans and subscriptions with plan changes (slots plan, subscription)",
    "tickets": "support tickets (slot ticket)",
    "loyalty": "loyalty points and tiers",
    "enrollments": "enrolment in courses or classes with capacity (slot course)",
    "renewals": "renewable things: prescriptions, licences, permits (slot renewable)",
    "reviews": "reviews and ratings of catalog items",
    "scheduling": "staff shifts needing skills",
}


def sketch_messages(description: str) -> list[dict[str, str]]:
    """The system and user messages that ask for a draft of ``description``."""
    menu = "\n".join(f"- {k}: {v}" for k, v in MECHANISM_HELP.items())
    system = (
        "You design the database of a customer service desk. Answer with one JSON object "
        "describing the business: its sector, a snake_case name, a title, a one-sentence "
        "description, the agent's role, the customer (user) table, the mechanisms the business "
        "runs on, and names for the tables those mechanisms need (roles, by slot).\n"
        f"Mechanisms (pick 2 to 4):\n{menu}\n"
        "Table names are plural snake_case; id prefixes are 2-3 capital letters.\n"
        "Example for 'a family dentist':\n" + json.dumps(EXAMPLE.model_dump(), ensure_ascii=False)
    )
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": f"The business: {description.strip()}"},
    ]
