"""The synthetic university's organisation: colleges, majors, offices, and what each major reads.

Subject preferences are weights over the library's shelves (`subjects.SHELVES`); every reader also
spills over into general reading, so a software engineer still borrows a novel now and then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Major:
    code: str
    name: str
    name_en: str
    reads: dict[str, float]  # weights over shelf keys


@dataclass(frozen=True, slots=True)
class College:
    code: str
    name: str
    name_en: str
    size: float  # relative number of students
    majors: tuple[Major, ...]
    # Relative use of each e-resource platform, by host (see ezproxy.PLATFORM_HOSTS).
    platforms: Mapping[str, float] = field(default_factory=dict)


ENGINEERING_PLATFORMS = {
    "ieeexplore.ieee.org": 25,
    "www.sciencedirect.com": 15,
    "link.springer.com": 12,
    "kns.cnki.net": 22,
    "www.wanfangdata.com.cn": 5,
    "onlinelibrary.wiley.com": 5,
    "www.webofscience.com": 5,
    "www.nature.com": 2,
    "qikan.cqvip.com": 3,
}
HUMANITIES_PLATFORMS = {
    "kns.cnki.net": 42,
    "www.jstor.org": 12,
    "qikan.cqvip.com": 8,
    "www.wanfangdata.com.cn": 6,
    "www.tandfonline.com": 7,
    "link.springer.com": 4,
    "onlinelibrary.wiley.com": 2,
}

COLLEGES: tuple[College, ...] = (
    College(
        "CS",
        "计算机学院",
        "College of Computer Science",
        12,
        (
            Major("CS01", "软件工程", "Software Engineering", {"TP": 60, "O1": 12, "TN": 5, "F": 3}),
            Major(
                "CS02", "计算机科学与技术", "Computer Science and Technology", {"TP": 55, "O1": 18, "TN": 8}
            ),
            Major("CS03", "人工智能", "Artificial Intelligence", {"TP": 55, "O1": 25, "B": 4}),
            Major("CS04", "网络空间安全", "Cyberspace Security", {"TP": 60, "TN": 15, "O1": 8, "D": 4}),
        ),
        ENGINEERING_PLATFORMS,
    ),
    College(
        "EE",
        "电子信息学院",
        "College of Electronic Information",
        10,
        (
            Major(
                "EE01",
                "电子信息工程",
                "Electronic Information Engineering",
                {"TN": 50, "TP": 20, "O4": 8, "O1": 8},
            ),
            Major("EE02", "通信工程", "Communication Engineering", {"TN": 55, "TP": 20, "O1": 10}),
            Major("EE03", "自动化", "Automation", {"TP": 40, "TM": 25, "TH": 10, "O1": 8}),
        ),
        ENGINEERING_PLATFORMS,
    ),
    College(
        "ME",
        "机械工程学院",
        "College of Mechanical Engineering",
        9,
        (
            Major(
                "ME01",
                "机械设计制造及其自动化",
                "Mechanical Design, Manufacturing and Automation",
                {"TH": 50, "TP": 12, "O4": 8, "TM": 6},
            ),
            Major("ME02", "车辆工程", "Vehicle Engineering", {"U": 40, "TH": 30, "TM": 8}),
            Major("ME03", "土木工程", "Civil Engineering", {"TU": 60, "O4": 8, "TH": 6}),
        ),
        ENGINEERING_PLATFORMS,
    ),
    College(
        "SC",
        "理学院",
        "College of Science",
        9,
        (
            Major("SC01", "数学与应用数学", "Mathematics and Applied Mathematics", {"O1": 75, "TP": 6}),
            Major("SC02", "应用物理学", "Applied Physics", {"O4": 60, "O1": 20, "TN": 5}),
            Major("SC03", "统计学", "Statistics", {"O1": 50, "F": 15, "C": 10, "TP": 10}),
            Major("SC04", "化学", "Chemistry", {"O6": 65, "TQ": 15, "O4": 5, "X": 5}),
        ),
        {
            "www.sciencedirect.com": 18,
            "kns.cnki.net": 20,
            "onlinelibrary.wiley.com": 10,
            "link.springer.com": 12,
            "pubs.acs.org": 8,
            "www.nature.com": 7,
            "www.webofscience.com": 9,
            "www.wanfangdata.com.cn": 4,
            "ieeexplore.ieee.org": 3,
        },
    ),
    College(
        "EC",
        "经济管理学院",
        "School of Economics and Management",
        12,
        (
            Major("EC01", "经济学", "Economics", {"F": 65, "C": 8, "D": 5, "O1": 5}),
            Major("EC02", "金融学", "Finance", {"F": 70, "O1": 8, "D": 4}),
            Major("EC03", "工商管理", "Business Administration", {"F": 60, "C": 12, "G": 4}),
            Major("EC04", "会计学", "Accounting", {"F": 70, "D": 6}),
            Major(
                "EC05",
                "信息管理与信息系统",
                "Information Management and Information Systems",
                {"F": 35, "TP": 30, "G": 10},
            ),
        ),
        {
            "kns.cnki.net": 35,
            "www.sciencedirect.com": 10,
            "www.jstor.org": 7,
            "www.tandfonline.com": 8,
            "onlinelibrary.wiley.com": 7,
            "link.springer.com": 6,
            "www.wanfangdata.com.cn": 6,
            "qikan.cqvip.com": 4,
            "www.webofscience.com": 4,
        },
    ),
    College(
        "LW",
        "法学院",
        "Law School",
        5,
        (
            Major("LW01", "法学", "Law", {"D": 75, "C": 5, "K": 4}),
            Major("LW02", "知识产权", "Intellectual Property", {"D": 65, "F": 10, "G": 5}),
        ),
        {**HUMANITIES_PLATFORMS, "kns.cnki.net": 50, "www.jstor.org": 6},
    ),
    College(
        "LT",
        "文学院",
        "College of Liberal Arts",
        7,
        (
            Major("LT01", "汉语言文学", "Chinese Language and Literature", {"I": 60, "H": 20, "K": 6}),
            Major("LT02", "历史学", "History", {"K": 70, "I": 6, "C": 4}),
            Major("LT03", "哲学", "Philosophy", {"B": 70, "A": 8, "I": 5}),
        ),
        HUMANITIES_PLATFORMS,
    ),
    College(
        "FL",
        "外国语学院",
        "School of Foreign Languages",
        6,
        (
            Major("FL01", "英语", "English", {"H": 55, "I": 30}),
            Major("FL02", "日语", "Japanese", {"H": 55, "I": 25, "K": 5}),
            Major("FL03", "翻译", "Translation", {"H": 60, "I": 20, "G": 4}),
        ),
        {**HUMANITIES_PLATFORMS, "www.jstor.org": 14, "www.tandfonline.com": 12},
    ),
    College(
        "MD",
        "医学院",
        "School of Medicine",
        11,
        (
            Major("MD01", "临床医学", "Clinical Medicine", {"R": 80, "Q": 8}),
            Major("MD02", "护理学", "Nursing", {"R": 80, "C": 3}),
            Major("MD03", "药学", "Pharmacy", {"R": 55, "O6": 15, "TQ": 10, "Q": 8}),
            Major("MD04", "预防医学", "Preventive Medicine", {"R": 70, "X": 8, "O1": 6}),
        ),
        {
            "kns.cnki.net": 22,
            "www.wanfangdata.com.cn": 16,
            "www.sciencedirect.com": 15,
            "onlinelibrary.wiley.com": 10,
            "link.springer.com": 10,
            "www.nature.com": 8,
            "www.webofscience.com": 6,
            "qikan.cqvip.com": 4,
            "pubs.acs.org": 2,
        },
    ),
    College(
        "LS",
        "生命科学学院",
        "College of Life Sciences",
        5,
        (
            Major("LS01", "生物科学", "Biological Sciences", {"Q": 70, "R": 8, "O6": 6}),
            Major("LS02", "生物技术", "Biotechnology", {"Q": 60, "TQ": 10, "R": 8, "S": 5}),
            Major("LS03", "环境科学", "Environmental Science", {"X": 55, "Q": 15, "P": 10}),
        ),
        {
            "www.nature.com": 12,
            "www.sciencedirect.com": 16,
            "onlinelibrary.wiley.com": 10,
            "kns.cnki.net": 18,
            "link.springer.com": 10,
            "pubs.acs.org": 4,
            "www.webofscience.com": 8,
            "www.wanfangdata.com.cn": 4,
        },
    ),
    College(
        "AR",
        "艺术与传媒学院",
        "School of Arts and Media",
        6,
        (
            Major("AR01", "视觉传达设计", "Visual Communication Design", {"J": 70, "G": 8, "TU": 4}),
            Major("AR02", "新闻学", "Journalism", {"G": 55, "I": 12, "D": 6, "J": 6}),
            Major("AR03", "音乐学", "Musicology", {"J": 75, "I": 5, "K": 4}),
        ),
        {**HUMANITIES_PLATFORMS, "kns.cnki.net": 48, "www.tandfonline.com": 8},
    ),
)

# Administrative units: staff belong to one of these, or to a college.
OFFICES: tuple[tuple[str, str, str], ...] = (
    ("LIB", "图书馆", "Library"),
    ("OAA", "教务处", "Office of Academic Affairs"),
    ("OSA", "学生工作处", "Office of Student Affairs"),
    ("OGS", "研究生院", "Graduate School"),
    ("OIT", "信息化办公室", "Office of Information Technology"),
    ("OFN", "财务处", "Finance Office"),
    ("OLS", "后勤保障处", "Logistics Office"),
)

COLLEGE_BY_CODE = {college.code: college for college in COLLEGES}
MAJOR_BY_CODE = {major.code: major for college in COLLEGES for major in college.majors}
COLLEGE_OF_MAJOR = {major.code: college for college in COLLEGES for major in college.majors}
