"""Word lists for the built-in synthetic dataset: topic words per category, shared words, stop
words, in English and Chinese (real words that jieba segments as one token each).

Categories past the ten named here get made-up topic words, so any category count works.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CATEGORY_NAMES = ("art", "biology", "geography", "history", "literature", "media", "music",
                  "royalty", "sport", "warfare")

_EN_TOPICS = {
    "art": """painting painter canvas sculpture sculptor portrait gallery museum fresco mural
        pigment easel watercolour etching engraving mosaic ceramic pottery exhibition curator
        impressionism baroque cubism surrealism palette sketch charcoal lithograph marble chisel
        masterpiece triptych altarpiece tapestry glaze varnish illustration calligraphy drawing
        artwork patron""",
    "biology": """species genus cell protein enzyme gene chromosome organism bacteria virus
        fungus mammal reptile amphibian predator habitat evolution mutation membrane tissue
        photosynthesis chlorophyll metabolism larva insect parasite symbiosis taxonomy embryo
        nucleus mitochondria ecosystem specimen botanist zoologist pollen seed hormone neuron
        microbe""",
    "geography": """river mountain valley glacier plateau delta estuary coastline peninsula
        island volcano desert tundra rainforest climate rainfall latitude longitude continent
        ocean lake basin canyon cliff erosion sediment monsoon archipelago fjord savanna terrain
        elevation watershed tributary lagoon reef dune prairie wetland altitude""",
    "history": """empire dynasty ancient medieval colonial revolution treaty parliament republic
        senate chronicle archive manuscript archaeology excavation ruins settlement migration
        civilization feudal peasant serf crusade reformation inscription artifact antiquity
        colony merchant guild census historian epoch tribute legislation abolition independence
        constitution uprising pilgrimage""",
    "literature": """novel novelist poem poet poetry verse stanza sonnet prose narrative chapter
        protagonist plot author fiction publisher literary trilogy epic tragedy satire allegory
        metaphor rhyme anthology essay critic library bestseller memoir fable dialogue
        playwright sequel translation paperback heroine storyteller imagery narrator""",
    "media": """television broadcast channel newspaper magazine journalist editor radio episode
        sitcom documentary advertising audience ratings anchor headline reporter podcast website
        internet streaming cable satellite viewer programme press tabloid columnist interview
        premiere franchise producer screen film cinema trailer subscriber commercial
        newsroom broadcaster""",
    "music": """song singer album guitar piano violin orchestra symphony concerto melody
        harmony rhythm chord tempo composer opera choir band drummer bass jazz blues rock lyrics
        soprano tenor quartet sonata concert musician recording chart cello trumpet saxophone
        keyboard ballad lute harp flute""",
    "royalty": """king queen prince princess throne crown coronation monarch monarchy duke
        duchess earl baron nobility aristocrat heir succession reign regent palace castle
        courtier consort dowager kingdom royal sovereign abdication sceptre lineage majesty
        viscount countess knight realm emperor empress coronet tiara regalia""",
    "sport": """football soccer cricket rugby tennis golf baseball basketball hockey athlete
        team league championship tournament match goal coach stadium player captain referee
        medal olympic marathon sprint champion trophy cup final victory penalty striker
        goalkeeper fixture sprinter swimmer athletics gymnast cyclist racquet""",
    "warfare": """army navy battle soldier infantry cavalry artillery regiment division siege
        invasion offensive troops war combat rifle tank aircraft bomber fighter submarine
        warship fleet campaign trench casualties ambush garrison fortress surrender armistice
        brigade battalion commander missile weapon ammunition frigate militia mortar""",
}

_ZH_TOPICS = {
    "art": """绘画 画家 油画 雕塑 雕刻 肖像 画廊 博物馆 壁画 水彩 颜料 画布 素描 版画 陶瓷
        瓷器 书法 展览 收藏 艺术家 美术 画作 色彩 线条 构图 印象派 抽象 青铜 大理石 工作室
        插图 国画 山水画 篆刻 装饰 美学 雕像 画展 艺术 作品""",
    "biology": """物种 细胞 蛋白质 基因 染色体 细菌 病毒 真菌 哺乳动物 爬行动物 两栖动物
        捕食者 栖息地 进化 突变 细胞膜 组织 光合作用 叶绿素 代谢 幼虫 昆虫 寄生虫 共生
        分类学 胚胎 细胞核 线粒体 生态系统 标本 植物学家 花粉 种子 激素 神经元 繁殖 遗传
        微生物 鸟类 鱼类""",
    "geography": """河流 山脉 山谷 冰川 高原 三角洲 海岸线 半岛 岛屿 火山 沙漠 苔原 雨林
        气候 降雨 纬度 经度 大陆 海洋 湖泊 盆地 峡谷 悬崖 侵蚀 沉积物 季风 群岛 峡湾 草原
        地形 海拔 流域 支流 珊瑚礁 沙丘 湿地 平原 丘陵 地貌 洋流""",
    "history": """帝国 王朝 古代 中世纪 世纪 殖民 革命 条约 议会 共和国 元老院 编年史 档案
        手稿 考古 发掘 遗址 定居 迁徙 文明 封建 农民 农奴 十字军 宗教改革 碑文 文物 古迹
        殖民地 商人 行会 人口普查 历史学家 时代 朝贡 立法 废除 独立 宪法 起义""",
    "literature": """小说 小说家 诗歌 诗人 诗句 十四行诗 散文 叙事 章节 主人公 角色 情节
        作家 虚构 出版社 文学 三部曲 史诗 悲剧 喜剧 讽刺 寓言 隐喻 押韵 选集 随笔 评论家
        图书馆 畅销书 回忆录 童话 对白 剧作家 续集 翻译 读者 文笔 修辞 名著 诗集""",
    "media": """电视 广播 频道 报纸 杂志 记者 编辑 电台 剧集 纪录片 广告 观众 收视率 主持人
        头条 新闻 播客 网站 互联网 直播 有线电视 卫星 节目 报道 小报 专栏 采访 首播 制片人
        银幕 电影 影院 预告片 订阅 媒体 传媒 网络 访谈 发行 新闻稿""",
    "music": """歌曲 歌手 专辑 吉他 钢琴 小提琴 管弦乐 交响乐 协奏曲 旋律 乐章 节奏 和弦
        节拍 作曲家 歌剧 合唱团 乐队 鼓手 贝斯 爵士乐 蓝调 摇滚 歌词 女高音 男高音 四重奏
        奏鸣曲 唱片 巡演 音乐会 音乐家 录音 单曲 排行榜 大提琴 小号 萨克斯 键盘 演唱""",
    "royalty": """国王 女王 王子 公主 王位 王冠 加冕 君主 君主制 公爵 公爵夫人 伯爵 男爵
        贵族 继承人 继承 在位 摄政 宫殿 城堡 宫廷 朝臣 王后 太后 王国 王室 皇室 退位 权杖
        头衔 血统 联姻 陛下 子爵 骑士 领地 皇帝 皇后 太子 亲王""",
    "sport": """足球 板球 橄榄球 网球 高尔夫 棒球 篮球 冰球 运动员 球队 联赛 锦标赛 比赛
        进球 比分 教练 体育场 赛季 球员 队长 裁判 奖牌 奥运会 赛跑 马拉松 短跑 冠军 奖杯
        决赛 胜利 失利 点球 前锋 守门员 世界杯 田径 游泳 赛事 球迷 体操""",
    "warfare": """军队 海军 战役 士兵 步兵 骑兵 炮兵 军团 师团 将军 围攻 入侵 进攻 部队 战争
        战斗 步枪 坦克 飞机 轰炸机 战斗机 潜艇 军舰 舰队 战线 战壕 伤亡 伏击 驻军 要塞
        投降 停战 指挥官 导弹 武器 空军 弹药 防御 营地 司令部""",
}

_EN_SHARED = """year time people world known called large new early later many first second
    major important group part place area city country work life name number form state
    national local public period system example several including following according modern
    original considered became began made used took based received described""".split()
_ZH_SHARED = """时间 人们 世界 地区 城市 国家 工作 生活 名字 数量 形式 时期 系统 例如 包括 根据
    现代 原始 认为 成为 开始 使用 发展 重要 主要 著名 影响 部分 方面 问题 地方 后来 早期
    许多 第一 公共 当地 全国""".split()

_EN_STOP = "the of and in a to was is for on as by with his her it that from at were which".split()
_ZH_STOP = "的 了 和 是 在 也 有 这 他 她 被 与 及 其 对 为 而 并 都".split()

_SYLLABLES = "ka lo mi ru te za vo ni pe shu dra kel mor tis van gul bex rin sol tha".split()


@dataclass(frozen=True)
class WordLists:
    """The words one language's synthetic texts draw from."""

    topics: tuple[tuple[str, ...], ...]  # one tuple of topic words per category
    shared: tuple[str, ...]
    stop: tuple[str, ...]


def category_names(n: int) -> list[str]:
    """Readable category names: the English Wikipedia ten, then ``topic11``, ``topic12``..."""
    return [CATEGORY_NAMES[c] if c < len(CATEGORY_NAMES) else f"topic{c + 1}" for c in range(n)]


def _made_up_words(category: int, lang: str, count: int = 40) -> tuple[str, ...]:
    """Topic words for a category past the named ten: unique to it, stable across seeds."""
    rng = np.random.default_rng(1000 + category)
    words: list[str] = []
    while len(words) < count:
        if lang == "zh":  # two CJK characters from a block no other category uses
            base = 0x5000 + 160 * (category - len(CATEGORY_NAMES))
            word = "".join(chr(base + int(i)) for i in rng.integers(0, 160, size=2))
        else:
            tag = "".join(chr(ord("a") + int(d)) for d in str(category))  # letters only
            word = "".join(rng.choice(_SYLLABLES, size=3)) + "q" + tag
        if word not in words:
            words.append(word)
    return tuple(words)


def word_lists(n_categories: int, lang: str) -> WordLists:
    """Topic words for ``n_categories`` categories plus shared and stop words in ``lang``."""
    named = _ZH_TOPICS if lang == "zh" else _EN_TOPICS
    topics = tuple(
        tuple(named[name].split()) if name in named else _made_up_words(c, lang)
        for c, name in enumerate(category_names(n_categories)))
    if lang == "zh":
        return WordLists(topics, tuple(_ZH_SHARED), tuple(_ZH_STOP))
    return WordLists(topics, tuple(_EN_SHARED), tuple(_EN_STOP))
