"""Masking personal data in a citizen's text before anything of it is made public.

What a citizen or a call-taker writes into a grievance routinely carries the citizen's own name and phone
number, the neighbour's name, the flat ("3号楼2单元501室"), an identity-card number or a car plate. Public
output (Open311) shows only what a dispatcher has published, and the text it publishes starts from
:func:`redact`'s proposal, which the dispatcher reviews. So the rules here aim at catching what is there,
accepting that a masked digit too many is harmless while one name left in is not.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import cache

MASK = "*"

# Mainland mobile numbers, landlines with an area code, 18-digit identity-card numbers, e-mail addresses,
# car plates (province character, letter, five or six letters/digits).
_PERSONAL = (
    re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)"),
    re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"),
    re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)"),
    # ASCII only: \w would take the Chinese before the address along ("邮箱a@b.cn").
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),
    re.compile(
        r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z][A-Z0-9]{5,6}(?![A-Z0-9])"
    ),
)
# A house number: the digits before 号/号院/号楼/栋/单元/室 … ("1号院3号楼2单元501室"), but not a date
# ("5月3号"), a document number ("〔2019〕12号"), a metro line ("3号线") or a bus ("5号车").
_HOUSE_NUMBER = re.compile(
    r"(?<![月〕\]）)\d])(\d+[A-Za-z]?|[A-Za-z]\d*)(?=(?:号院|号楼|号(?![线车])|栋|幢|单元|室|户|弄|排|组))"
)
# Chinese numerals count too before the parts of a block of flats ("五栋二单元").
_HOUSE_NUMBER_CN = re.compile(r"([一二三四五六七八九十〇零两]{1,3})(?=(?:号院|号楼|栋|幢|单元))")
# The floor and flat after a block ("3栋2-501", "5号楼1单元302"): the run of digits and hyphens that follows.
_FLAT = re.compile(r"(?<=栋|幢|楼|元)(\d+(?:-\d+)*)(?![\d年月日号天次个元岁])")
# How a writer introduces a person by name: 我叫…, 本人…, 姓名：…, 联系人…, 业主…
_INTRODUCED = re.compile(
    r"(?:我叫|我是|本人|姓名[:：]?|联系人[:：]?|业主|投诉人[:：]?|反映人[:：]?)([\u4e00-\u9fff]{2,3})"
)

# The family names that cover the great majority of people (the hundred most common, and the common
# two-character ones). A name the tagger finds must start with one of them.
_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_DOUBLE_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "司徒", "东方", "皇甫", "令狐", "慕容", "尉迟", "长孙")
# A "name" followed by one of these is a place (北辰西路, 黄河大桥), not a person.
_PLACE_AFTER = set("路街道巷镇乡村区县市省州东西南北中大桥山湖河江港湾苑园庙塘冲坪厅府庭社站场馆楼厂校院店")
# Dictionary words the tagger marks as names although they are ordinary words (李娜 is both).
_COMMON_WORD_FREQUENCY = 50


def mask_name(name: str) -> str:
    """张伟 → 张*, 欧阳娜娜 → 欧阳**."""
    name = name.strip()
    if not name:
        return ""
    keep = 2 if name[:2] in _DOUBLE_SURNAMES and len(name) > 2 else 1
    return f"{name[:keep]}{MASK * max(len(name) - keep, 1)}"


def mask_phone(phone: str) -> str:
    digits = phone.strip()
    if len(digits) <= 4:
        return MASK * len(digits)
    keep_head = 3 if len(digits) >= 11 else 0
    return f"{digits[:keep_head]}{MASK * (len(digits) - keep_head - 4)}{digits[-4:]}"


def mask_email(email: str) -> str:
    if "@" not in email:
        return MASK * len(email)
    local, domain = email.split("@", 1)
    return f"{local[:1]}***@{domain}"


@cache
def _tagger() -> tuple[object, dict[str, int]]:
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba.posseg, jieba.dt.FREQ


def _looks_like_name(word: str, following: str) -> bool:
    if not 2 <= len(word) <= 4:
        return False
    double = word[:2] in _DOUBLE_SURNAMES
    if not (double or word[0] in _SURNAMES) or (not double and len(word) > 3):
        return False
    if following[:1] in _PLACE_AFTER:
        return False
    _, frequency = _tagger()
    return frequency.get(word, 0) < _COMMON_WORD_FREQUENCY


def _names(text: str) -> set[str]:
    """Personal names in the text: those introduced as names, and those the part-of-speech tagger marks as
    a person's name that start with a family name and are not common words or places."""
    found = {m.group(1) for m in _INTRODUCED.finditer(text) if m.group(1)[0] in _SURNAMES}
    posseg, _ = _tagger()
    tokens = [(token.word, token.flag) for token in posseg.cut(text)]  # type: ignore[attr-defined]
    end = 0
    for index, (word, flag) in enumerate(tokens):
        end += len(word)
        following = text[end:]
        if word in _DOUBLE_SURNAMES and index + 1 < len(tokens):
            # The tagger reads 欧阳 as a place and 娜娜 as the name: put them back together.
            given = tokens[index + 1][0]
            if 1 <= len(given) <= 2 and all("\u4e00" <= ch <= "\u9fff" for ch in given):
                word, following = word + given, following[len(given) :]
                flag = "nr"
        if flag in ("nr", "nrfg", "nrt") and _looks_like_name(word, following):
            found.add(word)
    return found


def _mask_group(pattern: re.Pattern[str], text: str) -> str:
    return pattern.sub(lambda m: MASK * len(m.group(1)), text)


def redact_address(address: str) -> str:
    """The street or place, without the house and flat numbers: 北辰西路1号院3号楼 → 北辰西路*号院*号楼."""
    for pattern in (_HOUSE_NUMBER, _HOUSE_NUMBER_CN, _FLAT):
        address = _mask_group(pattern, address)
    return address


def redact(text: str, *, known: Iterable[tuple[str, str]] = (), names: bool = True) -> str:
    """The text with personal data masked. ``known`` holds (value, masked) pairs the caller knows are
    personal — the citizen's own name, phone and e-mail — which are replaced wherever they occur. ``names``
    looks for other people's names too; it is off for text a person has already reviewed, where a name it
    guessed wrong (a shop called 王记) would be masked again against the reviewer's decision."""
    for value, masked in known:
        # A one-character value would mask every occurrence of that character in the text.
        if len(value.strip()) >= 2:
            text = text.replace(value.strip(), masked)
    for pattern in _PERSONAL:
        text = pattern.sub(lambda m: MASK * len(m.group(0)), text)
    for name in sorted(_names(text) if names else (), key=len, reverse=True):
        text = text.replace(name, mask_name(name))
    return redact_address(text)
