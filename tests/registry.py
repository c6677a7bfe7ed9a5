"""Building registry content for tests, through the same services the product uses."""

from __future__ import annotations

from typing import Any

from core.actors import SYSTEM
from duty_lists.models import Agency, DutyList, Edition
from duty_lists.proposals import DutyContent, LegalBasisSpec, ParticipantSpec
from duty_lists.services import duty_list_create, edition_publish, revision_stage, structure_ensure


def make_list(code: str = "ms", *, reviewing: tuple[Agency, ...] = (), kind: str = "livelihood") -> DutyList:
    duty_list = duty_list_create(
        actor=SYSTEM, code=code, name=f"清单{code}", kind=kind, reviewing_agencies=reviewing
    )
    structure_ensure(
        duty_list=duty_list,
        category_code="01",
        category_name="城乡建设",
        classification_code="01-01",
        classification_name="城市管理",
    )
    structure_ensure(
        duty_list=duty_list,
        category_code="02",
        category_name="环境保护",
        classification_code="02-01",
        classification_name="噪音污染",
    )
    return duty_list


def content(
    title: str,
    lead: Agency,
    *,
    classification: str = "01-01",
    cooperating: tuple[Agency, ...] = (),
    **extra: Any,
) -> DutyContent:
    return DutyContent(
        classification=classification,
        title=title,
        description=extra.pop("description", f"{title}的处置"),
        participants=[ParticipantSpec(lead.code, "lead", f"负责{title}")]
        + [ParticipantSpec(a.code, "cooperating", "配合") for a in cooperating],
        legal_bases=[LegalBasisSpec("《城市市容和环境卫生管理条例》", "第十四条")],
        **extra,
    )


def stage(duty_list: DutyList, code: str, title: str, lead: Agency, **extra: Any) -> None:
    revision_stage(duty_list=duty_list, code=code, content=content(title, lead, **extra), source_ref="test")


def publish(duty_list: DutyList, note: str = "") -> Edition:
    return edition_publish(actor=SYSTEM, duty_list=duty_list, note=note)
