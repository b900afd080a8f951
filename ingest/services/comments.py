"""What the warehouse keeps of a free-text comment besides its redacted text: its length, its
language and its topics. Free text is personal data: it never reaches `raw` or the marts; these
derived fields do, and the redacted text goes to `restricted` only.

Topics come from the keyword list below (Chinese and English). A comment has every topic one of
whose keywords it contains: Chinese keywords match as substrings, English ones as whole words,
ignoring case. Change the list here (and in the README's table) to change the categories; loads
after the change use the new list, loads before keep the topics they were given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.redaction import TOKENS

TOPIC_KEYWORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # topic: (Chinese keywords, English keywords)
    "space": (
        ("座位", "占座", "自习室", "研讨室", "研修室", "空间", "预约", "预定", "桌子", "插座"),
        ("seat", "seats", "study room", "room", "rooms", "booking", "reservation", "desk", "space", "socket"),
    ),
    "collection": (
        ("图书", "藏书", "馆藏", "书籍", "借书", "还书", "续借", "期刊", "新书", "教材"),
        ("book", "books", "collection", "journal", "journals", "borrow", "loan", "loans", "textbook"),
    ),
    "e_resources": (
        ("数据库", "电子资源", "知网", "万方", "电子书", "校外访问", "全文", "下载"),
        ("database", "databases", "e-book", "ebook", "e-resources", "cnki", "vpn", "off-campus", "download"),
    ),
    "it_network": (
        ("网络", "网速", "无线", "电脑", "打印", "复印", "扫描"),
        ("wifi", "wi-fi", "network", "internet", "computer", "computers", "printer", "printing", "scanner"),
    ),
    "environment": (
        ("安静", "噪音", "吵", "空调", "温度", "卫生", "灯光", "环境", "厕所", "饮水"),
        (
            "noise",
            "noisy",
            "quiet",
            "air conditioning",
            "temperature",
            "clean",
            "light",
            "toilet",
            "cold",
            "hot",
        ),
    ),
    "opening_hours": (
        ("开放时间", "开馆", "闭馆", "通宵", "周末开放"),
        ("opening hours", "open", "close", "closes", "closing", "24 hours", "weekend"),
    ),
    "staff_service": (
        ("馆员", "服务态度", "态度", "工作人员", "咨询", "热情", "耐心"),
        ("staff", "librarian", "librarians", "helpful", "rude", "friendly", "service"),
    ),
    "training": (
        ("培训", "讲座", "课程", "检索课", "新生教育"),
        ("training", "workshop", "workshops", "lecture", "course", "session"),
    ),
}

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_TOKEN = re.compile("|".join(re.escape(t) for t in TOKENS))
_ENGLISH = {
    topic: re.compile(
        r"(?<![A-Za-z])(?:"
        + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        + r")(?![A-Za-z])",
        re.IGNORECASE,
    )
    for topic, (_zh, words) in TOPIC_KEYWORDS.items()
}


@dataclass(frozen=True)
class CommentFeatures:
    length: int  # characters of the comment as written (spaces at the ends removed)
    language: str  # zh, en, mixed or other
    topics: str | None  # comma-separated, sorted; None when no keyword matched


def topics_of(text: str) -> list[str]:
    found: list[str] = []
    for topic, (chinese, _english) in TOPIC_KEYWORDS.items():
        if any(word in text for word in chinese) or _ENGLISH[topic].search(text):
            found.append(topic)
    return sorted(found)


def language_of(text: str) -> str:
    """zh or en when one script clearly dominates, mixed when both are used, other otherwise.
    A Chinese character weighs like an English word here: 图书馆 (3) against library (1)."""
    text = _TOKEN.sub(" ", text)
    cjk = len(_CJK.findall(text))
    words = len(_LATIN_WORD.findall(text))
    if cjk == 0 and words == 0:
        return "other"
    if words == 0 or cjk >= 3 * words:
        return "zh"
    if cjk == 0 or words >= 3 * cjk:
        return "en"
    return "mixed"


def features(text: str) -> CommentFeatures:
    text = text.strip()
    topics = topics_of(text)
    return CommentFeatures(len(text), language_of(text), ",".join(topics) or None)
