"""The library's collection by subject: shelves of the Chinese Library Classification (CLC).

A shelf is a top-level CLC class (one letter), or a second-level class where majors differ
(TP computing, TN electronics and telecoms, O1 mathematics, O6 chemistry ...). Call numbers start
with the shelf's prefix, so `ingest` and dbt can recover the top-level class from the first letter.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Shelf:
    key: str  # CLC prefix of every call number on the shelf, e.g. "TP", "O1", "I"
    name: str  # what the class covers, in Chinese (for people reading the data)
    holdings: float  # share of the collection, in per cent
    branch: str  # home branch code of its items


# Holdings roughly as in a comprehensive Chinese university library; literature and industrial
# technology are the largest classes. CLC has no L, M, W or Y class.
SHELVES: tuple[Shelf, ...] = (
    Shelf("A", "马克思主义、列宁主义、毛泽东思想、邓小平理论", 1.0, "MAIN"),
    Shelf("B", "哲学、宗教", 4.0, "MAIN"),
    Shelf("C", "社会科学总论", 2.0, "MAIN"),
    Shelf("D", "政治、法律", 6.0, "MAIN"),
    Shelf("E", "军事", 0.5, "MAIN"),
    Shelf("F", "经济", 10.0, "MAIN"),
    Shelf("G", "文化、科学、教育、体育", 5.0, "MAIN"),
    Shelf("H", "语言、文字", 7.0, "MAIN"),
    Shelf("I", "文学", 14.0, "MAIN"),
    Shelf("J", "艺术", 3.0, "MAIN"),
    Shelf("K", "历史、地理", 7.0, "MAIN"),
    Shelf("N", "自然科学总论", 1.0, "SCI"),
    Shelf("O1", "数学", 4.0, "SCI"),
    Shelf("O4", "物理学", 2.0, "SCI"),
    Shelf("O6", "化学", 2.0, "SCI"),
    Shelf("P", "天文学、地球科学", 1.0, "SCI"),
    Shelf("Q", "生物科学", 3.0, "SCI"),
    Shelf("R", "医药、卫生", 6.0, "MED"),
    Shelf("S", "农业科学", 1.0, "SCI"),
    Shelf("TH", "机械、仪表工业", 2.0, "SCI"),
    Shelf("TM", "电工技术", 1.5, "SCI"),
    Shelf("TN", "无线电电子学、电信技术", 3.0, "SCI"),
    Shelf("TP", "自动化技术、计算机技术", 8.0, "SCI"),
    Shelf("TQ", "化学工业", 1.0, "SCI"),
    Shelf("TU", "建筑科学", 1.5, "SCI"),
    Shelf("U", "交通运输", 1.0, "SCI"),
    Shelf("V", "航空、航天", 0.5, "SCI"),
    Shelf("X", "环境科学、安全科学", 1.0, "SCI"),
    Shelf("Z", "综合性图书", 1.0, "MAIN"),
)
SHELF_KEYS: tuple[str, ...] = tuple(shelf.key for shelf in SHELVES)

# What anyone reads outside their subject: the spill-over every reader's preferences mix in.
GENERAL_READING: dict[str, float] = {
    "I": 30,
    "K": 12,
    "B": 10,
    "H": 10,
    "G": 8,
    "J": 6,
    "F": 6,
    "D": 4,
    "TP": 4,
    "C": 3,
    "R": 3,
    "Q": 2,
    "O1": 2,
}

BRANCH_NAMES = {"MAIN": "主馆", "SCI": "理工分馆", "MED": "医学分馆"}

# Shelving locations (Koha `location`), by branch and by the language of the book.
LOCATIONS = {
    ("MAIN", "zh"): "中文图书阅览室",
    ("MAIN", "en"): "外文图书阅览室",
    ("SCI", "zh"): "自然科学图书借阅区",
    ("SCI", "en"): "外文科技图书阅览室",
    ("MED", "zh"): "医学图书阅览室",
    ("MED", "en"): "外文医学图书阅览室",
}
BOUND_PERIODICALS = "过刊库"


def clc_class(call_number: str) -> str:
    """The top-level CLC class (one letter) of a call number."""
    return call_number[:1]
