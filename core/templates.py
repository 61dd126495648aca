"""The template catalog: Jinja2 message templates by name and locale.

A template is a file ``<dir>/<area>/<name>.<locale>.j2`` (``templates/care/birthday.zh-CN.j2``);
rules refer to it as ``care/birthday``. The operator's ``template_paths`` are searched first,
then the folders plugins ship (``patron_template_dirs``); per locale, the first folder that
has the file wins, so an operator overrides a shipped template by adding a file of that name.
Files or folders whose name starts with ``_`` are partials for ``{% include %}`` and
``{% import %}``, not templates.

A template defines blocks, each rendered separately: ``subject`` (required by the channels
in :data:`SUBJECT_CHANNELS`), ``body`` (required) and ``html`` (optional, the only one
autoescaped). Rendering runs in an immutable sandbox with ``StrictUndefined``: a misspelt
name or field is an error, never an empty string. The context, filters and locale
fallback are described in ``docs/templates.md``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import jinja2
from jinja2 import FileSystemLoader, StrictUndefined, meta, nodes, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from core.errors import TemplateError
from core.suggest import did_you_mean
from core.vocabulary import FeatureType

if TYPE_CHECKING:
    from core.config import Settings
    from core.registry import Registry

SUFFIX = ".j2"
FIXED_NAMES = ("customer", "features", "rule", "as_of", "today", "currency")
CUSTOMER_FIELDS = (
    "external_id",
    "name",
    "email",
    "phone",
    "locale",
    "timezone",
    "birthday",
    "account_manager",
    "attributes",
)
RULE_FIELDS = ("id", "description", "category")
SUBJECT_CHANNELS = frozenset({"email", "file"})
SMS_MAX_CHARS = 500
CURRENCY_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£"}
CURRENCY_DIGITS = {
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    "CLP": 0,
    "ISK": 0,
    "BHD": 3,
    "KWD": 3,
    "JOD": 3,
    "OMR": 3,
}
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class RenderedMessage:
    """A template rendered for one customer; ``locale`` is the file's locale that was used."""

    subject: str
    body: str
    html: str | None
    locale: str


class Record(dict[str, Any]):
    """A dict that knows what it is (``customer``), so a missing field names it."""

    __slots__ = ("_label",)

    def __init__(self, label: str, values: Mapping[str, Any] | None = None) -> None:
        super().__init__(values or {})
        self._label = label


class _SampleAttributes(Record):
    """``customer.attributes`` in the check's sample: operators' own keys, any of them."""

    __slots__ = ()

    def __missing__(self, key: str) -> str:
        return "sample"


class _Undefined(StrictUndefined):
    """StrictUndefined whose message names the record and suggests a field."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        obj, name = self._undefined_obj, self._undefined_name
        if self._undefined_hint is None and isinstance(obj, Record) and isinstance(name, str):
            return f"{obj._label} has no field '{name}'{did_you_mean(name, [str(k) for k in obj])}"
        return str(super()._undefined_message)


# -- locales -------------------------------------------------------------------------------


def _key(locale: str) -> str:
    return locale.replace("_", "-").lower()


def locale_chain(locale: str | None, default_locale: str) -> list[str]:
    """Locales to try: exact, its language, the default, the default's language, ``en``.

    Matching ignores case and treats ``_`` as ``-`` (``zh_cn`` finds ``zh-CN``).
    """
    chain: list[str] = []
    for candidate in (
        locale,
        locale and re.split(r"[-_]", locale)[0],
        default_locale,
        re.split(r"[-_]", default_locale)[0],
        "en",
    ):
        if candidate and _key(candidate) not in {_key(c) for c in chain}:
            chain.append(candidate)
    return chain


# -- context -------------------------------------------------------------------------------


def context_names(feature_names: Collection[str]) -> set[str]:
    """Every top-level name a template may use: the fixed names plus the features."""
    return set(FIXED_NAMES) | set(feature_names)


def build_context(
    customer: Mapping[str, Any],
    features: Mapping[str, Any],
    rule: Mapping[str, Any],
    as_of: int,
    zone: ZoneInfo,
    currency: str,
) -> dict[str, Any]:
    """The variables of one message (see docs/templates.md).

    Features appear at top level and under ``features``; a feature named like a fixed
    name (``customer``, ``rule`` ...) is only reachable as ``features.<name>``.
    """
    local = dt.datetime.fromtimestamp(as_of, zone)
    fields = {name: customer.get(name) for name in CUSTOMER_FIELDS}
    fields["attributes"] = Record("customer.attributes", customer.get("attributes") or {})
    context: dict[str, Any] = {k: v for k, v in features.items() if k not in FIXED_NAMES}
    context.update(
        customer=Record("customer", fields),
        features=Record("features", features),
        rule=Record("rule", {name: rule.get(name, "") for name in RULE_FIELDS}),
        as_of=local,
        today=local.date(),
        currency=currency,
    )
    return context


def _sample_feature(name: str, kind: FeatureType | None, locale: str) -> Any:
    """A plausible value by type (and, for numbers, by what the name suggests)."""
    if kind is FeatureType.BOOLEAN or (kind is None and name.startswith(("has_", "is_"))):
        return True
    if kind is FeatureType.STRING:
        return locale if name == "locale" else "sample"
    if "score" in name:
        return 4
    if any(word in name for word in ("spend", "value", "amount")):
        return 123450
    if any(word in name for word in ("count", "complaints", "points")):
        return 2
    return 30


def sample_context(
    feature_types: Mapping[str, FeatureType],
    feature_names: Collection[str],
    locale: str,
    currency: str,
    zone: ZoneInfo,
) -> dict[str, Any]:
    """A context with every variable present, for the trial render of ``patron check``."""
    chinese = _key(locale).startswith("zh")
    customer = {
        "external_id": "C-10001",
        "name": "王小明" if chinese else "Alex Morgan",
        "email": "alex.morgan@example.com",
        "phone": "+8613800138000",
        "locale": locale,
        "timezone": zone.key,
        "birthday": dt.date(1990, 5, 17),
        "account_manager": "陈静" if chinese else "Jordan Lee",
    }
    names = set(feature_types) | set(feature_names)
    features = {n: _sample_feature(n, feature_types.get(n), locale) for n in sorted(names)}
    rule = {"id": "sample-rule", "description": "A sample rule.", "category": "care"}
    as_of = int(dt.datetime(2026, 5, 17, 9, 0, tzinfo=zone).timestamp())
    context = build_context(customer, features, rule, as_of, zone, currency)
    context["customer"]["attributes"] = _SampleAttributes("customer.attributes")
    return context


# -- filters -------------------------------------------------------------------------------


def format_money(minor_units: Any, currency: str) -> str:
    """``123450`` in CNY → ``¥1,234.50``; unknown codes are prefixed (``CHF 1,234.50``)."""
    if isinstance(minor_units, jinja2.Undefined):
        str(minor_units)  # StrictUndefined: raises the error that names the missing field
    if minor_units is None:
        return ""
    if isinstance(minor_units, bool) or not isinstance(minor_units, int | float | Decimal):
        raise jinja2.TemplateRuntimeError(
            f"money expects an amount in minor units, got {minor_units!r}"
        )
    code = currency.upper()
    digits = CURRENCY_DIGITS.get(code, 2)
    amount = Decimal(round(minor_units)).scaleb(-digits)
    text = f"{abs(amount):,.{digits}f}"
    sign = "-" if amount < 0 else ""
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{code} {text}"


def _zone_of(context: Context) -> dt.tzinfo:
    as_of = context.get("as_of")
    if isinstance(as_of, dt.datetime) and as_of.tzinfo is not None:
        return as_of.tzinfo
    return dt.UTC


@pass_context
def _date_filter(context: Context, value: Any, fmt: str = "%Y-%m-%d") -> str:
    """Format a date, a datetime, an ISO string or epoch seconds (in the customer's zone)."""
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined: raises the error that names the missing field
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = dt.datetime.fromtimestamp(value, _zone_of(context))
    elif isinstance(value, str):
        try:
            value = (
                dt.datetime.fromisoformat(value)
                if "T" in value or " " in value
                else dt.date.fromisoformat(value)
            )
        except ValueError:
            raise jinja2.TemplateRuntimeError(f"date cannot read {value!r}") from None
    if not isinstance(value, dt.date):
        raise jinja2.TemplateRuntimeError(
            f"date expects a date, a datetime or epoch seconds, got {value!r}"
        )
    return value.strftime(fmt)


# -- error locations -----------------------------------------------------------------------


def display_path(path: str | Path) -> str:
    """``path`` relative to the working directory when it is below it."""
    try:
        return Path(os.path.abspath(path)).relative_to(Path.cwd()).as_posix()
    except (ValueError, OSError):
        return str(path)


def _where(file: str | Path | None, line: int | None) -> str:
    where = display_path(file) if file else "<template>"
    return f"{where}:{line}" if line else where


_NO_SUCH = re.compile(r"^No (filter|test) named '([^']+)'\.?$")


def _syntax_message(
    exc: jinja2.TemplateSyntaxError, path: str | Path, env: jinja2.Environment
) -> str:
    """``file:line: message``; an unknown filter or test gets a suggestion."""
    message = exc.message or "syntax error"
    if unknown := _NO_SUCH.match(message):
        kind, name = unknown.groups()
        known = env.filters if kind == "filter" else env.tests
        message = f"unknown {kind} '{name}'{did_you_mean(name, known)}"
    real_file = exc.filename and not exc.filename.startswith("<")  # "<introspection>" from meta
    return f"{_where(exc.filename if real_file else path, exc.lineno)}: {message}"


def _runtime_message(exc: Exception, path: Path, env: jinja2.Environment) -> str:
    """``file:line: message`` for an error raised while rendering."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return _syntax_message(exc, path, env)
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"{_where(path, None)}: included template '{exc.name}' not found"
    file: str | None = None
    line: int | None = None
    tb = exc.__traceback__
    while tb is not None:  # the innermost template frame is where it went wrong
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if isinstance(template, jinja2.Template) and template.filename:
            file, line = template.filename, template.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    if isinstance(exc, jinja2.TemplateError):
        message = exc.message or type(exc).__name__
    else:
        message = f"{type(exc).__name__}: {exc}"
    return f"{_where(file or path, line)}: {message}"


# -- the catalog ---------------------------------------------------------------------------


class TemplateCatalog:
    """Every template of the configured folders, by name and locale."""

    def __init__(
        self,
        dirs: Sequence[Path],
        default_locale: str,
        currency: str,
        *,
        timezone: str = "UTC",
        feature_types: Mapping[str, FeatureType] | None = None,
        subject_channels: Collection[str] = SUBJECT_CHANNELS,
    ) -> None:
        self.dirs = [Path(d) for d in dirs]
        self.default_locale = default_locale
        self.currency = currency
        self.zone = ZoneInfo(timezone)
        self.feature_types = dict(feature_types or {})
        self.subject_channels = frozenset(subject_channels)
        loader = FileSystemLoader([str(d) for d in self.dirs])
        self._text_env = self._environment(loader, autoescape=False)
        self._html_env = self._environment(loader, autoescape=True)
        self._index: dict[str, dict[str, tuple[str, Path]]] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, registry: Registry) -> TemplateCatalog:
        """The operator's folders, then the plugins'; e-mail-like channels need a subject."""
        email_like = {
            name for name, kind in registry.channels.items.items() if kind.consent_key == "email"
        }
        return cls(
            [*settings.template_dirs, *registry.template_dirs],
            settings.default_locale,
            settings.currency,
            timezone=settings.timezone,
            feature_types=registry.feature_types(),
            subject_channels=SUBJECT_CHANNELS | email_like,
        )

    def _environment(
        self, loader: FileSystemLoader, *, autoescape: bool
    ) -> ImmutableSandboxedEnvironment:
        env = ImmutableSandboxedEnvironment(
            loader=loader,
            undefined=_Undefined,
            autoescape=autoescape,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=True,
        )
        env.filters["money"] = self._money
        env.filters["date"] = _date_filter
        return env

    @pass_context
    def _money(self, context: Context, minor_units: Any, currency: str | None = None) -> str:
        return format_money(minor_units, currency or context.get("currency") or self.currency)

    # -- lookup ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Forget the file index (after templates were added or removed)."""
        self._index = None

    def freeze(self) -> None:
        """Stop checking template files for changes once loaded (no ``stat`` per render).

        For folders that do not change while this catalog lives: the daemon's private
        copy of the templates, or one delivery run.
        """
        self._text_env.auto_reload = False
        self._html_env.auto_reload = False

    def _scan(self) -> dict[str, dict[str, tuple[str, Path]]]:
        if self._index is not None:
            return self._index
        index: dict[str, dict[str, tuple[str, Path]]] = {}
        for directory in self.dirs:
            if not directory.is_dir():
                continue
            for path in sorted(directory.rglob(f"*{SUFFIX}")):
                relative = path.relative_to(directory).as_posix()[: -len(SUFFIX)]
                if "." not in relative.rsplit("/", 1)[-1] or any(
                    p.startswith("_") for p in relative.split("/")
                ):
                    continue
                name, locale = relative.rsplit(".", 1)
                if _LOCALE.match(locale):
                    index.setdefault(name, {}).setdefault(_key(locale), (locale, path))
        self._index = index
        return index

    def _files(self, name: str) -> dict[str, tuple[str, Path]]:
        files = self._scan().get(name)
        if not files:
            raise TemplateError(f"unknown template '{name}'{did_you_mean(name, self.names())}")
        return files

    def names(self) -> list[str]:
        return sorted(self._scan())

    def exists(self, name: str) -> bool:
        return name in self._scan()

    def locales(self, name: str) -> list[str]:
        return sorted(locale for locale, _ in self._scan().get(name, {}).values())

    def path(self, name: str, locale: str) -> Path:
        files = self._files(name)
        if _key(locale) not in files:
            raise TemplateError(
                f"template '{name}' has no '{locale}' file (found: {', '.join(self.locales(name))})"
            )
        return files[_key(locale)][1]

    def choose_locale(self, name: str, locale: str | None) -> str:
        """The file locale for a customer's locale: exact, language, default, ``en``."""
        files = self._files(name)
        chain = locale_chain(locale, self.default_locale)
        for candidate in chain:
            if _key(candidate) in files:
                return files[_key(candidate)][0]
        raise TemplateError(
            f"template '{name}' has no file for locale '{locale or self.default_locale}' "
            f"(tried {', '.join(chain)}; found: {', '.join(self.locales(name))})"
        )

    # -- rendering -----------------------------------------------------------------------

    def render(self, name: str, locale: str | None, context: Mapping[str, Any]) -> RenderedMessage:
        """Render for a customer whose locale is ``locale`` (None: the default locale).

        Raises TemplateError (``file:line: message``) for a missing template or locale,
        a syntax error, an undefined name or field, or any other rendering failure.
        """
        return self._render_file(name, self.choose_locale(name, locale), context)

    def _load(self, env: ImmutableSandboxedEnvironment, name: str, locale: str) -> jinja2.Template:
        path = self.path(name, locale)
        try:
            return env.get_template(f"{name}.{locale}{SUFFIX}")
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(_syntax_message(exc, path, env)) from None

    def _render_file(self, name: str, locale: str, context: Mapping[str, Any]) -> RenderedMessage:
        path = self.path(name, locale)
        template = self._load(self._text_env, name, locale)
        if "body" not in template.blocks:
            raise TemplateError(f"{_where(path, None)}: missing {{% block body %}}")
        try:
            text = _render_blocks(template, ("subject", "body"), context)
            html = None
            if "html" in template.blocks:
                html_template = self._load(self._html_env, name, locale)
                html = _render_blocks(html_template, ("html",), context)["html"] or None
        except TemplateError:
            raise
        except Exception as exc:
            raise TemplateError(_runtime_message(exc, path, self._text_env)) from exc
        # A subject is one header line: newlines would let a template inject headers.
        subject = " ".join(text["subject"].split())
        return RenderedMessage(subject=subject, body=text["body"], html=html, locale=locale)

    # -- checking ------------------------------------------------------------------------

    def problems(self, name: str, channel: str, known_variables: Collection[str] = ()) -> list[str]:
        """Every problem of template ``name`` for ``channel``, across all its locale files.

        ``known_variables`` are the feature names; the fixed names are added here. Each
        file is parsed, its blocks and names checked, then rendered once against a sample
        context in which every variable is present.
        """
        if not self.exists(name):
            return [f"unknown template '{name}'{did_you_mean(name, self.names())}"]
        found: list[str] = []
        for locale in self.locales(name):
            found.extend(self._file_problems(name, locale, channel, known_variables))
        if not any(key in self._files(name) for key in (_key(self.default_locale), "en")):
            found.append(
                f"template '{name}' has no '{self.default_locale}' (default locale) or 'en' file "
                f"(found: {', '.join(self.locales(name))}); "
                "customers in other locales cannot get it"
            )
        return found

    def _file_problems(
        self, name: str, locale: str, channel: str, known: Collection[str]
    ) -> list[str]:
        path = self.path(name, locale)
        where = _where(path, None)
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return [f"{where}: cannot read: {exc}"]
        try:
            ast = self._text_env.parse(source, name=f"{name}.{locale}{SUFFIX}", filename=str(path))
            undeclared = meta.find_undeclared_variables(ast)  # compiles: unknown filters fail here
        except jinja2.TemplateSyntaxError as exc:
            return [_syntax_message(exc, path, self._text_env)]
        found: list[str] = []
        for extends in ast.find_all(nodes.Extends):
            found.append(
                f"{_where(path, extends.lineno)}: {{% extends %}} is not supported; "
                "use {% include %} or {% import %}"
            )
        blocks = {block.name for block in ast.find_all(nodes.Block)}
        if "body" not in blocks:
            found.append(f"{where}: missing {{% block body %}}")
        if channel in self.subject_channels and "subject" not in blocks:
            found.append(
                f"{where}: missing {{% block subject %}} (channel '{channel}' needs a subject)"
            )
        allowed = context_names(known) | set(self._text_env.globals) | _assigned_names(ast)
        for variable in sorted(undeclared - allowed, key=lambda v: (_first_line(ast, v), v)):
            found.append(
                f"{_where(path, _first_line(ast, variable) or None)}: unknown variable '{variable}'"
                f"{did_you_mean(variable, sorted(allowed))}"
            )
        if found:
            return found  # the trial render would only repeat the first of these
        sample = sample_context(self.feature_types, known, locale, self.currency, self.zone)
        try:
            rendered = self._render_file(name, locale, sample)
        except TemplateError as exc:
            return [str(exc)]
        if channel == "sms" and len(rendered.body) > SMS_MAX_CHARS:
            found.append(
                f"{where}: the sample SMS body is {len(rendered.body)} characters; "
                f"keep it at most {SMS_MAX_CHARS}"
            )
        return found


def _render_blocks(
    template: jinja2.Template, blocks: Sequence[str], context: Mapping[str, Any]
) -> dict[str, str]:
    """Each named block, stripped ("" when absent).

    The whole template runs once first, so that top-level ``{% set %}``, ``{% import %}``
    and ``{% from %}`` are defined inside the blocks too.
    """
    ctx = template.new_context(dict(context))
    for _ in template.root_render_func(ctx):
        pass
    return {
        block: "".join(template.blocks[block](ctx)).strip() if block in template.blocks else ""
        for block in blocks
    }


def _assigned_names(ast: nodes.Template) -> set[str]:
    """Names the template defines itself (top-level sets are undeclared inside blocks)."""
    names = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    names |= {n.name for n in ast.find_all(nodes.Macro)}
    names |= {n.target for n in ast.find_all(nodes.Import)}
    for node in ast.find_all(nodes.FromImport):
        names |= {item if isinstance(item, str) else item[1] for item in node.names}
    return names


def _first_line(ast: nodes.Template, variable: str) -> int:
    lines = [n.lineno for n in ast.find_all(nodes.Name) if n.name == variable and n.ctx == "load"]
    return min(lines, default=0)


__all__ = [
    "CUSTOMER_FIELDS",
    "FIXED_NAMES",
    "RenderedMessage",
    "TemplateCatalog",
    "build_context",
    "context_names",
    "format_money",
    "locale_chain",
    "sample_context",
]
