"""The spec language, described: JSON Schema for editors and the generated reference
``docs/spec.md`` (field descriptions from the models, examples kept as data beside them)."""

from synth.specdoc.reference import (
    DOC_PATH,
    check_examples,
    example_specs,
    render_reference,
    spec_json_schema,
    write_reference,
)

__all__ = [
    "DOC_PATH",
    "check_examples",
    "example_specs",
    "render_reference",
    "spec_json_schema",
    "write_reference",
]
