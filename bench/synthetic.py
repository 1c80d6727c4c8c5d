"""A synthetic university archive at any scale, as a stream of ``NewObject`` for ingest.

``SyntheticArchive(scale=1.0)`` is the size of the real archive Lantai is built for:

- 315,000 files (案卷) and items (件), of which 125,000 teaching records (教学, JX), in the 13
  record categories of ``ontology/vocabularies.ttl``, dated 1896–2025 (the archive grows
  roughly exponentially; few records from the war years 1937–1945);
- 355,800 page images (``image/jpeg`` with width, height and SHA-256 digest), 37,300
  born-digital documents (``application/pdf``) and 1,394 audio/video recordings
  (``audio/ogg`` or ``video/mp4`` with an ISO 8601 duration such as ``PT1H2M``), each an
  instantiation of the file or item it digitises;
- the agents and places records link to (creator, subject, place): 12,000 persons, 420
  corporate bodies (the university under its successive names, offices, departments,
  teaching sections, institutes) and 300 places (cities, campuses, buildings).

Counts are exact roundings of ``scale × the figure above`` (see :class:`Counts`); agent
and place counts have small minimums so that tiny scales still link to something.

Everything is drawn from one seeded ``random.Random``: the same ``(scale, seed)`` gives the
same objects in the same order. Titles are realistic Chinese archival titles built from
word lists (责任者 + 关于 + 事由 + 文种), each with an English translation. The tree is::

    /people/…  /organisations/…  /places/…          (folders of agents and places)
    /xjtu                                           fonds 0421
    /xjtu/jx                                        series 0421-JX (one per category)
    /xjtu/jx/0421-jx-1957-y-0012                    a file (案卷)
    /xjtu/jx/0421-jx-1957-y-0012/0421-jx-1957-y-0012-003    an item in the file (卷内件)
    /xjtu/jx/0421-jx-2008-d30-0042                  an item kept singly (件, after 2000)
    …/p0001, …/pdf, …/av                            instantiations

Parents always come before their children; ``parent`` is a path. Reference codes follow
DA/T 13-2022 as ``repo/refcodes.py`` defines them; by default they are given explicitly (an
existing archive being migrated has them), with ``codes="generated"`` files and items carry
category, retention and a beginning date but no code, so the repository numbers them.
Most objects arrive ``published`` (a migration), most are open, some personal data
(transcripts, registration cards, payrolls), some embargoed, a few restricted.

:func:`export_descriptions` writes what the repository stored as descriptions (every
named graph but the management graph) to an N-Quads file: the baseline's input, so the raw
``bulk_load`` anchor loads exactly the same description triples.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
import random
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from repo.repository import NewObject

# --------------------------------------------------------------------------- the real archive
FULL = {
    "units": 315_000,  # files and items
    "teaching": 125_000,  # of which teaching records (JX)
    "pages": 355_800,  # page-image instantiations
    "documents": 37_300,  # born-digital documents (PDF)
    "av": 1_394,  # audio and video
    "persons": 12_000,
    "corporate_bodies": 420,
    "places": 300,
}
MINIMUM = {"persons": 12, "corporate_bodies": 10, "places": 6}

FONDS_CODE = "0421"
FONDS_SLUG = "xjtu"
FIRST_YEAR, LAST_YEAR = 1896, 2025
YEARS = list(range(FIRST_YEAR, LAST_YEAR + 1))

# The 13 record categories (门类) of ontology/vocabularies.ttl, in the order series are made.
CATEGORIES = ("DQ", "XZ", "XS", "JX", "KY", "JJ", "SB", "CP", "CB", "WS", "CK", "SX", "SW")
CATEGORY_LABELS = {
    "DQ": ("党群", "Party and mass organisations"), "XZ": ("行政", "Administration"),
    "XS": ("学生", "Students"), "JX": ("教学", "Teaching"), "KY": ("科研", "Research"),
    "JJ": ("基本建设", "Capital construction"), "SB": ("仪器设备", "Instruments and equipment"),
    "CP": ("产品生产", "Product manufacturing"), "CB": ("出版", "Publishing"),
    "WS": ("外事", "Foreign affairs"), "CK": ("财会", "Finance and accounting"),
    "SX": ("声像", "Audiovisual"), "SW": ("实物", "Objects"),
}
# Share of the non-teaching units (190,000 at scale 1) per category.
CATEGORY_WEIGHTS = {"DQ": 8, "XZ": 14, "XS": 30, "KY": 12, "JJ": 5, "SB": 5, "CP": 2, "CB": 3,
                    "WS": 4, "CK": 12, "SX": 3, "SW": 2}
PROJECT_CATEGORIES = frozenset({"KY", "JJ", "SB", "CP"})  # kept as files (project files)
RETENTIONS = ("Y", "D30", "D10")
RETENTION_WEIGHTS = (35, 40, 25)
ITEMS_PER_FILE = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15)
ITEMS_PER_FILE_WEIGHTS = (22, 14, 14, 12, 10, 8, 7, 6, 4, 3)
STATES = ("published", "pending", "private")
STATE_WEIGHTS = (93, 4, 3)


def _year_weight(y: int) -> float:
    w = math.exp((y - FIRST_YEAR) / 32)
    if 1937 <= y <= 1945:  # war years: the university moved; few records survive
        w *= 0.25
    return w


YEAR_CUMULATIVE = list(itertools.accumulate(_year_weight(y) for y in YEARS))

# --------------------------------------------------------------------------- word lists
SURNAMES = [
    ("王", "Wang"), ("李", "Li"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen"), ("杨", "Yang"),
    ("黄", "Huang"), ("赵", "Zhao"), ("吴", "Wu"), ("周", "Zhou"), ("徐", "Xu"), ("孙", "Sun"),
    ("马", "Ma"), ("朱", "Zhu"), ("胡", "Hu"), ("郭", "Guo"), ("何", "He"), ("高", "Gao"),
    ("林", "Lin"), ("罗", "Luo"), ("郑", "Zheng"), ("梁", "Liang"), ("谢", "Xie"), ("宋", "Song"),
    ("唐", "Tang"), ("韩", "Han"), ("冯", "Feng"), ("邓", "Deng"), ("曹", "Cao"), ("彭", "Peng"),
    ("曾", "Zeng"), ("肖", "Xiao"), ("田", "Tian"), ("董", "Dong"), ("袁", "Yuan"), ("潘", "Pan"),
    ("蒋", "Jiang"), ("蔡", "Cai"), ("杜", "Du"), ("叶", "Ye"), ("程", "Cheng"), ("苏", "Su"),
    ("魏", "Wei"), ("吕", "Lyu"), ("丁", "Ding"), ("任", "Ren"), ("沈", "Shen"), ("姚", "Yao"),
    ("卢", "Lu"), ("崔", "Cui"), ("钟", "Zhong"), ("谭", "Tan"), ("陆", "Lu"), ("汪", "Wang"),
    ("范", "Fan"), ("金", "Jin"), ("石", "Shi"), ("廖", "Liao"), ("贾", "Jia"), ("夏", "Xia"),
    ("方", "Fang"), ("白", "Bai"), ("邹", "Zou"), ("孟", "Meng"), ("熊", "Xiong"), ("秦", "Qin"),
    ("邱", "Qiu"), ("薛", "Xue"), ("雷", "Lei"), ("侯", "Hou"), ("龙", "Long"), ("陶", "Tao"),
    ("贺", "He"), ("顾", "Gu"), ("毛", "Mao"), ("龚", "Gong"), ("邵", "Shao"), ("钱", "Qian"),
    ("严", "Yan"), ("戴", "Dai"), ("孔", "Kong"), ("汤", "Tang"), ("彭", "Peng"), ("万", "Wan"),
]
GIVEN = [
    ("伟", "wei"), ("芳", "fang"), ("敏", "min"), ("静", "jing"), ("丽", "li"), ("强", "qiang"),
    ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"), ("杰", "jie"),
    ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀", "xiu"), ("霞", "xia"), ("平", "ping"),
    ("刚", "gang"), ("英", "ying"), ("华", "hua"), ("建", "jian"), ("国", "guo"), ("文", "wen"),
    ("志", "zhi"), ("新", "xin"), ("玉", "yu"), ("兰", "lan"), ("春", "chun"), ("海", "hai"),
    ("德", "de"), ("成", "cheng"), ("荣", "rong"), ("振", "zhen"), ("宏", "hong"), ("学", "xue"),
    ("仁", "ren"), ("忠", "zhong"), ("安", "an"), ("庆", "qing"), ("福", "fu"), ("光", "guang"),
    ("辉", "hui"), ("培", "pei"), ("元", "yuan"), ("亮", "liang"), ("浩", "hao"), ("宇", "yu"),
    ("鹏", "peng"), ("飞", "fei"), ("博", "bo"), ("思", "si"), ("远", "yuan"), ("晨", "chen"),
    ("欣", "xin"), ("怡", "yi"), ("婷", "ting"), ("雪", "xue"), ("梅", "mei"), ("松", "song"),
    ("毅", "yi"), ("钧", "jun"), ("铭", "ming"), ("瑞", "rui"), ("泽", "ze"), ("凯", "kai"),
    ("哲", "zhe"), ("卓", "zhuo"), ("慧", "hui"), ("蓉", "rong"), ("琳", "lin"), ("俊", "jun"),
]
CITIES = [
    ("上海", "Shanghai"), ("西安", "Xi'an"), ("北京", "Beijing"), ("南京", "Nanjing"),
    ("天津", "Tianjin"), ("重庆", "Chongqing"), ("成都", "Chengdu"), ("武汉", "Wuhan"),
    ("广州", "Guangzhou"), ("杭州", "Hangzhou"), ("苏州", "Suzhou"), ("兰州", "Lanzhou"),
    ("延安", "Yan'an"), ("宝鸡", "Baoji"), ("咸阳", "Xianyang"), ("洛阳", "Luoyang"),
    ("郑州", "Zhengzhou"), ("沈阳", "Shenyang"), ("哈尔滨", "Harbin"), ("长春", "Changchun"),
    ("大连", "Dalian"), ("青岛", "Qingdao"), ("济南", "Jinan"), ("合肥", "Hefei"),
    ("南昌", "Nanchang"), ("长沙", "Changsha"), ("福州", "Fuzhou"), ("厦门", "Xiamen"),
    ("昆明", "Kunming"), ("贵阳", "Guiyang"), ("南宁", "Nanning"), ("太原", "Taiyuan"),
    ("石家庄", "Shijiazhuang"), ("呼和浩特", "Hohhot"),
    ("乌鲁木齐", "Urumqi"), ("银川", "Yinchuan"),
    ("西宁", "Xining"), ("香港", "Hong Kong"), ("东京", "Tokyo"), ("莫斯科", "Moscow"),
    ("列宁格勒", "Leningrad"), ("伦敦", "London"), ("巴黎", "Paris"), ("柏林", "Berlin"),
    ("纽约", "New York"), ("波士顿", "Boston"), ("多伦多", "Toronto"), ("新加坡", "Singapore"),
]
CAMPUSES = [
    ("徐家汇校区", "Xujiahui campus"),
    ("兴庆校区", "Xingqing campus"), ("雁塔校区", "Yanta campus"),
    ("曲江校区", "Qujiang campus"), ("中国西部科技创新港", "China Western Innovation Harbour"),
]
BUILDINGS = [
    ("中心楼", "Central Building"), ("图书馆", "Library"), ("工程馆", "Engineering Hall"),
    ("体育馆", "Gymnasium"), ("主楼", "Main Building"), ("科学馆", "Science Hall"),
    ("宪梓堂", "Xianzi Hall"), ("钱学森图书馆", "Qian Xuesen Library"),
    ("思源活动中心", "Siyuan Activity Centre"), ("电力馆", "Electric Power Hall"),
    ("实验楼", "Laboratory Building"), ("学生食堂", "Student Canteen"),
]
NUMBERED_BUILDINGS = [("东{n}舍", "East Dormitory {n}"), ("西{n}舍", "West Dormitory {n}"),
                      ("教{n}楼", "Teaching Building {n}"),
                      ("实验{n}楼", "Laboratory Building {n}")]
DISCIPLINES = [
    ("机械工程", "Mechanical Engineering"), ("电气工程", "Electrical Engineering"),
    ("动力工程", "Power Engineering"), ("电子工程", "Electronic Engineering"),
    ("计算机科学与技术", "Computer Science and Technology"),
    ("材料科学与工程", "Materials Science and Engineering"), ("化学工程", "Chemical Engineering"),
    ("工程力学", "Engineering Mechanics"), ("数学", "Mathematics"), ("物理", "Physics"),
    ("化学", "Chemistry"), ("管理科学", "Management Science"), ("经济学", "Economics"),
    ("外国语言文学", "Foreign Languages and Literature"), ("马克思主义理论", "Marxist Theory"),
    ("医学", "Medicine"), ("药学", "Pharmacy"), ("自动控制", "Automatic Control"),
    ("信息与通信工程", "Information and Communication Engineering"),
    ("核工程", "Nuclear Engineering"), ("航空航天", "Aerospace Engineering"),
    ("建筑学", "Architecture"), ("土木工程", "Civil Engineering"),
    ("生物医学工程", "Biomedical Engineering"), ("环境工程", "Environmental Engineering"),
    ("法学", "Law"), ("新闻传播", "Journalism and Communication"), ("哲学", "Philosophy"),
    ("电力系统", "Power Systems"), ("涡轮机械", "Turbomachinery"), ("锅炉", "Boilers"),
    ("金属材料", "Metallic Materials"), ("精密仪器", "Precision Instruments"),
    ("工业设计", "Industrial Design"), ("软件工程", "Software Engineering"),
]
UNIT_TYPES = [("{d}系", "Department of {d}"), ("{d}学院", "School of {d}"),
              ("{d}教研室", "Teaching and Research Section of {d}"),
              ("{d}研究所", "Institute of {d}"), ("{d}实验室", "Laboratory of {d}")]
UNIVERSITIES = [  # (zh, en, begin, end): the university under its successive names
    ("南洋公学", "Nanyang Public School", "1896", "1905"),
    ("交通大学", "Chiao Tung University", "1921", "1959"),
    ("西安交通大学", "Xi'an Jiaotong University", "1959", None),
]
# (zh, en, categories whose records it creates)
OFFICES = [
    ("校长办公室", "President's Office", "XZ"),
    ("党委办公室", "Office of the Party Committee", "DQ"),
    ("教务处", "Office of Academic Affairs", "JX"), ("学生处", "Office of Student Affairs", "XS"),
    ("科学技术处", "Office of Science and Technology", "KY"),
    ("基建处", "Office of Capital Construction", "JJ"), ("设备处", "Office of Equipment", "SB"),
    ("校办工厂", "University Factory", "CP"), ("出版社", "University Press", "CB"),
    ("国际合作与交流处", "Office of International Cooperation", "WS"),
    ("财务处", "Office of Finance", "CK"), ("宣传部", "Publicity Department", "SX DQ"),
    ("档案馆", "University Archives", "SW SX"), ("人事处", "Office of Personnel", "XZ"),
    ("研究生院", "Graduate School", "JX XS"), ("招生办公室", "Admissions Office", "XS"),
    ("组织部", "Organisation Department", "DQ"),
    ("共青团委员会", "Youth League Committee", "DQ XS"),
    ("工会", "Trade Union", "DQ"), ("总务处", "Office of General Affairs", "XZ JJ"),
    ("图书馆", "University Library", "CB SW"), ("校友总会", "Alumni Association", "SW WS"),
    ("保卫处", "Security Office", "XZ"), ("审计处", "Audit Office", "CK"),
    ("实验室与设备管理处", "Office of Laboratories and Equipment", "SB"),
]
DEPARTMENT_CATEGORIES = ("JX", "XS", "KY", "SB")

POOLS: dict[str, list[tuple[str, str]]] = {
    "course": [
        ("高等数学", "Advanced Mathematics"), ("工程力学", "Engineering Mechanics"),
        ("电路原理", "Circuit Theory"), ("机械原理", "Theory of Machines"),
        ("材料力学", "Mechanics of Materials"), ("工程热力学", "Engineering Thermodynamics"),
        ("大学物理", "University Physics"), ("大学英语", "College English"),
        ("政治经济学", "Political Economy"), ("工程制图", "Engineering Drawing"),
        ("电机学", "Electric Machinery"), ("自动控制原理", "Principles of Automatic Control"),
        ("计算方法", "Numerical Methods"), ("普通化学", "General Chemistry"),
        ("理论力学", "Theoretical Mechanics"), ("流体力学", "Fluid Mechanics"),
        ("传热学", "Heat Transfer"), ("模拟电子技术", "Analog Electronics"),
        ("数字电子技术", "Digital Electronics"), ("程序设计基础", "Programming Fundamentals"),
        ("线性代数", "Linear Algebra"), ("概率论与数理统计", "Probability and Statistics"),
        ("金属工艺学", "Metal Technology"), ("俄语", "Russian"),
        ("中国近现代史纲要", "Modern Chinese History"),
    ],
    "major": DISCIPLINES,
    "topic": [
        ("大型汽轮机组振动", "vibration of large steam turbine sets"),
        ("高压电器绝缘", "high-voltage insulation"), ("电力系统稳定性", "power system stability"),
        ("多相流与传热", "multiphase flow and heat transfer"),
        ("金属材料强度", "strength of metallic materials"),
        ("精密机械设计", "precision machine design"), ("计算机辅助设计", "computer-aided design"),
        ("信息安全", "information security"), ("新能源发电", "renewable power generation"),
        ("生物医学信号处理", "biomedical signal processing"),
        ("智能制造", "intelligent manufacturing"),
        ("核反应堆热工水力", "nuclear reactor thermal hydraulics"),
        ("燃烧学", "combustion science"),
        ("超导电力技术", "superconducting power technology"), ("数控技术", "numerical control"),
        ("压缩机设计", "compressor design"), ("电弧物理", "arc physics"),
    ],
    "study": [
        ("党的基本路线", "the Party's basic line"), ("雷锋精神", "the spirit of Lei Feng"),
        ("西迁精神", "the Westward Relocation spirit"),
        ("社会主义核心价值观", "core socialist values"),
        ("党史", "Party history"), ("宪法", "the Constitution"),
    ],
    "building": BUILDINGS,
    "instrument": [
        ("电子显微镜", "an electron microscope"), ("示波器", "oscilloscopes"),
        ("X射线衍射仪", "an X-ray diffractometer"), ("数控机床", "a CNC machine tool"),
        ("低速风洞", "a low-speed wind tunnel"), ("万能材料试验机", "a universal testing machine"),
        ("高压试验变压器", "a high-voltage test transformer"),
        ("大型计算机", "a mainframe computer"),
        ("光谱仪", "a spectrometer"), ("核磁共振仪", "an NMR spectrometer"),
    ],
    "product": [
        ("小型汽轮机", "small steam turbines"), ("异步电动机", "induction motors"),
        ("电力变压器", "power transformers"), ("晶体管收音机", "transistor radios"),
        ("绝缘材料", "insulating materials"), ("机床夹具", "machine-tool fixtures"),
    ],
    "journal": [
        ("西安交通大学学报", "Journal of Xi'an Jiaotong University"),
        ("交大校刊", "Jiaotong University Bulletin"),
        ("高等工程教育研究", "Research in Higher Engineering Education"),
        ("西安交大报", "XJTU News"), ("交通大学季刊", "Chiao Tung University Quarterly"),
    ],
    "country": [
        ("苏联", "the Soviet Union"), ("美国", "the United States"), ("日本", "Japan"),
        ("英国", "the United Kingdom"), ("德国", "Germany"), ("法国", "France"),
        ("加拿大", "Canada"), ("澳大利亚", "Australia"), ("新加坡", "Singapore"),
        ("韩国", "Korea"), ("俄罗斯", "Russia"), ("意大利", "Italy"),
    ],
    "delegation": [
        ("大学代表团", "university delegation"), ("学者代表团", "delegation of scholars"),
        ("教育代表团", "education delegation"), ("企业代表团", "industry delegation"),
    ],
    "partner": [
        ("理工大学", "a university of technology"), ("国立大学", "a national university"),
        ("工学院", "an institute of technology"), ("医科大学", "a medical university"),
    ],
    "event": [
        ("建校六十周年庆典", "the 60th anniversary celebration"),
        ("建校九十周年庆典", "the 90th anniversary celebration"),
        ("建校一百二十周年庆典", "the 120th anniversary celebration"),
        ("交通大学西迁", "the westward relocation of Jiaotong University"),
        ("新生开学典礼", "the opening ceremony for new students"),
        ("毕业典礼", "the graduation ceremony"), ("校运动会", "the university sports meeting"),
        ("学术报告会", "an academic lecture"), ("抗击新冠肺炎疫情", "the fight against COVID-19"),
        ("校园文化节", "the campus culture festival"), ("院士报告会", "an academician's lecture"),
    ],
    "object": [
        ("毕业证书", "Graduation certificate"), ("课堂笔记", "Lecture notes"),
        ("计算尺", "Slide rule"), ("校徽", "University badge"), ("手稿", "Manuscript"),
        ("老照片", "Old photographs"),
    ],
    "term": [("一", "first"), ("二", "second")],
    "month": [(str(m), name) for m, name in enumerate(
        ("January", "February", "March", "April", "May", "June", "July", "August",
         "September", "October", "November", "December"), start=1)],
}

# (zh, en, flags): "p" = personal data (closed), "s" = about a person (subject link)
TITLES: dict[str, list[tuple[str, str, str]]] = {
    "JX": [
        ("{org}{year}—{year1}学年第{term}学期教学任务书",
         "Teaching assignments of {org_en}, {term_en} semester {year}–{year1}", ""),
        ("{course}课程教学大纲（{year}年修订）", "Syllabus of {course_en} (revised {year})", ""),
        ("{course}期末考试试卷及评分标准（{year}年）",
         "Final examination paper and marking scheme, {course_en} ({year})", ""),
        ("{org}{year}届本科毕业设计（论文）选题汇总表",
         "Graduation project topics of {org_en}, class of {year}", ""),
        ("{org}关于{year}年{major}专业教学计划修订的请示",
         "Request of {org_en} on revising the {major_en} curriculum, {year}", ""),
        ("{year}年{course}课程学生成绩登记表",
         "Student grade register for {course_en}, {year}", "p"),
        ("关于{year}年度教学质量检查情况的通报",
         "Report on the {year} teaching quality inspection", ""),
        ("{org}{year}年教学工作总结", "Teaching work summary of {org_en}, {year}", ""),
        ("{major}专业生产实习大纲及实习报告（{year}年）",
         "Internship syllabus and reports, {major_en} ({year})", ""),
        ("{course}实验指导书（{year}年）", "Laboratory manual for {course_en} ({year})", ""),
    ],
    "XS": [
        ("{year}级{major}专业学生学籍卡片",
         "Student registration cards, {major_en}, intake of {year}", "p"),
        ("{year}届毕业生名册", "Register of graduates, class of {year}", ""),
        ("{year}年本科新生录取名单", "List of undergraduates admitted in {year}", ""),
        ("{person}同学学习成绩单", "Academic transcript of {person_en}", "ps"),
        ("关于给予{person}等同学奖学金的决定",
         "Decision on awarding scholarships to {person_en} and others", "s"),
        ("{org}{year}年学生工作总结", "Student affairs summary of {org_en}, {year}", ""),
        ("{person}同学毕业登记表", "Graduation registration form of {person_en}", "ps"),
        ("关于{year}年学生暑期社会实践活动的通知",
         "Notice on student summer social practice, {year}", ""),
    ],
    "XZ": [
        ("校长办公会议纪要（{year}年第{n}次）",
         "Minutes of the President's Office meeting no. {n}, {year}", ""),
        ("{org}关于{year}年工作要点的通知", "Notice of {org_en} on the main tasks for {year}", ""),
        ("{univ}{year}年工作总结", "Annual report of {univ_en}, {year}", ""),
        ("关于{org}机构调整的决定", "Decision on the reorganisation of {org_en}", ""),
        ("{org}{year}年人员编制方案", "Staffing plan of {org_en}, {year}", ""),
        ("关于迁校工作的请示及批复（{year}年）",
         "Request and approval concerning the relocation of the university ({year})", ""),
        ("{year}年校务委员会会议记录", "Records of the University Affairs Committee, {year}", ""),
        ("关于{person}同志任职的通知", "Notice of the appointment of {person_en}", "s"),
    ],
    "DQ": [
        ("中共{univ}委员会关于{year}年党建工作的决定",
         "Decision of the Party Committee of {univ_en} on Party building, {year}", ""),
        ("{year}年党员发展工作总结", "Summary of Party membership recruitment, {year}", ""),
        ("共青团{univ}委员会{year}年工作计划",
         "Work plan of the Youth League Committee of {univ_en}, {year}", ""),
        ("{univ}工会第{n}次会员代表大会文件",
         "Documents of the Trade Union Congress no. {n} of {univ_en}", ""),
        ("{org}党总支{year}年工作总结",
         "Annual report of the Party branch of {org_en}, {year}", ""),
        ("关于开展{study}学习活动的通知", "Notice on study activities on {study_en}", ""),
    ],
    "KY": [
        ("{topic}研究课题申请书", "Research proposal on {topic_en}", ""),
        ("{topic}科研成果鉴定证书", "Appraisal certificate of research results on {topic_en}", ""),
        ("{org}{year}年度科研工作总结", "Research summary of {org_en}, {year}", ""),
        ("{year}年度国家自然科学基金项目申报材料", "NSFC grant applications, {year}", ""),
        ("关于{topic}项目结题验收的报告",
         "Report on the final acceptance of the project on {topic_en}", ""),
        ("{topic}学术会议论文集（{year}年）", "Conference proceedings on {topic_en} ({year})", ""),
    ],
    "JJ": [
        ("{building}新建工程施工图", "Construction drawings for the new {building_en}", ""),
        ("{building}竣工验收报告", "Completion acceptance report, {building_en}", ""),
        ("{building}工程设计任务书", "Design brief, {building_en}", ""),
        ("关于{building}维修改造的请示", "Request for the renovation of the {building_en}", ""),
        ("{year}年校园基本建设计划", "Campus construction plan, {year}", ""),
    ],
    "SB": [
        ("{instrument}购置合同及验收单",
         "Purchase contract and acceptance record for {instrument_en}", ""),
        ("{instrument}使用说明书", "Operating manual for {instrument_en}", ""),
        ("{org}{year}年仪器设备清查表", "Equipment inventory of {org_en}, {year}", ""),
        ("关于{instrument}报废处理的申请", "Application for the disposal of {instrument_en}", ""),
    ],
    "CP": [
        ("{product}试制报告", "Trial production report on {product_en}", ""),
        ("校办工厂{year}年生产计划", "Production plan of the university factory, {year}", ""),
        ("{product}产品图纸及工艺文件", "Drawings and process documents for {product_en}", ""),
        ("{product}质量检验记录（{year}年）",
         "Quality inspection records for {product_en} ({year})", ""),
    ],
    "CB": [
        ("《{journal}》{year}年第{n}期", "{journal_en}, {year}, no. {n}", ""),
        ("{univ}出版社{year}年出版计划", "Publishing plan of the {univ_en} Press, {year}", ""),
        ("《{journal}》编辑委员会会议纪要（{year}年）",
         "Minutes of the editorial board of {journal_en} ({year})", ""),
        ("《{course}》教材书稿及审稿意见",
         "Manuscript and reviews of the textbook {course_en}", ""),
    ],
    "WS": [
        ("关于接待{country}{delegation}来访的请示",
         "Request concerning the visit of a {delegation_en} from {country_en}", ""),
        ("与{country}{partner}签订校际合作协议的报告",
         "Report on the cooperation agreement with {partner_en} in {country_en}", ""),
        ("{year}年出国（境）人员审批表", "Approval forms for staff travelling abroad, {year}", "p"),
        ("{person}赴{country}访问考察报告",
         "Report of {person_en} on a study visit to {country_en}", "s"),
        ("{year}年外国留学生招生工作总结",
         "Summary of international student admissions, {year}", ""),
    ],
    "CK": [
        ("{year}年度财务决算报告", "Financial statements, {year}", ""),
        ("{year}年{month}月会计凭证", "Accounting vouchers, {month_en} {year}", ""),
        ("{year}年度经费预算", "Budget for {year}", ""),
        ("{org}{year}年经费使用情况报告", "Report on the expenditure of {org_en}, {year}", ""),
        ("{year}年教职工工资发放清册", "Staff payroll register, {year}", "p"),
    ],
    "SX": [
        ("{event}照片", "Photographs of {event_en}", ""),
        ("{event}录像", "Video recording of {event_en}", ""),
        ("{person}口述历史访谈录音", "Oral history interview with {person_en}", "s"),
        ("{year}年{event}纪录片", "Documentary on {event_en} ({year})", ""),
    ],
    "SW": [
        ("{event}纪念章", "Commemorative badge of {event_en}", ""),
        ("{org}获奖证书及奖杯", "Award certificate and trophy of {org_en}", ""),
        ("{person}校友捐赠的{object}", "{object_en} donated by the alumnus {person_en}", "s"),
        ("{event}纪念册", "Commemorative album of {event_en}", ""),
    ],
}
SCOPES = [
    ("本{level}收录{org}{year}年形成的有关{cat}工作的文件材料，共{n}件。",
     "Contains {n} documents on {cat_en} produced by {org_en} in {year}."),
    ("内容包括请示、批复、会议记录及相关附件。",
     "Includes requests, approvals, minutes of meetings and attachments."),
    ("原件部分页面破损，已作修裱处理。",
     "Some pages of the original are damaged and have been repaired."),
]

_KEY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_KEY_MASK = (1 << 50) - 1


def _key(n: int) -> str:
    """A 10-character key (like the repository's own), a bijection of the counter n."""
    x = (n * 0x9E3779B97F4A7 + 0x5DEECE66D) & _KEY_MASK
    return "".join(_KEY_ALPHABET[(x >> (5 * i)) & 31] for i in range(10))


def _split(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Largest-remainder apportionment: exact integer shares of ``total``."""
    s = sum(weights.values())
    raw = {k: total * w / s for k, w in weights.items()}
    out = {k: int(v) for k, v in raw.items()}
    short = total - sum(out.values())
    for k in sorted(raw, key=lambda k: (out[k] - raw[k], k))[:short]:
        out[k] += 1
    return out


@dataclass(frozen=True)
class Counts:
    """How many of each the archive has at a scale (all exact, see the module doc)."""

    scale: float
    units: int
    teaching: int
    pages: int
    documents: int
    av: int
    persons: int
    corporate_bodies: int
    places: int
    by_category: dict[str, int] = field(hash=False)
    containers: int = 3 + 1 + len(CATEGORIES)  # 3 folders, the fonds, 13 series

    @classmethod
    def at(cls, scale: float) -> Counts:
        if not 0 < scale <= 4:
            raise ValueError(f"scale {scale}: between 0 (excluded) and 4")
        n = {k: round(v * scale) for k, v in FULL.items()}
        for k, lo in MINIMUM.items():
            n[k] = max(n[k], lo)
        n["units"] = max(n["units"], len(CATEGORIES))
        by_cat = {"JX": n["teaching"], **_split(n["units"] - n["teaching"], CATEGORY_WEIGHTS)}
        return cls(scale=scale, by_category={c: by_cat[c] for c in CATEGORIES}, **n)

    @property
    def instantiations(self) -> int:
        return self.pages + self.documents + self.av

    @property
    def agents(self) -> int:
        return self.persons + self.corporate_bodies

    @property
    def objects(self) -> int:
        return self.containers + self.places + self.agents + self.units + self.instantiations


class _Fill(dict):
    """Placeholder values for one title, drawn on first use; ``x`` and ``x_en`` agree."""

    def __init__(self, rng: random.Random, **known) -> None:
        super().__init__(**known)
        self.rng = rng

    def __missing__(self, key: str) -> str:
        base = key.removesuffix("_en")
        if base == "n":
            self["n"] = str(self.rng.randint(1, 30))
            return self["n"]
        zh, en = self.rng.choice(POOLS[base])
        self[base], self[base + "_en"] = zh, en
        return self[key]


class SyntheticArchive:
    """The archive at ``scale``; iterate it for ``NewObject`` in ingest order."""

    def __init__(self, scale: float, *, seed: int = 20261125, codes: str = "explicit") -> None:
        if codes not in ("explicit", "generated"):
            raise ValueError("codes: 'explicit' or 'generated'")
        self.scale, self.seed, self.codes = scale, seed, codes
        self.counts = Counts.at(scale)
        self._plan()

    def __len__(self) -> int:
        return self.counts.objects

    # ------------------------------------------------------------------ planning
    def _plan(self) -> None:
        """Decide every unit's category, year, place in the tree and instantiations.

        Kept in compact arrays (~20 bytes a unit) so the plan does not weigh on the
        memory the benchmark measures; titles and the rest are drawn while iterating.
        """
        rng = random.Random(self.seed)
        self.u_cat, self.u_year, self.u_kind = array("B"), array("H"), array("B")
        self.u_ret, self.u_num, self.u_item, self.u_kids = (array("B"), array("H"),
                                                           array("H"), array("H"))
        self.u_unit = array("B")  # 0, or an organisation code index when numbers run out
        for ci, cat in enumerate(CATEGORIES):
            n = self.counts.by_category[cat]
            years = sorted(rng.choices(YEARS, cum_weights=YEAR_CUMULATIVE, k=n))
            counters: dict[tuple[int, int, int], int] = {}
            i = 0
            while i < n:
                y = years[i]
                ret = rng.choices(range(3), weights=RETENTION_WEIGHTS)[0]
                unit = 0
                while counters.get((y, ret, unit), 0) >= 9999:
                    unit += 1
                num = counters[(y, ret, unit)] = counters.get((y, ret, unit), 0) + 1
                as_file = y < 2000 or cat in PROJECT_CATEGORIES or rng.random() < 0.12
                kids = 0
                if as_file:
                    kids = min(rng.choices(ITEMS_PER_FILE, weights=ITEMS_PER_FILE_WEIGHTS)[0],
                               n - i - 1)
                for j in range(kids + 1):
                    self.u_cat.append(ci)
                    self.u_year.append(y)
                    self.u_kind.append(2 if not as_file else (0 if j == 0 else 1))
                    self.u_ret.append(ret)
                    self.u_num.append(num)
                    self.u_item.append(j)
                    self.u_kids.append(kids if j == 0 else 0)
                    self.u_unit.append(unit)
                i += kids + 1
        n_units = len(self.u_year)
        assert n_units == self.counts.units
        self.files = sum(1 for k in self.u_kind if k == 0)

        # Instantiations attach to items and to files described without items.
        hosts = [i for i in range(n_units) if self.u_kind[i] != 0 or self.u_kids[i] == 0]
        c = self.counts
        sx = CATEGORIES.index("SX")

        def pick(preferred: list[int], k: int, taken: set[int]) -> list[int]:
            pool = [i for i in preferred if i not in taken]
            if len(pool) < k:  # not enough of the preferred kind at this scale
                seen = taken | set(pool)
                pool += [i for i in hosts if i not in seen]
            return sorted(rng.sample(pool, min(k, len(pool))))

        av = pick([i for i in hosts if self.u_cat[i] == sx and self.u_year[i] >= 1950],
                  c.av, set())
        taken = set(av)
        pdf = pick([i for i in hosts if self.u_year[i] >= 2000], c.documents, taken)
        taken |= set(pdf)
        self.u_inst = array("B", bytes(n_units))  # 0 none, 1 pdf, 2 audio/video
        for i in av:
            self.u_inst[i] = 2
        for i in pdf:
            self.u_inst[i] = 1
        pool = [i for i in hosts if i not in taken]
        n_scanned = min(len(pool), c.pages, max(1, round(c.pages / 4.5)))
        scanned = sorted(rng.sample(pool, n_scanned)) if c.pages else []
        weights = [rng.lognormvariate(0, 0.9) for _ in scanned]
        extra = _split(c.pages - n_scanned, dict(enumerate(weights))) if scanned else {}
        self.u_pages = array("H", bytes(2 * n_units))
        for j, i in enumerate(scanned):
            self.u_pages[i] = 1 + extra[j]
        assert sum(self.u_pages) == c.pages and len(av) == c.av and len(pdf) == c.documents

    # ------------------------------------------------------------------ emitting
    def __iter__(self) -> Iterator[NewObject]:
        rng = random.Random(self.seed + 1)
        self._n = 0
        yield from self._folders()
        places = list(self._places(rng))
        self.place_paths = [o.parent + "/" + o.slug for o in places]
        yield from places
        bodies = list(self._corporate_bodies(rng))
        yield from bodies
        persons = self._persons(rng)
        yield from persons
        yield from self._records(rng)

    def _next_key(self) -> str:
        self._n += 1
        return _key(self.seed * 1_000_003 + self._n)

    def _folders(self) -> Iterator[NewObject]:
        for slug, zh, en in (("places", "地点", "Places"),
                             ("organisations", "机构", "Organisations"),
                             ("people", "人物", "People")):
            yield NewObject("/", "folder", {"title": {"zh": zh, "en": en}}, slug=slug,
                            key=self._next_key(), state="published")

    def _places(self, rng: random.Random) -> Iterator[NewObject]:
        names: list[tuple[str, str]] = list(CITIES)
        names += [(c[0] + b[0], f"{b[1]}, {c[1]}") for c in CAMPUSES for b in BUILDINGS]
        n = 0
        while len(names) < self.counts.places:
            n += 1
            for c in CAMPUSES[1:4]:
                for zh, en in NUMBERED_BUILDINGS:
                    names.append((c[0] + zh.format(n=n), f"{en.format(n=n)}, {c[1]}"))
        for i, (zh, en) in enumerate(names[: self.counts.places]):
            fields: dict = {"name": {"zh": zh, "en": en}}
            if i < len(CITIES) and rng.random() < 0.3:
                fields["note"] = {"zh": f"{zh}，与学校历史相关的城市。",
                                  "en": f"{en}, a city in the university's history."}
            yield NewObject("/places", "place", fields, slug=f"pl{i:04d}", key=self._next_key(),
                            state="published")

    def _corporate_bodies(self, rng: random.Random) -> Iterator[NewObject]:
        self.univ_paths: list[tuple[int, str, str, str]] = []  # (from year, path, zh, en)
        self.creators: dict[str, list[tuple[str, str, str]]] = {c: [] for c in CATEGORIES}
        specs: list[tuple[str, str, dict, str]] = []  # (zh, en, extra fields, categories)
        for zh, en, begin, end in UNIVERSITIES:
            specs.append((zh, en, {"begin": begin, **({"end": end} if end else {})}, "univ"))
        for zh, en, cats in OFFICES:
            specs.append((zh, en, {"begin": str(rng.randint(1921, 1990))}, cats))
        combos = [(t[0].format(d=d[0]), t[1].format(d=d[1])) for d in DISCIPLINES
                  for t in UNIT_TYPES]
        rng.shuffle(combos)
        period = 0
        while len(specs) < self.counts.corporate_bodies:
            for zh, en in combos:
                if len(specs) >= self.counts.corporate_bodies:
                    break
                begin = rng.randint(1921, 2015)
                extra = {"begin": str(begin)}
                if period:  # a second unit of the same name: an earlier incarnation
                    end = min(begin + rng.randint(5, 40), 2020)
                    zh, en = f"{zh}（{begin}—{end}）", f"{en} ({begin}–{end})"
                    extra["end"] = str(end)
                specs.append((zh, en, extra, " ".join(DEPARTMENT_CATEGORIES)))
            period += 1
        for i, (zh, en, extra, cats) in enumerate(specs[: self.counts.corporate_bodies]):
            path = f"/organisations/cb{i:04d}"
            fields: dict = {"name": {"zh": zh, "en": en}, **extra}
            if rng.random() < 0.4:
                fields["history"] = {"zh": f"{zh}成立于{extra['begin']}年。",
                                     "en": f"{en} was established in {extra['begin']}."}
            if rng.random() < 0.5:
                fields["place"] = [rng.choice(self.place_paths[:3])]
            if cats == "univ":
                self.univ_paths.append((int(extra["begin"]), path, zh, en))
            else:
                for cat in cats.split():
                    self.creators[cat].append((path, zh, en))
            yield NewObject("/organisations", "corporatebody", fields, slug=f"cb{i:04d}",
                            key=self._next_key(), state="published")
        for cat in CATEGORIES:  # too few bodies at tiny scales: the university creates
            if not self.creators[cat]:
                self.creators[cat] = [self.univ_paths[-1][1:]]

    def _university(self, year: int) -> tuple[str, str, str]:
        i = bisect.bisect_right([u[0] for u in self.univ_paths], year) - 1
        return self.univ_paths[max(i, 0)][1:]

    def _persons(self, rng: random.Random) -> Iterator[NewObject]:
        self.persons: list[tuple[str, str, str]] = []
        for i in range(self.counts.persons):
            (sz, se), g1 = rng.choice(SURNAMES), rng.choice(GIVEN)
            given = [g1] if rng.random() < 0.3 else [g1, rng.choice(GIVEN)]
            zh = sz + "".join(g[0] for g in given)
            en = f"{se} {''.join(g[1] for g in given).capitalize()}"
            path = f"/people/p{i:05d}"
            fields: dict = {"name": {"zh": zh, "en": en}}
            born = rng.randint(1880, 2005)
            if rng.random() < 0.6:
                fields["birthDate"] = f"{born}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}" \
                    if rng.random() < 0.5 else str(born)
            if born < 1940 and rng.random() < 0.7:
                fields["deathDate"] = str(min(born + rng.randint(50, 95), 2025))
            if rng.random() < 0.25:
                pz, pe = CITIES[rng.randrange(len(CITIES))]
                fields["history"] = {"zh": f"{zh}，{born}年生，{pz}人。",
                                     "en": f"{en}, born {born} in {pe}."}
            if rng.random() < 0.3:
                fields["place"] = [rng.choice(self.place_paths)]
            self.persons.append((path, zh, en))
            yield NewObject("/people", "person", fields, slug=f"p{i:05d}", key=self._next_key(),
                            state="published")

    def _records(self, rng: random.Random) -> Iterator[NewObject]:
        univ_path, univ_zh, univ_en = self._university(LAST_YEAR)
        fonds_path = "/" + FONDS_SLUG
        yield NewObject("/", "fonds", {
            "title": {"zh": f"{univ_zh}全宗", "en": f"{univ_en} fonds"},
            "refcode": FONDS_CODE, "begin": str(FIRST_YEAR), "end": str(LAST_YEAR),
            "provenance": [univ_path], "creator": [univ_path], "language": ["zh", "en"],
            "history": {"zh": "学校创建于1896年，1956年由上海迁至西安。",
                        "en": "Founded in 1896 in Shanghai; moved to Xi'an in 1956."},
            "scope": {"zh": "本全宗收录学校各门类档案。",
                      "en": "The records of the university in all record categories."},
        }, slug=FONDS_SLUG, key=self._next_key(), state="published")
        i, n_units = 0, len(self.u_year)
        file_path, file_state = "", "published"
        series_path = ""
        last_cat = -1
        while i < n_units:
            ci = self.u_cat[i]
            cat = CATEGORIES[ci]
            if ci != last_cat:
                last_cat = ci
                zh, en = CATEGORY_LABELS[cat]
                series_path = f"{fonds_path}/{cat.lower()}"
                yield NewObject(fonds_path, "series", {
                    "title": {"zh": f"{zh}类档案", "en": f"{en} records"},
                    "refcode": f"{FONDS_CODE}-{cat}", "category": cat,
                    "begin": str(self.u_year[i]),
                }, slug=cat.lower(), key=self._next_key(), state="published")
            kind = self.u_kind[i]
            parent = file_path if kind == 1 else series_path
            obj = self._unit(rng, i, parent, file_state if kind == 1 else None)
            yield obj
            path = f"{parent}/{obj.slug}"
            if kind == 0:
                file_path, file_state = path, obj.state
            yield from self._instantiations(rng, i, path, obj)
            i += 1

    def _refcode(self, i: int) -> str:
        cat = CATEGORIES[self.u_cat[i]]
        unit = self.u_unit[i]
        code = f"{FONDS_CODE}-{cat}·{self.u_year[i]}-{RETENTIONS[self.u_ret[i]]}"
        if unit:
            code += "-Z" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[unit - 1]
        code += f"-{self.u_num[i]:04d}"
        if self.u_kind[i] == 1:
            code += f"-{self.u_item[i]:03d}"
        return code

    def _unit(self, rng: random.Random, i: int, parent: str, file_state: str | None) -> NewObject:
        cat, year, kind = CATEGORIES[self.u_cat[i]], self.u_year[i], self.u_kind[i]
        code = self._refcode(i)
        creator_path, org_zh, org_en = rng.choice(self.creators[cat])
        _, uz, ue = self._university(year)
        fill = _Fill(rng, year=str(year), year1=str(year + 1), org=org_zh, org_en=org_en,
                     univ=uz, univ_en=ue)
        zh_t, en_t, flags = rng.choice(TITLES[cat])
        subject = None
        if "s" in flags:
            subject, fill["person"], fill["person_en"] = rng.choice(self.persons)
        fields: dict = {
            "title": {"zh": zh_t.format_map(fill), "en": en_t.format_map(fill)},
            "category": cat, "retention": RETENTIONS[self.u_ret[i]],
            "creator": [creator_path],
        }
        if self.codes == "explicit":
            fields["refcode"] = code
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        if kind == 0:  # a file: a span of dates, an extent
            fields["begin"] = f"{year}-{month:02d}" if rng.random() < 0.6 else str(year)
            end_year = min(year + rng.choice((0, 0, 0, 1, 2)), LAST_YEAR)
            fields["end"] = f"{end_year}-12" if end_year > year or month == 12 else \
                f"{year}-{rng.randint(month, 12):02d}"
            kids = self.u_kids[i]
            if kids:
                fields["extent"] = {"zh": f"{kids}件",
                                    "en": f"{kids} item{'s' if kids > 1 else ''}"}
        else:
            fields["begin"] = f"{year}-{month:02d}-{day:02d}"
        if rng.random() < 0.1:
            fields["date"] = f"{year}年{month}月"
        if rng.random() < 0.15:
            zh_s, en_s = rng.choice(SCOPES)
            sfill = _Fill(rng, level="卷" if kind == 0 else "件", org=org_zh, org_en=org_en,
                          year=str(year), cat=CATEGORY_LABELS[cat][0],
                          cat_en=CATEGORY_LABELS[cat][1].lower(), n=str(self.u_kids[i] or 1))
            fields["scope"] = {"zh": zh_s.format_map(sfill), "en": en_s.format_map(sfill)}
        if subject is not None:
            fields["subject"] = [subject]
        elif rng.random() < 0.05:
            fields["subject"] = [rng.choice(self.persons)[0]]
        if rng.random() < 0.08:
            fields["place"] = [rng.choice(self.place_paths)]
        if rng.random() < 0.3:
            fields["language"] = ["zh", "en"] if cat == "WS" else ["zh"]
        # access: personal data stays closed, recent records partly embargoed
        access = until = None
        personal: tuple[str, ...] = ()
        r = rng.random()
        if "p" in flags:
            access = "personal"
        elif year >= 2002 and r < 0.3:
            access = "embargoed"
            if r < 0.15:
                until = f"{year + 25}-12-31"
        elif r < 0.02:
            access = "restricted"
        elif kind != 1:
            access = "open"  # items inside a file fall back to the default rule
        if "s" in flags and access != "personal" and rng.random() < 0.2:
            personal = ("subject",)
        state = file_state or rng.choices(STATES, weights=STATE_WEIGHTS)[0]
        slug = code.lower().replace("·", "-")
        if kind == 1:
            slug = f"{self.u_item[i]:03d}"
        return NewObject(parent, "item" if kind else "file", fields, slug=slug,
                         key=self._next_key(), access=access, until=until, state=state,
                         personal_fields=personal)

    def _instantiations(self, rng: random.Random, i: int, path: str,
                        unit: NewObject) -> Iterator[NewObject]:
        state = unit.state
        inst = self.u_inst[i]
        if inst == 2:
            video = rng.random() < 0.45
            minutes = rng.randint(3, 150)
            extent = f"PT{minutes // 60}H{minutes % 60}M" if minutes >= 60 else \
                f"PT{minutes}M{rng.randint(0, 59)}S"
            title = unit.fields["title"]
            fields = {"title": {"zh": title["zh"] + ("（录像）" if video else "（录音）"),
                                "en": title["en"] + (" (video)" if video else " (audio)")},
                      "mime": "video/mp4" if video else "audio/ogg", "extent": extent,
                      "digest": self._digest(i, 0), "language": ["zh"]}
            if video:
                fields["width"], fields["height"] = rng.choice((("1920", "1080"),
                                                                ("720", "576")))
            yield NewObject(path, "instantiation", fields, slug="av", key=self._next_key(),
                            state=state)
        elif inst == 1:
            yield NewObject(path, "instantiation", {
                "mime": "application/pdf", "extent": f"{rng.randint(1, 120)} pages",
                "digest": self._digest(i, 0), "language": ["zh"],
            }, slug="pdf", key=self._next_key(), state=state)
        pages = self.u_pages[i]
        if pages:
            dpi = rng.choice((200, 300, 300, 400))
            w_in, h_in = rng.choice(((8.27, 11.69), (7.68, 10.63), (6.93, 9.84), (11.69, 16.54)))
            if rng.random() < 0.1:
                w_in, h_in = h_in, w_in
            for p in range(1, pages + 1):
                yield NewObject(path, "instantiation", {
                    "mime": "image/jpeg", "digest": self._digest(i, p),
                    "width": str(round(w_in * dpi) + rng.randint(-8, 8)),
                    "height": str(round(h_in * dpi) + rng.randint(-8, 8)),
                }, slug=f"p{p:04d}", key=self._next_key(), state=state)

    def _digest(self, unit: int, part: int) -> str:
        return "sha256:" + hashlib.sha256(f"{self.seed}/{unit}/{part}".encode()).hexdigest()


def export_descriptions(store, path: Path) -> int:
    """Write every quad of ``store``'s named graphs to ``path`` (N-Quads), leaving out the
    default graph (the management facts).

    That is exactly the description triples the repository stored, one named graph per
    object, and what the raw ``bulk_load`` baseline loads. Returns the number of quads.
    """
    from pyoxigraph import NamedNode, RdfFormat, serialize

    n = 0

    def described():
        nonlocal n
        for q in store:
            if isinstance(q.graph_name, NamedNode):
                n += 1
                yield q

    serialize(described(), output=str(path), format=RdfFormat.N_QUADS)
    return n
