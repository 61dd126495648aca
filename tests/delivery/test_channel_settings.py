"""Configured channels: settings validated by each channel type's model."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from core.builtin.channels import FileChannel
from core.config import Settings
from core.delivery import build_channels, channel_settings
from core.delivery.channels import no_address_reason
from core.errors import ConfigError
from core.hookspecs import hookimpl
from core.plugins import make_plugin_manager
from core.registry import Registry, build_registry
from core.vocabulary import Channel, ChannelType


class SmtpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str
    port: int = 25


class SmtpPlugin:
    @hookimpl
    def patron_channel_types(self) -> list[ChannelType]:
        return [ChannelType("smtp", "Needs a host.", SmtpSettings, self.make, consent_key="email")]

    def make(self, settings: BaseModel, patron_settings: Settings) -> Channel:
        return FileChannel("smtp", patron_settings.outbox, "email")


@pytest.fixture
def smtp_registry(settings: Settings) -> Registry:
    return build_registry(make_plugin_manager(extra=[SmtpPlugin()]), settings)


def test_channels_that_need_no_settings_are_available(
    registry: Registry, settings: Settings
) -> None:
    channels = build_channels(registry, settings)
    assert isinstance(channels["file"], FileChannel)
    assert channels["file"].directory == settings.outbox


def test_file_channel_settings(registry: Registry, settings: Settings) -> None:
    settings = settings.model_copy(
        update={"channels": {"file": {"directory": "mail", "address": "phone"}}}
    )
    channel = build_channels(registry, settings)["file"]
    assert isinstance(channel, FileChannel)
    assert (channel.directory, channel.address) == (settings.base_dir / "mail", "phone")
    assert no_address_reason(channel) == "no phone number"


def test_a_channel_needing_settings_is_available_only_when_configured(
    smtp_registry: Registry, settings: Settings
) -> None:
    assert sorted(channel_settings(smtp_registry, settings)) == ["file", "task"]
    configured = settings.model_copy(update={"channels": {"smtp": {"host": "mail.local"}}})
    assert channel_settings(smtp_registry, configured)["smtp"] == SmtpSettings(host="mail.local")


@pytest.mark.parametrize(
    ("channels", "message"),
    [
        ({"file": {"directry": "x"}}, "channels.file.directry: Extra inputs are not permitted"),
        (
            {"file": {"address": "fax"}},
            "channels.file.address: Input should be 'email', 'phone' or 'external_id'",
        ),
        (
            {"smtp": {"port": "x"}},
            "channels.smtp.host: Field required\n"
            "channels.smtp.port: Input should be a valid integer, "
            "unable to parse string as an integer",
        ),
        ({"fiel": {}}, "channels.fiel: unknown channel 'fiel' (did you mean 'file'?)"),
    ],
)
def test_invalid_settings_name_the_channel_and_key(
    smtp_registry: Registry,
    settings: Settings,
    channels: dict[str, dict[str, object]],
    message: str,
) -> None:
    settings = settings.model_copy(update={"channels": channels})
    with pytest.raises(ConfigError) as caught:
        build_channels(smtp_registry, settings)
    assert str(caught.value) == message
