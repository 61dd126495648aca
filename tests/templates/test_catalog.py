"""Finding, choosing and rendering templates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.errors import TemplateError
from core.templates import (
    CUSTOMER_FIELDS,
    RenderedMessage,
    TemplateCatalog,
    build_context,
    context_names,
    format_money,
    locale_chain,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
AS_OF = int(dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC).timestamp())  # 09:00 in Shanghai


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def simple(label: str) -> str:
    return f"{{% block subject %}}{label}{{% endblock %}}{{% block body %}}{label}{{% endblock %}}"


def context(**features: object) -> dict[str, object]:
    customer = {"external_id": "C1", "name": "Lin", "email": "lin@example.com", "locale": "zh-CN"}
    rule = {"id": "birthday-greeting", "description": "Birthdays.", "category": "care"}
    return build_context(customer, features, rule, AS_OF, SHANGHAI, "CNY")


@pytest.fixture
def chdir_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def greetings(tmp_path: Path) -> TemplateCatalog:
    root = tmp_path / "templates"
    for locale in ("en", "zh", "zh-CN", "pt-BR"):
        write(root, f"care/hello.{locale}.j2", simple(locale))
    write(root, "care/only_en.en.j2", simple("en"))
    write(root, "care/only_ja.ja.j2", simple("ja"))
    write(root, "care/_partials/footer.en.j2", "footer")
    write(root, "care/notes.txt", "not a template")
    return TemplateCatalog([root], "zh-CN", "CNY")


def test_names_locales_and_paths(greetings: TemplateCatalog, tmp_path: Path) -> None:
    assert greetings.names() == ["care/hello", "care/only_en", "care/only_ja"]
    assert greetings.exists("care/hello")
    assert not greetings.exists("care/_partials/footer")
    assert greetings.locales("care/hello") == ["en", "pt-BR", "zh", "zh-CN"]
    assert greetings.path("care/hello", "zh-CN") == tmp_path / "templates/care/hello.zh-CN.j2"
    assert greetings.path("care/hello", "zh_cn") == tmp_path / "templates/care/hello.zh-CN.j2"


@pytest.mark.parametrize(
    ("name", "customer_locale", "expected"),
    [
        ("care/hello", "zh-CN", "zh-CN"),  # exact
        ("care/hello", "zh_cn", "zh-CN"),  # case and separator do not matter
        ("care/hello", "zh-TW", "zh"),  # the language-only file
        ("care/hello", "pt-PT", "zh-CN"),  # no other variant of the language: the default
        ("care/hello", "fr", "zh-CN"),
        ("care/hello", None, "zh-CN"),
        ("care/only_en", "fr", "en"),  # neither language nor default: en
        ("care/only_en", "zh-CN", "en"),
    ],
)
def test_locale_fallback_chain(
    greetings: TemplateCatalog, name: str, customer_locale: str | None, expected: str
) -> None:
    assert greetings.choose_locale(name, customer_locale) == expected
    assert greetings.render(name, customer_locale, context()).locale == expected


def test_no_usable_locale_names_the_template_and_what_exists(greetings: TemplateCatalog) -> None:
    with pytest.raises(TemplateError) as caught:
        greetings.render("care/only_ja", "fr", context())
    assert str(caught.value) == (
        "template 'care/only_ja' has no file for locale 'fr' (tried fr, zh-CN, zh, en; found: ja)"
    )


def test_locale_chain() -> None:
    assert locale_chain("zh-TW", "zh-CN") == ["zh-TW", "zh", "zh-CN", "en"]
    assert locale_chain(None, "en-GB") == ["en-GB", "en"]


def test_unknown_template_suggests_a_name(greetings: TemplateCatalog) -> None:
    with pytest.raises(
        TemplateError, match=r"unknown template 'care/helo' \(did you mean 'care/hello'\?\)"
    ):
        greetings.render("care/helo", "en", context())


def test_operator_folder_wins_per_locale(tmp_path: Path) -> None:
    operator, plugin = tmp_path / "mine", tmp_path / "plugin"
    write(operator, "care/hello.en.j2", simple("operator en"))
    write(plugin, "care/hello.en.j2", simple("plugin en"))
    write(plugin, "care/hello.zh-CN.j2", simple("plugin zh"))
    catalog = TemplateCatalog([operator, plugin], "zh-CN", "CNY")
    assert catalog.render("care/hello", "en", context()).body == "operator en"
    assert catalog.render("care/hello", "zh-CN", context()).body == "plugin zh"


def test_blocks_rendered_separately(tmp_path: Path) -> None:
    write(
        tmp_path,
        "care/offer.en.j2",
        "{% set who = customer.name or 'there' %}\n"
        "{% block subject %}\n  Hello\n  {{ who }} & co  \n{% endblock %}\n"
        "{% block body %}\n"
        "Hi {{ who }} <b>,\n"
        "    {% if spend_365d > 0 %}\n"
        "you spent {{ spend_365d|money }}.\n"
        "    {% endif %}\n"
        "{% endblock %}\n"
        "{% block html %}<p>Hi {{ who }} <b>{{ customer.email }}</b></p>{% endblock %}\n",
    )
    catalog = TemplateCatalog([tmp_path], "en", "CNY")
    message = catalog.render("care/offer", "en", context(spend_365d=123450))
    assert message == RenderedMessage(
        subject="Hello Lin & co",  # one line, stripped
        body="Hi Lin <b>,\nyou spent ¥1,234.50.",  # not escaped
        html="<p>Hi Lin <b>lin@example.com</b></p>",
        locale="en",
    )
    hostile = context(spend_365d=0)
    hostile["customer"]["name"] = "<script>x</script>\nBcc: all@example.com"  # type: ignore[index]
    message = catalog.render("care/offer", "en", hostile)
    assert (
        message.html
        == "<p>Hi &lt;script&gt;x&lt;/script&gt;\nBcc: all@example.com <b>lin@example.com</b></p>"
    )
    assert message.subject == "Hello <script>x</script> Bcc: all@example.com & co"
    assert "\n" not in message.subject


def test_subject_is_optional_and_html_absent(tmp_path: Path) -> None:
    write(tmp_path, "care/sms.en.j2", "{% block body %}Hi {{ customer.name }}{% endblock %}")
    catalog = TemplateCatalog([tmp_path], "en", "CNY")
    assert catalog.render("care/sms", "en", context()) == RenderedMessage("", "Hi Lin", None, "en")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "{% block body %}\nHi {{ customer.nmae }}{% endblock %}",
            "customer has no field 'nmae' (did you mean 'name'?)",
        ),
        ("{% block body %}\n\n{{ custmer }}{% endblock %}", "'custmer' is undefined"),
        (
            "{% block body %}{{ features.spend }}{% endblock %}",
            "features has no field 'spend' (did you mean 'spend_365d'?)",
        ),
        (
            "{% block body %}{{ customer.attributes.tier }}{% endblock %}",
            "customer.attributes has no field 'tier'",
        ),
        ("{% block body %}{{ nothing|upper }}{% endblock %}", "'nothing' is undefined"),
    ],
)
def test_strict_undefined_raises_with_file_and_line(
    chdir_tmp: Path, source: str, message: str
) -> None:
    write(chdir_tmp, "templates/care/broken.en.j2", source)
    catalog = TemplateCatalog([chdir_tmp / "templates"], "en", "CNY")
    line = source.count("\n", 0, source.index("{{")) + 1
    with pytest.raises(TemplateError) as caught:
        catalog.render("care/broken", "en", context(spend_365d=1))
    assert str(caught.value) == f"templates/care/broken.en.j2:{line}: {message}"


def test_missing_body_is_an_error_at_render(chdir_tmp: Path) -> None:
    write(chdir_tmp, "templates/care/empty.en.j2", "{% block subject %}Hi{% endblock %}")
    catalog = TemplateCatalog([chdir_tmp / "templates"], "en", "CNY")
    with pytest.raises(
        TemplateError, match=r"^templates/care/empty.en.j2: missing \{% block body %\}$"
    ):
        catalog.render("care/empty", "en", context())


def test_sandbox_refuses_internals(tmp_path: Path) -> None:
    write(
        tmp_path,
        "care/evil.en.j2",
        "{% block body %}{{ customer.__class__.__mro__ }}{% endblock %}",
    )
    catalog = TemplateCatalog([tmp_path], "en", "CNY")
    with pytest.raises(TemplateError, match="unsafe"):
        catalog.render("care/evil", "en", context())


def test_includes_and_macros_from_partials(tmp_path: Path) -> None:
    write(tmp_path, "_shared/sign.en.j2", "{% macro sign(team) %}-- {{ team }}{% endmacro %}")
    write(tmp_path, "_shared/footer.en.j2", "Unsubscribe: reply STOP")
    write(
        tmp_path,
        "care/signed.en.j2",
        '{% import "_shared/sign.en.j2" as s %}'
        "{% block body %}Hi\n{{ s.sign('Care') }}\n"
        "{% include '_shared/footer.en.j2' %}{% endblock %}",
    )
    catalog = TemplateCatalog([tmp_path], "en", "CNY")
    assert catalog.names() == ["care/signed"]
    assert (
        catalog.render("care/signed", "en", context()).body
        == "Hi\n-- Care\nUnsubscribe: reply STOP"
    )


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (123450, "CNY", "¥1,234.50"),
        (123450, "USD", "$1,234.50"),
        (5, "EUR", "€0.05"),
        (-250, "CNY", "-¥2.50"),
        (123450, "CHF", "CHF 1,234.50"),
        (123450, "JPY", "JPY 123,450"),  # no minor unit
        (1234.6, "CNY", "¥12.35"),
        (0, "GBP", "£0.00"),
        (None, "CNY", ""),
    ],
)
def test_money(amount: int | float | None, currency: str, expected: str) -> None:
    assert format_money(amount, currency) == expected


def test_money_and_date_filters_in_templates(tmp_path: Path) -> None:
    write(
        tmp_path,
        "care/filters.en.j2",
        "{% block body %}{{ spend_365d|money }} {{ spend_365d|money('USD') }} "
        "{{ today|date('%d.%m.%Y') }} {{ as_of|date('%H:%M %Z') }} {{ joined|date }} "
        "{{ '2026-01-05'|date('%b %d') }}{% endblock %}",
    )
    catalog = TemplateCatalog([tmp_path], "en", "CNY")
    joined = int(dt.datetime(2025, 12, 31, 17, 0, tzinfo=dt.UTC).timestamp())  # 1 Jan in Shanghai
    body = catalog.render("care/filters", "en", context(spend_365d=99900, joined=joined)).body
    assert body == "¥999.00 $999.00 23.11.2026 09:00 CST 2026-01-01 Jan 05"


def test_build_context() -> None:
    customer = {
        "id": 7,
        "external_id": "C7",
        "name": "Ada",
        "consent": {"email": True},
        "attributes": {"tier": "gold"},
        "timezone": "Europe/Berlin",
    }
    features = {"spend_365d": 100, "rule": "shadowed"}
    ctx = build_context(
        customer,
        features,
        {"id": "r1", "category": "care"},
        AS_OF,
        ZoneInfo("Europe/Berlin"),
        "EUR",
    )
    assert set(ctx) == {"customer", "features", "rule", "as_of", "today", "currency", "spend_365d"}
    assert sorted(ctx["customer"]) == sorted(CUSTOMER_FIELDS)
    assert ctx["customer"]["attributes"] == {"tier": "gold"}
    assert ctx["customer"]["email"] is None
    assert ctx["features"] == features
    assert ctx["rule"] == {"id": "r1", "description": "", "category": "care"}
    assert ctx["as_of"] == dt.datetime(2026, 11, 23, 2, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert ctx["as_of"].utcoffset() == dt.timedelta(hours=1)
    assert ctx["today"] == dt.date(2026, 11, 23)
    assert ctx["currency"] == "EUR"
    assert context_names(["spend_365d"]) == {
        "customer", "features", "rule", "as_of", "today", "currency", "spend_365d"
    }  # fmt: skip


def test_today_is_the_customers_date() -> None:
    late = int(dt.datetime(2026, 11, 23, 20, 0, tzinfo=dt.UTC).timestamp())
    assert build_context({}, {}, {}, late, SHANGHAI, "CNY")["today"] == dt.date(2026, 11, 24)
    assert build_context({}, {}, {}, late, ZoneInfo("America/New_York"), "CNY")["today"] == dt.date(
        2026, 11, 23
    )


def test_filters_report_the_missing_field_not_the_filter(tmp_path: Path) -> None:
    write(
        tmp_path,
        "care/f.en.j2",
        "{% block body %}{{ features.spend|money }} {{ rule.day|date }}{% endblock %}",
    )
    catalog = TemplateCatalog([tmp_path], "en", "CNY")
    with pytest.raises(TemplateError, match=r":1: features has no field 'spend'$"):
        catalog.render("care/f", "en", context())


def test_syntax_errors_at_render_name_file_and_line(chdir_tmp: Path) -> None:
    source = "{% block body %}\n{{ x|uppercase_all }}{% endblock %}"
    write(chdir_tmp, "templates/care/bad.en.j2", source)
    catalog = TemplateCatalog([chdir_tmp / "templates"], "en", "CNY")
    with pytest.raises(TemplateError) as caught:
        catalog.render("care/bad", "en", context())
    assert str(caught.value) == "templates/care/bad.en.j2:2: unknown filter 'uppercase_all'"
