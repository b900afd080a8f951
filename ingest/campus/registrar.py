"""The registrar's student export (format `registrar-csv`): CSV (UTF-8 or GB18030, detected per
file) or XLSX, one student a row, with the Chinese headers of a typical 学籍 export by default.

Each column is found by the first of its header names present (COLUMN_ALIASES); `--columns` maps
our field names to the export's headers when they differ ({"person_id": "XH", ...}). Values are
translated (本科 -> bachelor, 在读 -> enrolled, 2023级 -> 2023, a programme length gives the expected
graduation year). Names, ID card numbers, phones, e-mail and addresses are never read into a row.
The export is a roster snapshot: it lands in raw.campus_people, dated by --snapshot-date or by a
date in the file name (registrar-2025-09-30.xlsx).
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ingest.campus.campus_json import snapshot_row
from ingest.campus.person import Bad, read_person
from ingest.circulation.koha import detect_encoding
from ingest.errors import InvalidOption
from ingest.model import ParseContext, ParsedItem, Rejected
from ingest.values import parse_date

# Our field -> header names seen in registrars' exports, first match wins.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "person_id": ("学号", "学工号", "工号", "人员编号", "person_id", "student_no"),
    "person_type": ("人员类别", "人员类型", "person_type"),
    "college_code": ("学院代码", "院系代码", "学院编号", "院系编号", "college_code"),
    "college_name": ("学院", "院系", "学院名称", "院系名称", "所在学院", "college", "college_name"),
    "major_code": ("专业代码", "专业编号", "major_code"),
    "major_name": ("专业", "专业名称", "major", "major_name"),
    "class": ("班级", "班级名称", "行政班", "班级代码", "class", "class_code"),
    "degree_level": ("学历层次", "培养层次", "学生类别", "层次", "degree_level"),
    "entry_year": ("年级", "入学年份", "入学年级", "入学日期", "入学时间", "entry_year"),
    "expected_graduation_year": (
        "预计毕业年份",
        "预计毕业时间",
        "预计毕业日期",
        "毕业年份",
        "expected_graduation_year",
    ),
    "programme_years": ("学制", "programme_years"),
    "enrollment_status": ("学籍状态", "在校状态", "学生状态", "状态", "enrollment_status"),
    "card_number": ("校园卡号", "一卡通号", "借书证号", "读者证号", "卡号", "card_number"),
    "login": ("统一身份认证账号", "登录名", "账号", "login"),
}
# Read past, never landed: listed so that the quarantine's raw text leaves them out too.
DIRECT_IDENTIFIER_HEADERS = (
    "姓名",
    "性别",
    "身份证号",
    "身份证件号",
    "证件号码",
    "手机号",
    "手机号码",
    "联系电话",
    "邮箱",
    "电子邮箱",
    "出生日期",
    "家庭住址",
    "通讯地址",
    "name",
    "email",
    "phone",
    "national_id",
)
DEGREES = {
    "本科": "bachelor",
    "本科生": "bachelor",
    "普通本科": "bachelor",
    "硕士": "master",
    "硕士研究生": "master",
    "学术型硕士": "master",
    "专业型硕士": "master",
    "专业学位硕士": "master",
    "博士": "doctoral",
    "博士研究生": "doctoral",
    "bachelor": "bachelor",
    "master": "master",
    "doctoral": "doctoral",
}
STATUSES = {
    "在读": "enrolled",
    "在校": "enrolled",
    "在籍": "enrolled",
    "注册": "enrolled",
    "正常": "enrolled",
    "休学": "suspended",
    "保留学籍": "suspended",
    "暂缓注册": "suspended",
    "停学": "suspended",
    "毕业": "graduated",
    "已毕业": "graduated",
    "结业": "graduated",
    "退学": "withdrawn",
    "肄业": "withdrawn",
    "开除": "withdrawn",
    "注销": "withdrawn",
}
PERSON_TYPES = {
    "学生": "student",
    "本科生": "student",
    "研究生": "student",
    "教师": "faculty",
    "教工": "faculty",
    "教职工": "staff",
    "职工": "staff",
    "行政": "staff",
}
_DATE_IN_NAME = re.compile(r"(20\d\d)-?([01]\d)-?([0-3]\d)")


def snapshot_of(path: Path, ctx: ParseContext) -> date:
    given = ctx.options.get("snapshot_date")
    if given:
        return parse_date(str(given))
    match = _DATE_IN_NAME.search(path.name)
    if match:
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            pass
    raise InvalidOption(
        f"{path}: the export has no snapshot date: pass --snapshot-date YYYY-MM-DD or put the date in "
        "the file name (registrar-2025-09-30.csv)"
    )


def column_map(header: list[str], path: Path, ctx: ParseContext) -> dict[str, int]:
    """Our field -> column index, from --columns (a JSON object or file) or the aliases."""
    given = ctx.options.get("columns")
    overrides: Mapping[str, str] = {}
    if given:
        text = str(given)
        if not text.lstrip().startswith("{"):
            text = Path(text).read_text(encoding="utf-8")
        try:
            overrides = json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidOption(f"--columns: not a JSON object ({err.msg})") from None
        unknown = sorted(set(overrides) - set(COLUMN_ALIASES))
        if unknown:
            raise InvalidOption(
                f"--columns: unknown field(s) {', '.join(unknown)}; known: {', '.join(COLUMN_ALIASES)}"
            )
    position = {name.strip(): i for i, name in enumerate(header) if name is not None}
    found: dict[str, int] = {}
    for name, aliases in COLUMN_ALIASES.items():
        candidates = (overrides[name],) if name in overrides else aliases
        for candidate in candidates:
            if candidate in position:
                found[name] = position[candidate]
                break
        else:
            if name in overrides:
                raise InvalidOption(
                    f"{path}: --columns names {overrides[name]!r} for {name}, "
                    "but the header has no such column"
                )
    if "person_id" not in found:
        raise ValueError(
            f"{path}: line 1: no student number column "
            f"(looked for {', '.join(COLUMN_ALIASES['person_id'])}); "
            'map it with --columns \'{"person_id": "<header>"}\''
        )
    return found


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    text = str(value).strip()
    return text or None


def _year(value: str | None, field: str) -> int | None:
    if value is None:
        return None
    match = re.match(r"^\s*(\d{4})", value)
    if not match:
        raise Bad(field, f"expected a year like 2023 (or 2023级, 2023-09-01), found {value!r}")
    return int(match[1])


def _translated(value: str | None, table: Mapping[str, str], field: str) -> str | None:
    if value is None:
        return None
    found = table.get(value) or table.get(value.lower())
    if found is None:
        raise Bad(field, f"unknown value {value!r}; known: {', '.join(sorted(set(table)))}")
    return found


def _record(fields: dict[str, str | None]) -> dict[str, Any]:
    """The row as a campus API person (see ingest.campus.person)."""
    entry = _year(fields.get("entry_year"), "entry_year")
    graduation = _year(fields.get("expected_graduation_year"), "expected_graduation_year")
    length = fields.get("programme_years")
    if graduation is None and entry is not None and length:
        match = re.match(r"^\s*(\d+(?:\.\d+)?)", length)
        if not match:
            raise Bad("programme_years", f"expected a number of years like 4 or 4年, found {length!r}")
        graduation = entry + round(float(match[1]))
    record: dict[str, Any] = {
        "person_id": fields.get("person_id"),
        "person_type": _translated(fields.get("person_type"), PERSON_TYPES, "person_type") or "student",
        "class": fields.get("class"),
        "degree_level": _translated(fields.get("degree_level"), DEGREES, "degree_level"),
        "entry_year": entry,
        "expected_graduation_year": graduation,
        "enrollment_status": _translated(fields.get("enrollment_status"), STATUSES, "enrollment_status"),
        "library": {"card_number": fields.get("card_number"), "login": fields.get("login")},
    }
    if fields.get("college_code"):
        record["college"] = {"code": fields["college_code"], "name": fields.get("college_name")}
    if fields.get("major_code"):
        record["major"] = {"code": fields["major_code"], "name": fields.get("major_name")}
    return record


def _rows_csv(path: Path, ctx: ParseContext) -> Iterator[tuple[int, list[str] | Rejected]]:
    encoding = detect_encoding(path, str(ctx.options.get("encoding") or "auto"))
    read_as = "utf-8" if encoding == "utf-8-sig" else encoding
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            raw = raw.rstrip(b"\r\n")
            if number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                line = raw.decode(read_as)
            except UnicodeDecodeError as err:
                if number == 1:
                    raise ValueError(f"{path}: line 1: the header is not valid {encoding}") from None
                yield (
                    number,
                    Rejected(number, "(encoding)", f"not valid {encoding} at byte {err.start + 1}", ""),
                )
                continue
            if not line.strip():
                continue
            try:
                yield number, next(csv.reader([line], strict=True))
            except csv.Error as err:
                yield number, Rejected(number, "(line)", f"malformed CSV: {err} (a stray quote?)", "")


def _rows_xlsx(path: Path, ctx: ParseContext) -> Iterator[tuple[int, list[str] | Rejected]]:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - openpyxl is a dependency
        raise InvalidOption("reading XLSX needs openpyxl: pip install openpyxl") from None
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet_name = ctx.options.get("sheet")
        if sheet_name and sheet_name not in workbook.sheetnames:
            raise InvalidOption(
                f"{path}: no sheet {sheet_name!r}; its sheets: {', '.join(workbook.sheetnames)}"
            )
        sheet = workbook[sheet_name] if sheet_name else workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell(v) or "" for v in values]
            if any(cells):
                yield number, cells
    finally:
        workbook.close()


def parse_registrar(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    snapshot = snapshot_of(path, ctx)
    rows = _rows_xlsx(path, ctx) if path.suffix.lower() in (".xlsx", ".xlsm") else _rows_csv(path, ctx)
    columns: dict[str, int] | None = None
    width = 0
    for number, row in rows:
        if isinstance(row, Rejected):
            yield row
            continue
        if columns is None:
            columns = column_map(row, path, ctx)
            width = len(row)
            continue
        if len(row) > width and any(v.strip() for v in row[width:]):
            yield Rejected(
                number, "(line)", f"expected {width} fields as in the header, found {len(row)}", ""
            )
            continue
        fields = {name: _cell(row[i]) if i < len(row) else None for name, i in columns.items()}
        try:
            person = read_person(_record(fields), ctx)
        except Bad as bad:
            yield Rejected(number, bad.field, str(bad), _minimised(fields, ctx))
            continue
        if person.college_code is None and fields.get("college_name"):
            person = replace(person, college_name=fields["college_name"])
        if person.major_code is None and fields.get("major_name"):
            person = replace(person, major_name=fields["major_name"])
        yield number, snapshot_row(snapshot, person)


def _minimised(fields: Mapping[str, str | None], ctx: ParseContext) -> str:
    kept: dict[str, Any] = {"person_key": ctx.pseudonymiser.pseudonym("person", fields.get("person_id"))}
    kept.update({k: v for k, v in fields.items() if k not in ("person_id", "card_number", "login")})
    return json.dumps(kept, ensure_ascii=False)[:2000]
