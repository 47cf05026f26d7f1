"""TRL ``environment_factory``: one class per world, built from the spec.

``GRPOTrainer(environment_factory=Cls)`` (or ``{domain: Cls}`` with an ``environment`` column)
creates instances with no arguments, calls ``reset(**row)`` per rollout and offers every other
public method as a tool, its schema read by ``transformers.utils.get_json_schema`` from the
type hints and the Google docstring (``Args:`` per param) generated here. ``reset`` takes
the row's ``task_id`` and restores that task's start state, so every member of a GRPO group
starts from the same state. A failed call raises ``ValueError`` (TRL shows its text to the
model); ``done(message)`` ends the episode and is how the model states its answers;
``get_reward()`` is the state-diff reward. Classes and instances pickle (the async trainer
pickles factories): a class by its world path, an instance by its task.

No ``transformers``/``trl`` import here: the contract is plain Python.
"""

from __future__ import annotations

import copyreg
import inspect
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar, Literal, cast

from engine import Task, World
from engine.adapters.openai_tools import DONE
from engine.runtime.builtins import BUILTIN_TOOLS

_WORLDS: dict[str, World] = {}
_CLASSES: dict[tuple[str, tuple[str, ...] | None], type[ScaleEnvTRL]] = {}
_PY = {"string": str, "integer": int, "number": float, "boolean": bool, "date": str}
_PY["datetime"] = str
DONE_DOC = """End the conversation once the user's request is handled or cannot be handled.

Args:
    message: A last message to the user (answers to their questions, or a refusal).
"""


def _world(path: str) -> World:
    w = _WORLDS.get(path)
    if w is None:
        w = _WORLDS[path] = World.load(path)
    return w


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _py_type(param: Any) -> Any:
    if param.type == "enum":
        return Literal[tuple(param.values)]
    if param.type == "array":
        return list[_py_type(param.items)]  # type: ignore[misc]
    return _PY[param.type]


def _describe(name: str, schema: dict[str, Any]) -> str:
    return _one_line(schema.get("description") or name.replace("_", " "))


def _method(name: str, tool_schema: dict[str, Any], spec_tool: Any) -> Any:
    """A tool method with a real signature, type hints and a Google docstring."""
    props = tool_schema["function"]["parameters"]["properties"]
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {}
    optional = []
    for pname, p in spec_tool.params.items():
        hint = _py_type(p)
        if p.required:
            params.append(
                inspect.Parameter(pname, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=hint)
            )
        else:
            hint = hint | None
            optional.append(
                inspect.Parameter(
                    pname, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=hint
                )
            )
        annotations[pname] = hint
    params += optional
    annotations["return"] = str
    sig = inspect.Signature(params, return_annotation=str)
    args_doc = "".join(f"    {n}: {_describe(n, props[n])}\n" for n in spec_tool.params)
    doc = _one_line(tool_schema["function"]["description"] or name.replace("_", " "))
    if args_doc:
        doc += "\n\nArgs:\n" + args_doc

    def call(self: ScaleEnvTRL, *args: Any, **kwargs: Any) -> str:
        bound = sig.bind(self, *args, **kwargs)
        values = {k: v for k, v in bound.arguments.items() if k != "self" and v is not None}
        return self._call(name, values)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = doc
    call.__signature__ = sig  # type: ignore[attr-defined]
    call.__annotations__ = annotations
    return call


class _FactoryMeta(type):
    """Metaclass of generated classes: pickled as 'rebuild from this world path'."""


def _rebuild(world_dir: str, toolset: tuple[str, ...] | None) -> type[ScaleEnvTRL]:
    return environment_factory(world_dir, list(toolset) if toolset is not None else None)


def _reduce(cls: Any) -> Any:
    return (_rebuild, (cls.world_dir, cls.toolset))


copyreg.pickle(_FactoryMeta, _reduce)


class ScaleEnvTRL(metaclass=_FactoryMeta):
    """Base of the generated classes; use ``environment_factory(world_dir)``."""

    world_dir: ClassVar[str] = ""
    toolset: ClassVar[tuple[str, ...] | None] = None

    def __init__(self) -> None:
        self._world = _world(self.world_dir)
        self._session = self._world.session()
        self.task: Task | None = None
        self.said: list[str] = []

    def reset(self, **kwargs: Any) -> str:
        """Start an episode at the row's task (``task_id`` column); other columns are ignored."""
        task_id = kwargs.get("task_id")
        self.task = None if task_id is None else self._world.task(str(task_id))
        self._session.reset(self.task)
        self.said = []
        return ""

    def _call(self, name: str, args: dict[str, Any]) -> str:
        if self._session.done:
            raise ValueError("the conversation has already ended")
        result = self._session.call(name, args)
        if not result.ok:
            raise ValueError(result.text)
        return result.text

    def get_reward(self) -> float:
        """The task's state-diff reward (with what ``done`` said); 0.0 without a task."""
        if self.task is None:
            return 0.0
        return float(self._session.evaluate(self.task, messages=self.said).reward)

    def __getstate__(self) -> dict[str, Any]:
        return {"task_id": None if self.task is None else self.task.id, "said": list(self.said)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]
        self.reset(task_id=state["task_id"])
        self.said = state["said"]


def _done(self, message: str | None = None) -> str:  # noqa: ANN001 - no hint: not a tool arg
    if message:
        self.said.append(message)
    self._session.done = True
    return "The conversation has ended."


_done.__name__ = _done.__qualname__ = DONE
_done.__doc__ = DONE_DOC


def environment_factory(
    world_dir: str | Path, toolset: list[str] | None = None
) -> type[ScaleEnvTRL]:
    """The TRL environment class of a world (cached: one class per world and toolset).

    ``toolset`` limits the tools (default: every active tool and builtin of the world).
    """
    path = str(Path(world_dir).resolve())
    key = (path, tuple(toolset) if toolset is not None else None)
    cls = _CLASSES.get(key)
    if cls is not None:
        return cls
    world = _world(path)
    session = world.session()
    try:
        schemas = session.openai_tools(toolset)
    finally:
        session.close()
    attrs: dict[str, Any] = {"world_dir": path, "toolset": key[1], DONE: _done}
    attrs["__doc__"] = f"scaleenv world {world.spec.name}: {_one_line(world.spec.description)}"
    builtins = _builtin_params()
    for schema in schemas:
        name = schema["function"]["name"]
        if name in attrs or hasattr(ScaleEnvTRL, name) or name.startswith("_"):
            raise ValueError(f"{world.name}: tool name {name!r} clashes with the environment's")
        tool = world.spec.tools.get(name) or builtins[name]
        attrs[name] = _method(name, schema, tool)
    made = _FactoryMeta(f"{_camel(world.spec.name)}Env", (ScaleEnvTRL,), attrs)
    cls = cast("type[ScaleEnvTRL]", made)
    cls.__module__ = __name__
    _CLASSES[key] = cls
    return cls


def environment_factories(world_dirs: list[str | Path]) -> dict[str, type[ScaleEnvTRL]]:
    """``{domain: class}`` for TRL's multi-environment form (the ``environment`` column)."""
    out: dict[str, type[ScaleEnvTRL]] = {}
    for d in world_dirs:
        cls = environment_factory(d)
        domain = _world(cls.world_dir).spec.name
        if domain in out:
            raise ValueError(f"two worlds of domain {domain!r}: {out[domain].world_dir}, {d}")
        out[domain] = cls
    return out


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in name.replace("-", "_").split("_") if p) or "World"


def _builtin_params() -> dict[str, Any]:
    return {n: SimpleNamespace(params=p) for n, (_, p) in BUILTIN_TOOLS.items()}


def trl_schema(openai_tool: dict[str, Any]) -> dict[str, Any]:
    """What ``transformers.utils.get_json_schema`` must read off our method for an OpenAI
    tool of ours: same name, description, property names, types, enums, item types,
    descriptions and required list (optional params become ``nullable``)."""
    fn = openai_tool["function"]
    params = fn["parameters"]
    props: dict[str, Any] = {}
    for pname, p in params["properties"].items():
        props[pname] = _trl_prop(pname, p)
    required = [n for n, p in params["properties"].items() if not _nullable(p)]
    out: dict[str, Any] = {
        "type": "function",
        "function": {
            "name": fn["name"],
            "description": _one_line(fn["description"] or fn["name"].replace("_", " ")),
            "parameters": {"type": "object", "properties": props},
            "return": {"type": "string"},
        },
    }
    if required:
        out["function"]["parameters"]["required"] = required
    return out


def _nullable(p: dict[str, Any]) -> bool:
    t = p.get("type")
    return isinstance(t, list) and "null" in t


def _trl_prop(name: str, p: dict[str, Any], top: bool = True) -> dict[str, Any]:
    t = p["type"]
    base = [x for x in t if x != "null"][0] if isinstance(t, list) else t
    out: dict[str, Any] = {"type": base}
    if "items" in p:
        out["items"] = _trl_prop(name, p["items"], top=False)
    if "enum" in p:
        out["enum"] = [v for v in p["enum"] if v is not None]
    if _nullable(p):
        out["nullable"] = True
    if top:
        out["description"] = _describe(name, p)
    return out
