"""Built-in stop-word lists, and reading a user's list from a file.

The English list holds function words (articles, pronouns, prepositions, conjunctions, auxiliary
and modal verbs, their contractions) and the commonest content-free adverbs; it is deliberately
smaller than topic-agnostic lists such as the one shipped with English Wikipedia, which also drop
words like ``group`` or ``state``. The Chinese list holds common particles, pronouns and function
words plus full- and half-width punctuation.
"""

from __future__ import annotations

from pathlib import Path

from finelabel.errors import DataError

ENGLISH_STOPWORDS: frozenset[str] = frozenset("""
a about above across after afterwards again against all almost alone along already also although
always am among amongst an and another any anybody anyhow anyone anything anyway anywhere are
aren't around as at be became because become becomes becoming been before beforehand behind
being below beside besides between beyond both but by can can't cannot could couldn't did didn't
do does doesn't doing don't done down during each either else elsewhere enough etc even ever
every everybody everyone everything everywhere except few for former formerly from further
furthermore had hadn't has hasn't have haven't having he he'd he'll he's hence her here here's
hereafter hereby herein hers herself him himself his how how's however i i'd i'll i'm i've ie if
in indeed into is isn't it it's its itself just last latter latterly least less let's many may
me meanwhile might mine more moreover most mostly much must mustn't my myself namely neither
never nevertheless next no nobody none nonetheless noone nor not nothing now nowhere of off
often on once one only onto or other others otherwise ought our ours ourselves out over own per
perhaps quite rather really same shall shan't she she'd she'll she's should shouldn't since so
some somehow someone something sometime sometimes somewhere still such than that that's the
their theirs them themselves then thence there there's thereafter thereby therefore therein
thereupon these they they'd they'll they're they've this those though through throughout thru
thus to together too toward towards under unless until up upon us very via was wasn't we we'd
we'll we're we've were weren't what what's whatever when when's whence whenever where where's
whereafter whereas whereby wherein whereupon wherever whether which while whither who who's
whoever whole whom whose why why's will with within without won't would wouldn't yet you you'd
you'll you're you've your yours yourself yourselves
""".split())

CHINESE_STOPWORDS: frozenset[str] = frozenset("""
的 了 是 在 和 与 及 或 而 也 都 就 又 还 并 但 但是 而且 因为 所以 如果
虽然 然而 因此 于是 这 那 这个 那个 这些 那些 这样 那样 这里 那里 之 其 其中 此
该 各 每 某 我 你 您 他 她 它 我们 你们 他们 她们 它们 自己 谁 什么 哪 哪里
怎么 怎样 为什么 吗 呢 吧 啊 呀 哦 嗯 么 着 过 得 地 被 把 给 对 对于 从 自
向 到 于 以 为 为了 由 由于 按 按照 根据 关于 至 至于 等 等等 即 即使 就是 不
没 没有 无 非 有 个 一 一个 一些 上 下 中 里 后 前 之后 之前 以及 以上 以下
可以 可能 能 会 要 应 应该 已 已经 曾 曾经 将 才 再 更 最 很 太 非常 比 比较
只 只是 仅 仅仅 还是 或者 要是 即便 不过 另外 此外 其他 其它 如 如此 所 所有
之间 当 当时 通过 进行 成为 作为 包括
， 。 、 ； ： ？ ！ “ ” ‘ ’ （ ） 【 】 《 》 〈 〉 「 」 『 』 … — ～ · ． ／ ％
, . ; : ? ! " ' ( ) [ ] < > { } - _ / \\ | ~ ` @ # $ % ^ & * + =
""".split())


def read_stopwords(path: str | Path) -> frozenset[str]:
    """One stop word a line (UTF-8); blank lines and ``#`` comments are skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError("stop-word file not found", path=path, reason="missing_file",
                        hint="Pass 'builtin' or a file with one word a line",
                        record_level=False) from None
    except UnicodeDecodeError as error:
        raise DataError(f"stop-word file is not UTF-8 ({error.reason})", path=path,
                        reason="not_utf8", hint="Re-save it as UTF-8",
                        record_level=False) from None
    words = (line.strip() for line in text.splitlines())
    return frozenset(word.lower() for word in words if word and not word.startswith("#"))
