"""`problems()`: what `patron check` says about a template, wording pinned."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.templates import TemplateCatalog
from core.vocabulary import FeatureType

FEATURES = {
    "spend_365d": FeatureType.NUMBER,
    "days_since_last_purchase": FeatureType.NUMBER,
    "has_email": FeatureType.BOOLEAN,
    "locale": FeatureType.STRING,
}
GOOD_EN = "{% block subject %}Hi {{ customer.name }}{% endblock %}\n{% block body %}\nHello\n{% endblock %}\n"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def catalog_with(
    root: Path, files: dict[str, str], default_locale: str = "zh-CN"
) -> TemplateCatalog:
    for relative, text in files.items():
        path = root / "templates" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return TemplateCatalog([Path("templates")], default_locale, "CNY", feature_types=FEATURES)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            "{% block subject %}Hi{% endblock %}\n{% block body %}\n{{ customer.name } }}\n{% endblock %}",
            "templates/care/birthday.en.j2:3: unexpected '}'",
            id="syntax error with line",
        ),
        pytest.param(
            "{% block subject %}Hi{% endblock %}\n{% block body %}\n{% if %}{% endif %}{% endblock %}",
            "templates/care/birthday.en.j2:3: Expected an expression, got 'end of statement block'",
            id="syntax error in a tag",
        ),
        pytest.param(
            "{% block subject %}Hi{% endblock %}\n{% block body %}\n\n\nDear {{ custmer.name }}\n{% endblock %}",
            "templates/care/birthday.en.j2:5: unknown variable 'custmer' (did you mean 'customer'?)",
            id="unknown variable",
        ),
        pytest.param(
            "{% block subject %}Hi{% endblock %}\n{% block body %}{{ spend_356d|money }}{% endblock %}",
            "templates/care/birthday.en.j2:2: unknown variable 'spend_356d' (did you mean 'spend_365d'?)",
            id="misspelt feature",
        ),
        pytest.param(
            "{% block subject %}Hi{% endblock %}\n{% block body %}\n\nDear {{ customer.nmae }}\n{% endblock %}",
            "templates/care/birthday.en.j2:4: customer has no field 'nmae' (did you mean 'name'?)",
            id="attribute error caught by the trial render",
        ),
        pytest.param(
            "{% block subject %}{{ rule.title }}{% endblock %}\n{% block body %}x{% endblock %}",
            "templates/care/birthday.en.j2:1: rule has no field 'title'",
            id="rule field",
        ),
        pytest.param(
            "{% block subject %}Hi{% endblock %}\n{% block body %}{{ spend_365d|moneyy }}{% endblock %}",
            "templates/care/birthday.en.j2:2: unknown filter 'moneyy' (did you mean 'money'?)",
            id="unknown filter",
        ),
        pytest.param(
            "{% block subject %}Hi{% endblock %}\n{% block body %}{{ customer.name|money }}{% endblock %}",
            "templates/care/birthday.en.j2:2: money expects an amount in minor units, got 'Alex Morgan'",
            id="filter misuse",
        ),
        pytest.param(
            "{% block subject %}Hi{% endblock %}\nHello {{ customer.name }}\n",
            "templates/care/birthday.en.j2: missing {% block body %}",
            id="missing body",
        ),
        pytest.param(
            "{% block body %}Hello{% endblock %}",
            "templates/care/birthday.en.j2: missing {% block subject %} (channel 'email' needs a subject)",
            id="missing subject for email",
        ),
        pytest.param(
            '{% extends "base.en.j2" %}{% block subject %}Hi{% endblock %}{% block body %}x{% endblock %}',
            "templates/care/birthday.en.j2:1: {% extends %} is not supported; use {% include %} or {% import %}",
            id="extends",
        ),
        pytest.param(
            "{% block subject %}Hi{% endblock %}{% block body %}{% include 'care/_nope.en.j2' %}{% endblock %}",
            "templates/care/birthday.en.j2: included template 'care/_nope.en.j2' not found",
            id="missing include",
        ),
    ],
)
def test_problem_messages(here: Path, source: str, expected: str) -> None:
    catalog = catalog_with(here, {"care/birthday.en.j2": source, "care/birthday.zh-CN.j2": GOOD_EN})
    assert catalog.problems("care/birthday", "email", list(FEATURES)) == [expected]


def test_missing_template_with_did_you_mean(here: Path) -> None:
    catalog = catalog_with(
        here, {"care/birthday.en.j2": GOOD_EN, "care/birthday.zh-CN.j2": GOOD_EN}
    )
    assert catalog.problems("care/bithday", "email", []) == [
        "unknown template 'care/bithday' (did you mean 'care/birthday'?)"
    ]
    assert catalog.problems("zzz", "email", []) == ["unknown template 'zzz'"]


def test_every_locale_file_is_checked_and_all_problems_reported(here: Path) -> None:
    catalog = catalog_with(
        here,
        {
            "care/birthday.en.j2": "{% block body %}{{ custmer }} {{ tday }}{% endblock %}",
            "care/birthday.zh-CN.j2": "{% block subject %}{% endblock %}\n{% block body %}\n{{ x } }}{% endblock %}",
        },
    )
    assert catalog.problems("care/birthday", "email", list(FEATURES)) == [
        "templates/care/birthday.en.j2: missing {% block subject %} (channel 'email' needs a subject)",
        "templates/care/birthday.en.j2:1: unknown variable 'custmer' (did you mean 'customer'?)",
        "templates/care/birthday.en.j2:1: unknown variable 'tday' (did you mean 'today'?)",
        "templates/care/birthday.zh-CN.j2:3: unexpected '}'",
    ]


def test_subject_optional_for_sms_but_length_checked(here: Path) -> None:
    long_body = "{% block body %}" + "好" * 501 + "{% endblock %}"
    catalog = catalog_with(
        here,
        {
            "care/short.zh-CN.j2": "{% block body %}生日快乐，{{ customer.name }}{% endblock %}",
            "care/long.zh-CN.j2": long_body,
        },
    )
    assert catalog.problems("care/short", "sms", []) == []
    assert catalog.problems("care/long", "sms", []) == [
        "templates/care/long.zh-CN.j2: the sample SMS body is 501 characters; keep it at most 500"
    ]
    assert catalog.problems("care/long", "webhook", []) == []


def test_no_file_for_default_locale_or_en(here: Path) -> None:
    catalog = catalog_with(here, {"care/hello.ja.j2": GOOD_EN})
    assert catalog.problems("care/hello", "email", []) == [
        "template 'care/hello' has no 'zh-CN' (default locale) or 'en' file (found: ja); "
        "customers in other locales cannot get it"
    ]


def test_good_template_has_no_problems(here: Path) -> None:
    source = (
        "{% set who = customer.name or 'there' %}\n"
        "{% from '_parts/sign.en.j2' import sign %}\n"
        "{% block subject %}Hi {{ who }}{% endblock %}\n"
        "{% block body %}\n"
        "{% for key, value in features|dictsort %}{{ key }}={{ value }} {% endfor %}\n"
        "{{ spend_365d|money }} {{ today|date('%Y') }} {{ rule.id }} {{ as_of.year }} {{ currency }}\n"
        "{% if has_email and locale == 'en' %}{{ customer.attributes.tier }}{% endif %}\n"
        "{{ range(3)|list|length }} {{ sign() }}\n"
        "{% endblock %}\n"
        "{% block html %}<p>{{ who }}</p>{% endblock %}\n"
    )
    catalog = catalog_with(
        here,
        {"care/ok.en.j2": source, "_parts/sign.en.j2": "{% macro sign() %}--{% endmacro %}"},
        default_locale="en",
    )
    assert catalog.problems("care/ok", "email", list(FEATURES)) == []


def test_paths_outside_the_working_directory_stay_absolute(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    (root / "care").mkdir(parents=True)
    (root / "care" / "x.en.j2").write_text(
        "{% block body %}{{ y }}{% endblock %}", encoding="utf-8"
    )
    catalog = TemplateCatalog([root], "en", "CNY")
    problems = catalog.problems("care/x", "sms", [])
    assert problems == [f"{root / 'care' / 'x.en.j2'}:1: unknown variable 'y'"]
