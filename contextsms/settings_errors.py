"""Turn a settings ValidationError into one line per variable, naming the variable."""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_settings import BaseSettings


class SettingsError(SystemExit):
    """Raised at start-up; as a SystemExit it ends the process with the message, no trace."""


def settings_error(exc: ValidationError, settings_cls: type[BaseSettings]) -> SettingsError:
    prefix = str(settings_cls.model_config.get("env_prefix", "") or "")
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        if not error["loc"]:
            # A check across fields names its variables in its own message.
            lines.append(f"  {str(error['msg']).removeprefix('Value error, ')}")
            continue
        name = str(error["loc"][0])
        field = settings_cls.model_fields.get(name)
        alias = field.validation_alias if field is not None else name
        # A field with an alias (Azure's MicrosoftAppId) is read under that name, as is.
        is_alias = name not in settings_cls.model_fields or isinstance(alias, str)
        # A field named in Azure's spelling (MicrosoftAppId) is shown so; others as the
        # conventional upper-case variable (the names are matched without regard to case).
        if is_alias:
            variable = str(alias)
        elif name != name.lower():
            variable = f"{prefix}{name}"
        else:
            variable = f"{prefix}{name}".upper()
        problem = "is missing" if error["type"] == "missing" else f"is invalid: {error['msg']}"
        lines.append(f"  {variable} {problem}")
    return SettingsError(
        "Configuration error (set these environment variables or put them in .env):\n"
        + "\n".join(lines)
    )
