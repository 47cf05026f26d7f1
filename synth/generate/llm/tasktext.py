"""Natural task text: the model rephrases template requests and writes personas, checked.

The template instruction is correct by construction but stiff. The model rewrites it as a
customer would say it, and writes a one-sentence persona. A rewrite is kept only when
- every fact of the template the user states (names, ids, dates, amounts, quoted values:
  the ``known`` values the template mentions) is still there, written the same way;
- it states nothing the user must not say: no id, date, email or number the template and the
  user's known facts do not hold (an id the user would not have, an invented amount), and
  none of the gold answers the agent has to find;
- a question stays a question, and the independent auditor finds no new problem.
Anything else falls back to the template, with the reason recorded in ``task.meta``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict

from engine import ScaleEnvError, Task
from synth.generate.llm.client import LLM
from synth.generate.llm.draft import bounded

Request = Annotated[str, bounded(10, 700, cut=False)]  # a cut request may lose a fact
Persona = Annotated[str, bounded(10, 300)]

# things a user could only have been told: ids (AP960889, #W1234), emails, dates, numbers
FACT_RE = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # email
    r"|\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?"  # date / datetime
    r"|#?\b[A-Za-z]{0,5}-?\d[\w-]*"  # id-like or number (PT192955, 150, 12.50)
)


class Rewrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request: Request  # the customer's opening message
    persona: Persona  # one sentence about who the customer is


@dataclass
class TextOutcome:
    task_id: str
    used: str  # "llm" or "template"
    reason: str = ""


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _value_texts(value: Any) -> list[str]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, float):
        out = [f"{value:.2f}", repr(value)]
        return out + ([str(int(value))] if value == int(value) else [])
    if isinstance(value, int | str):
        text = str(value).strip()
        return [text] if text else []
    return []


def _mentions(text: str, value: Any) -> bool:
    low = _norm(text)
    return any(_norm(t) in low for t in _value_texts(value))


def _facts(text: str) -> set[str]:
    return {m.group(0).strip(".,;:!?)").lstrip("#").lower() for m in FACT_RE.finditer(text)}


def check_rewrite(task: Task, request: str, persona: str) -> str:
    """Why the rewrite may not replace the template ('' when it may)."""
    template = task.instruction
    known = dict(task.user.known)
    # facts the task needs: every known value (and the user's name) the template states
    needed = [(k, v) for k, v in sorted(known.items()) if _mentions(template, v)]
    if _mentions(template, task.user.name):
        needed.append(("name", task.user.name))
    for k, v in needed:
        if not _mentions(request, v):
            return f"drops {k} ({v})"
    # facts the user must not state: anything fact-shaped the template and known lack
    allowed = _facts(template) | _facts(task.user.persona)
    for v in known.values():
        allowed |= {t.lower() for t in _value_texts(v)} | _facts(str(v))
    for text, what in ((request, "request"), (persona, "persona")):
        extra = sorted(_facts(text) - allowed)
        if extra:
            return f"{what} states {extra[0]!r}, which the user was not given"
    for ans in task.required_answers:
        if _mentions(request + " " + persona, ans) and not _mentions(template, ans):
            return f"leaks the answer {ans!r}"
    if "?" in template and "?" not in request:
        return "drops the question the user asks"
    return ""


def _messages(task: Task) -> list[dict[str, str]]:
    system = (
        "You rewrite a customer's request to a service desk so it sounds natural, and write "
        "a one-sentence persona of the customer. Keep every name, id, date, amount and quoted "
        "value exactly as written. Add no facts: no new ids, dates or numbers. Keep every "
        "request and question."
    )
    user = f"Request: {task.instruction}\nAbout the customer: {task.user.persona}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def rephrase_tasks(
    llm: LLM,
    tasks: list[Task],
    seed: int = 0,
    limit: int | None = None,
    audit: Callable[[Task], list[str]] | None = None,
) -> tuple[list[Task], list[TextOutcome]]:
    """The tasks with checked natural text (template kept where a rewrite fails a check).

    ``limit`` rephrases only the first tasks; ``audit`` (task -> problems) is the
    independent auditor: a rewrite may not add a problem the template did not have."""
    chosen = tasks if limit is None else tasks[:limit]

    def ask(i: int) -> Rewrite | str:  # model calls in parallel (up to the concurrency limit)
        try:
            return llm.structured(
                "tasktext", Rewrite, _messages(chosen[i]), seed=seed + i, max_tokens=400
            )
        except ScaleEnvError as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=llm.config.concurrency) as pool:
        answers = list(pool.map(ask, range(len(chosen))))
    out: list[Task] = []
    outcomes: list[TextOutcome] = []
    for t, rw in zip(chosen, answers, strict=True):  # checks in order, on this thread
        new, why = _apply(t, rw, audit)
        out.append(new)
        outcomes.append(TextOutcome(t.id, "template" if why else "llm", why))
    return out + tasks[len(chosen) :], outcomes


def _apply(
    t: Task, rw: Rewrite | str, audit: Callable[[Task], list[str]] | None
) -> tuple[Task, str]:
    if isinstance(rw, str):
        return t, rw
    request, persona = " ".join(rw.request.split()), " ".join(rw.persona.split())
    why = check_rewrite(t, request, persona)
    new = t.model_copy(deep=True)
    new.instruction, new.user.persona = request, persona
    if not why and audit is not None:
        before = set(audit(t))
        added = [p for p in audit(new) if p not in before]
        if added:
            why = f"auditor: {added[0]}"
    if why:
        return t, why
    new.meta = {**new.meta, "template_instruction": t.instruction, "text": "llm"}
    return new, ""
