"""Render the JSON Schema documents of the envelope and every payload model.

The rendered files are checked in under `schemas/jsonschema/` so that other teams (and other
languages) can validate our messages; a unit test fails when a model changes and the files do not.
Writing them is the CLI's job (`fees schemas write`); this module only renders.
"""

import json

from pydantic import BaseModel

from schemas.envelope import EventEnvelope, NewEvent
from schemas.events import EVENT_MODELS_BY_CONTEXT

JSONSCHEMA_DIRECTORY = "schemas/jsonschema"


def _render(model: type[BaseModel]) -> str:
    return (
        json.dumps(model.model_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )


def render_all() -> dict[str, str]:
    """Relative file path (under JSONSCHEMA_DIRECTORY) -> JSON Schema text."""
    files = {
        "envelope/EventEnvelope.json": _render(EventEnvelope),
        "envelope/NewEvent.json": _render(NewEvent),
    }
    for context, models in EVENT_MODELS_BY_CONTEXT.items():
        for model in models:
            files[f"{context}/{model.event_type}.v{model.schema_version}.json"] = _render(model)
    return files
