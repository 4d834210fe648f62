"""`Settings`: the gate's section and each feature's, read from the environment once, at the
edge, and each section passed from there to what reads it.

| section    | class              | module                 | read by                             |
|------------|--------------------|------------------------|-------------------------------------|
| `gate`     | `GateSettings`     | `settings.py`          | the request path, stores, wiring    |
| `billing`  | `BillingSettings`  | `billing/settings.py`  | Stripe's gateway, webhook, Checkout |
| `meter`    | `MeterSettings`    | `meter/settings.py`    | the meter push                      |
| `alerts`   | `AlertSettings`    | `alerts/settings.py`   | the alert delivery                  |
| `observe`  | `ObserveSettings`  | `observe/settings.py`  | logs, metrics, the cost measurement |
| `schedule` | `ScheduleSettings` | `schedule/settings.py` | the scheduled runs                  |

`Settings(...)` takes every section's names as flat keywords, and the environment under the
same names, as the one class before the sections did (`Settings(tiers=..., log_level=...)`).
Every field is validated in one pass, so one error names everything that is wrong under the
title `Settings`. The cost report's prices are not here: the report is not deployed, and
`tiergate costs` reads its own (`tiergate_tools.costs.settings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import AliasChoices
from pydantic_settings import SettingsConfigDict

from .alerts.settings import AlertSettings
from .billing.settings import BillingSettings
from .meter.settings import MeterSettings
from .observe.settings import ObserveSettings
from .schedule.settings import ScheduleSettings
from .settings import GateSettings, Section

__all__ = ["FIELDS", "PRODUCTION_MEASURE_SAMPLE", "SECTIONS", "Settings", "owners"]

PRODUCTION_MEASURE_SAMPLE = 10  # TIERGATE_MEASURE_SAMPLE's default in production

SECTIONS: dict[str, type[Section]] = {
    "gate": GateSettings,
    "billing": BillingSettings,
    "meter": MeterSettings,
    "alerts": AlertSettings,
    "observe": ObserveSettings,
    "schedule": ScheduleSettings,
}


# Every section's fields and checks in one model, the gate's first (bases are collected last
# first): the environment is read once, and a ValidationError lists every wrong field, titled
# as before. Only `Settings` uses it; what reads settings is given a section.
class _Everything(
    ScheduleSettings, ObserveSettings, AlertSettings, MeterSettings, BillingSettings, GateSettings
):
    model_config = SettingsConfigDict(title="Settings", defer_build=False)


def owners(sections: Mapping[str, type[Section]]) -> dict[str, str]:
    """Each field's section. A name two sections define (a field, or a check or method, which
    in `_Everything` would silently replace the other's) stops the import: one owner each."""
    owner: dict[str, str] = {}
    for name, section in sections.items():
        defined = sorted(k for k in vars(section) if not k.startswith("__") and k not in _SHARED)
        own = [*section.model_fields, *defined]
        for attribute in own:
            if attribute in owner:
                raise TypeError(f"settings {attribute!r} is in both {owner[attribute]} and {name}")
            owner[attribute] = name
    return {field: owner[field] for section in sections.values() for field in section.model_fields}


_SHARED = {"model_config", "_abc_impl"}  # every class has its own; none is a section's


FIELDS: dict[str, str] = owners(SECTIONS)  # field name -> the name of the section that owns it


def _keywords() -> frozenset[str]:
    """Every name Settings takes as a keyword: each field's, and its aliases (env_name's)."""
    names = set(FIELDS)
    for section in SECTIONS.values():
        for field in section.model_fields.values():
            alias = field.validation_alias
            choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
            names.update(choice for choice in choices if isinstance(choice, str))
    return frozenset(names)


_KEYWORDS = _keywords()


@dataclass(frozen=True, slots=True, init=False)
class Settings:
    """Every section, from the environment and keyword arguments (`Settings(table=...)`)."""

    gate: GateSettings
    billing: BillingSettings
    meter: MeterSettings
    alerts: AlertSettings
    observe: ObserveSettings
    schedule: ScheduleSettings

    def __init__(self, **values: Any) -> None:
        # A keyword no section knows is a typo (`Settings(prefx=...)`): refused, where the
        # environment's unknown TIERGATE_ names are left alone. pydantic-settings' own
        # options (`_env_file`) start with an underscore.
        unknown = sorted(k for k in values if k not in _KEYWORDS and not k.startswith("_"))
        if "prices" in unknown:
            raise TypeError(
                "TIERGATE_PRICES is the cost report's, not the deployment's: `tiergate costs`"
                " reads it (tiergate_tools.costs.settings), Settings() does not"
            )
        if unknown:
            raise TypeError(f"Settings() has no setting named {', '.join(unknown)}")
        everything = _Everything(**values)
        given = everything.model_fields_set
        if everything.env == "production" and "measure_sample" not in given:
            # Measuring every request costs about 6 % of its CPU; 1 in N (counts scaled by N,
            # observe/costmeter.py) is what a deployment's traffic affords. Elsewhere, every
            # request: a developer's few are all worth measuring.
            everything.measure_sample = PRODUCTION_MEASURE_SAMPLE
        for name, section in SECTIONS.items():
            fields = section.model_fields
            part = section.model_construct(
                given & fields.keys(), **{f: getattr(everything, f) for f in fields}
            )
            object.__setattr__(self, name, part)

    def __getattr__(self, name: str) -> Any:
        """A field read flat (`settings.prefix`), as on the one class before the sections: an
        app's code, and the benchmarks, read settings so. tiergate's own code reads its
        section (`settings.gate.prefix`)."""
        section = FIELDS.get(name)
        if section is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(getattr(self, section), name)

    def replace(self, **values: Any) -> Settings:
        """A copy with these fields changed, taken as they are (as pydantic's
        `model_copy(update=...)`): for values known to be valid, such as a command's defaults."""
        unknown = sorted(values.keys() - FIELDS.keys())
        if unknown:
            raise TypeError(f"no such setting: {', '.join(unknown)}")
        copy = object.__new__(Settings)
        for name in SECTIONS:
            update = {k: v for k, v in values.items() if FIELDS[k] == name}
            part = getattr(self, name)
            object.__setattr__(copy, name, part.model_copy(update=update) if update else part)
        return copy
