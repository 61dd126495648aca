"""`patron schema`: JSON Schema for rule files and patron.yaml, from the registries."""

from __future__ import annotations

import json
from pathlib import Path

import click

from core.cli.main import Context, pass_context
from core.schema import config_schema, rule_file_schema


@click.command()
@click.option("--config", "for_config", is_flag=True, help="The schema of patron.yaml instead.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write it here."
)
@pass_context
def schema(ctx: Context, for_config: bool, output: Path | None) -> int:
    """Print the JSON Schema of rule files (every installed plugin's actions, sections
    and features included) or, with --config, of patron.yaml.

    \b
    For editors with a YAML language server, write it once and name it at the top of
    each rule file:
      patron schema -o .patron/rules.schema.json
      # yaml-language-server: $schema=../.patron/rules.schema.json
    """
    document = config_schema() if for_config else rule_file_schema(ctx.app.registry)
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}")
    return 0


COMMANDS: list[click.Command] = [schema]
