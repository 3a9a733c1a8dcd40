"""Docs move with the code: every setting and every command is documented."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from leadwatch.settings import SHORTCUTS, Settings
from tests.test_cli import commands

ROOT = Path(__file__).resolve().parent.parent


def setting_names(model: type[BaseModel] = Settings, prefix: str = "") -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        inner = getattr(annotation, "__args__", (annotation,))[0]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += setting_names(annotation, f"{prefix}{name}.")
        elif isinstance(inner, type) and issubclass(inner, BaseModel):  # lists of sections
            names += setting_names(inner, f"{prefix}{name}[].")
        else:
            names.append(prefix + name)
    return names


def test_every_setting_is_in_configuration_md() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    missing = [name for name in setting_names() if f"`{name}`" not in text]
    assert not missing, f"document these settings in docs/configuration.md: {missing}"
    assert all(f"`{env}`" in text for env in SHORTCUTS)


def test_every_command_is_in_cli_md() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    missing = [name for name in commands() if f"leadwatch {name}" not in text]
    assert not missing, f"document these commands in docs/cli.md: {missing}"


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    first_section = text.split("\n## ", 2)[1]
    assert "make run" in first_section and "make test" in first_section
    assert "make test" in (ROOT / ".ci" / "run").read_text()
