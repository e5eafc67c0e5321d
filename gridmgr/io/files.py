"""The one file-opening policy of every reader: what may be opened, how much, in which encoding.

Every file gridmgr reads (layers, departments, leaders, assignment imports, zipped or not) goes
through here first:

- **regular files only**: a FIFO, device, socket or directory named like a layer is refused at
  once from :func:`os.stat` (never opened, so nothing can hang), and the file is opened with
  ``O_NONBLOCK`` and checked again with :func:`os.fstat` (no race with a swap after the check);
- **a size cap** (``GRIDMGR_MAX_INPUT_MB``, default :data:`DEFAULT_MAX_MB`) checked *before*
  reading, so a 1 GB file is refused without being read;
- **zip archives** (``.zip``, ``.kmz``, ``.xlsx`` …) are inspected from their directory before
  anything is extracted: total uncompressed size under the cap, compression ratio at most
  :data:`ZIP_MAX_RATIO`, at most :data:`ZIP_MAX_ENTRIES` members (zip bombs);
- **text encodings**: a BOM (UTF-8, UTF-16, UTF-32) is honoured; else strict UTF-8; else the
  text is decoded as GB18030 and as Big5 and each decoding is judged by its share of common
  Chinese characters (:func:`detect_encoding`). One plausible decoding is used; two that
  disagree, or none, are refused with a message naming ``--encoding`` — never stored garbled;
- **JSON depth** at most :data:`MAX_JSON_DEPTH`, measured on the bytes before parsing
  (:func:`json_depth`), so no parser recurses without bound.

Errors are :class:`~gridmgr.errors.UnreadableFileError` naming the file, what is wrong and the
fix, Chinese first.
"""

from __future__ import annotations

import codecs
import json
import os
import stat
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from gridmgr.errors import UnreadableFileError
from gridmgr.i18n import t

PathLike = str | Path

#: Default size cap of one input file (MiB); ``GRIDMGR_MAX_INPUT_MB`` overrides it.
DEFAULT_MAX_MB = 512
#: Deepest JSON nesting accepted (a GeoJSON MultiPolygon needs 8 levels).
MAX_JSON_DEPTH = 64
#: Largest compression ratio (uncompressed / compressed) of a zip archive.
ZIP_MAX_RATIO = 200
#: Most members of a zip archive.
ZIP_MAX_ENTRIES = 10_000
#: Share of common Chinese characters (among the CJK ones) for a decoding to be plausible.
#: Measured on the shipped names: right decodings score 1.0; GB18030 read as Big5 0.29–0.62
#: on long names, but short names can pass, hence the vocabulary tie-break.
PLAUSIBLE_SHARE = 0.9
#: Encodings tried, in order, when a file declares none (UTF-8 first, strictly).
CANDIDATES = ("gb18030", "big5")

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_FIX_ENCODING = (
    "请用 --encoding（Python 中 encoding=）指定编码，例如 --encoding gb18030 或 --encoding big5，"
    "或另存为 UTF-8",
    "pass the encoding with --encoding (encoding= in Python), e.g. --encoding gb18030 or "
    "--encoding big5, or save the file as UTF-8",
)


def _fail(path: PathLike, why: tuple[str, str], fix: tuple[str, str]) -> UnreadableFileError:
    return UnreadableFileError(t(f"{path}：{why[0]}；{fix[0]}", f"{path}: {why[1]}; {fix[1]}"))


def max_input_bytes() -> int:
    """The size cap of one input file in bytes (``GRIDMGR_MAX_INPUT_MB``, default 512)."""
    raw = os.environ.get("GRIDMGR_MAX_INPUT_MB", "").strip()
    try:
        mb = float(raw) if raw else DEFAULT_MAX_MB
    except ValueError:
        mb = DEFAULT_MAX_MB
    return int(max(mb, 0.001) * 1024 * 1024)


def _kind(mode: int) -> tuple[str, str]:
    if stat.S_ISDIR(mode):
        return "是目录", "is a directory"
    if stat.S_ISFIFO(mode):
        return "是命名管道（FIFO）", "is a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "是套接字", "is a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "是设备文件", "is a device"
    return "不是普通文件", "is not a regular file"


def _check_stat(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        zh, en = _kind(st.st_mode)
        raise _fail(
            path,
            (f"{zh}，不是普通文件", f"{en}, not a regular file"),
            ("请给出普通文件的路径", "give the path of a regular file"),
        )
    cap = max_input_bytes()
    if st.st_size > cap:
        size, limit = st.st_size / 1048576, cap / 1048576
        raise _fail(
            path,
            (
                f"文件过大（{size:,.1f} MB，上限 {limit:,.0f} MB）",
                f"too large ({size:,.1f} MB, limit {limit:,.0f} MB)",
            ),
            (
                "请拆分文件，或用环境变量 GRIDMGR_MAX_INPUT_MB 提高上限",
                "split the file, or raise the limit with GRIDMGR_MAX_INPUT_MB",
            ),
        )


def check_file(path: PathLike) -> Path:
    """``path`` if it is an existing regular file within the size cap (zip archives checked too).

    Never opens the file, so a FIFO or a device cannot block. Raises
    :class:`~gridmgr.errors.UnreadableFileError` otherwise.
    """
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise _fail(
            p, ("文件不存在", "file does not exist"), ("请检查路径", "check the path")
        ) from None
    except OSError as exc:
        raise _fail(
            p,
            (f"无法访问（{exc.strerror}）", f"cannot be accessed ({exc.strerror})"),
            ("请检查路径和权限", "check the path and permissions"),
        ) from None
    _check_stat(p, st)
    if _looks_zipped(p):
        check_zip(p)
    return p


def read_bytes(path: PathLike) -> bytes:
    """The bytes of a regular file within the size cap (see the module notes)."""
    p = check_file(path)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise _fail(
            p,
            (f"无法打开（{exc.strerror}）", f"cannot be opened ({exc.strerror})"),
            ("请检查权限", "check the permissions"),
        ) from None
    with os.fdopen(fd, "rb") as fh:
        _check_stat(p, os.fstat(fd))
        return fh.read(max_input_bytes() + 1)


def _looks_zipped(p: Path) -> bool:
    if p.suffix.lower() in (".zip", ".kmz", ".xlsx", ".xlsm", ".docx"):
        return True
    with open(p, "rb") as fh:  # a regular file: reading 4 bytes cannot block
        return fh.read(4) == b"PK\x03\x04"


def check_zip(path: PathLike) -> None:
    """Refuse a zip archive that would expand too far (a zip bomb) or is not a zip at all."""
    p = Path(path)
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _fail(
            p,
            (f"不是有效的 zip 压缩包（{exc}）", f"not a valid zip archive ({exc})"),
            ("请重新打包或导出", "pack or export it again"),
        ) from None
    cap = max_input_bytes()
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    ratio = total / max(packed, 1)
    fix = (
        "压缩包疑似“zip 炸弹”，请解压检查后重新打包",
        "it looks like a zip bomb; unpack and check it, then pack it again",
    )
    if len(infos) > ZIP_MAX_ENTRIES:
        raise _fail(
            p,
            (
                f"压缩包内文件过多（{len(infos):,} 个，上限 {ZIP_MAX_ENTRIES:,}）",
                f"the archive holds too many members ({len(infos):,}, limit {ZIP_MAX_ENTRIES:,})",
            ),
            fix,
        )
    if total > cap:
        size, limit = total / 1048576, cap / 1048576
        raise _fail(
            p,
            (
                f"解压后过大（{size:,.1f} MB，上限 {limit:,.0f} MB）",
                f"would expand to {size:,.1f} MB (limit {limit:,.0f} MB)",
            ),
            fix,
        )
    if ratio > ZIP_MAX_RATIO and total > 1048576:
        raise _fail(
            p,
            (
                f"压缩比异常（{ratio:,.0f} 倍，上限 {ZIP_MAX_RATIO} 倍）",
                f"compression ratio {ratio:,.0f}:1 exceeds {ZIP_MAX_RATIO}:1",
            ),
            fix,
        )


# --- encodings ----------------------------------------------------------------------------------


def normalise_encoding(name: str) -> str:
    """The Python codec name of ``name`` (``GBK`` → ``gbk``); refuse unknown names.

    >>> normalise_encoding("GB18030"), normalise_encoding("Big5"), normalise_encoding("utf8")
    ('gb18030', 'big5', 'utf-8')
    """
    try:
        return codecs.lookup(name.strip()).name
    except (LookupError, ValueError):
        raise UnreadableFileError(
            t(
                f"未知的编码 {name!r}；可用 utf-8、gb18030、gbk、big5、utf-16",
                f"unknown encoding {name!r}; use utf-8, gb18030, gbk, big5 or utf-16",
            )
        ) from None


#: Words of this domain (unit names, key places, leaders files), simplified and traditional: what
#: tells two plausible decodings of a short text apart.
VOCABULARY = tuple(
    (
        "街道 社区 村委 居委 乡 镇 区 县 网格 领导 包保 学校 医院 市场 广场 公园 工地 小区 卫生 "
        "幼儿园 中心 委员会 开发 高新 长春 样例 姓名 角色 部门 电话 编号 名称 代码 类别 地址 街 路 号 "
        "社區 鄉 鎮 區 縣 網格 領導 學校 醫院 市場 廣場 公園 衛生 幼兒園 委員會 開發 長春 樣例 "
        "部門 電話 編號 名稱 代碼 類別 號 村 市 局"
    ).split()
)


def vocabulary_hits(text: str) -> int:
    """How often words of :data:`VOCABULARY` occur in ``text``.

    >>> vocabulary_hits("硅谷街道样例社区01"), vocabulary_hits("寡嗷誰耋")
    (5, 0)
    """
    return sum(text.count(w) for w in VOCABULARY)


@cache
def common_chars() -> frozenset[str]:
    """Common Chinese characters: GB2312 level 1 (3,755 simplified) and Big5 level 1 (5,401
    traditional) — what real names are written with, and what a wrong decoding rarely hits."""
    out: set[str] = set()
    spans = (
        ("gb2312", range(0xB0, 0xD8), range(0xA1, 0xFF)),
        ("big5", range(0xA4, 0xC7), [*range(0x40, 0x7F), *range(0xA1, 0xFF)]),
    )
    for enc, leads, trails in spans:
        for hi in leads:
            for lo in trails:
                try:
                    out.add(bytes((hi, lo)).decode(enc))
                except UnicodeDecodeError:
                    continue
    return frozenset(out)


def plausibility(text: str) -> float:
    """Share of the CJK characters of ``text`` that are common ones (1.0 without any CJK).

    >>> plausibility("硅谷街道样例社区"), plausibility("abc")
    (1.0, 1.0)
    >>> "硅谷街道".encode("gb18030").decode("big5", "replace") != "硅谷街道"
    True
    """
    cjk = [c for c in text if "\u2e80" <= c <= "\U0003ffff" or "\ue000" <= c <= "\uf8ff"]
    if not cjk:
        return 1.0
    common = common_chars()
    return sum(c in common for c in cjk) / len(cjk)


def bom_encoding(raw: bytes) -> str | None:
    """The encoding a byte-order mark names (``utf-8-sig``, ``utf-16``, ``utf-32``), else None."""
    return next((enc for bom, enc in _BOMS if raw.startswith(bom)), None)


def detect_encoding(raw: bytes, path: PathLike) -> str:
    """The encoding of ``raw`` text without a declaration (see the module notes).

    Strict UTF-8 first; else each of GB18030 and Big5 that decodes strictly and is plausible
    (:func:`plausibility` ≥ :data:`PLAUSIBLE_SHARE`). When both are, the one holding more
    words of the domain (:func:`vocabulary_hits`: 街道, 社区, 包保领导 …) wins; a tie (short
    text of personal names only), or no plausible decoding, raises
    :class:`~gridmgr.errors.UnreadableFileError` naming ``--encoding``.
    """
    if (bom := bom_encoding(raw)) is not None:
        return bom
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    decoded: dict[str, str] = {}
    for enc in CANDIDATES:
        try:
            decoded[enc] = raw.decode(enc)
        except UnicodeDecodeError:
            continue
    plausible = {e: s for e, s in decoded.items() if plausibility(s) >= PLAUSIBLE_SHARE}
    if len(set(plausible.values())) == 1:
        return next(iter(plausible))
    if plausible:
        hits = sorted(((vocabulary_hits(s), e) for e, s in plausible.items()), reverse=True)
        if hits[0][0] > hits[1][0]:
            return hits[0][1]
    if plausible:
        names = " / ".join(e.upper() for e in plausible)
        why = (
            f"无法确定文本编码：按 {names} 解码都像中文但结果不同",
            f"the text encoding is ambiguous: it reads as Chinese in {names} with different text",
        )
    else:
        why = (
            "文本编码无法识别（不是 UTF-8，按 GB18030 或 Big5 解码也不像中文）",
            "the text encoding is not recognised (not UTF-8, and neither GB18030 nor Big5 "
            "gives plausible Chinese)",
        )
    raise _fail(path, why, _FIX_ENCODING)


def decode_text(raw: bytes, path: PathLike, encoding: str | None = None) -> str:
    """Text of ``raw``: in ``encoding`` when given, else as :func:`detect_encoding` finds it."""
    enc = normalise_encoding(encoding) if encoding else detect_encoding(raw, path)
    if enc == "utf-8" and raw.startswith(codecs.BOM_UTF8):
        enc = "utf-8-sig"
    try:
        return raw.decode(enc)
    except UnicodeDecodeError as exc:
        raise _fail(
            path,
            (
                f"不是 {enc} 编码（第 {exc.start} 字节处无法解码）",
                f"not {enc} text (undecodable at byte {exc.start})",
            ),
            _FIX_ENCODING,
        ) from None


def read_text(path: PathLike, encoding: str | None = None) -> str:
    """A text file under the policy: regular, within the cap, decoded as :func:`decode_text`."""
    return decode_text(read_bytes(path), path, encoding)


# --- JSON ---------------------------------------------------------------------------------------


def json_depth(raw: bytes) -> int:
    """Deepest nesting of ``[``/``{`` in UTF-8 JSON bytes, outside strings (vectorised).

    >>> json_depth(b'{"a": [[1, 2]], "b": "[[[["}'), json_depth(b"1")
    (3, 0)
    """
    b = np.frombuffer(raw, dtype=np.uint8)
    quotes = np.flatnonzero(b == ord('"'))
    if quotes.size:
        maybe = quotes[(quotes > 0) & (b[np.maximum(quotes - 1, 0)] == ord("\\"))]
        escaped = [q for q in maybe.tolist() if _backslashes_before(b, q) % 2 == 1]
        if escaped:
            quotes = np.setdiff1d(quotes, np.asarray(escaped, dtype=quotes.dtype))
    opens = np.flatnonzero((b == ord("[")) | (b == ord("{")))
    closes = np.flatnonzero((b == ord("]")) | (b == ord("}")))
    pos = np.concatenate([opens, closes])
    if pos.size == 0:
        return 0
    step = np.concatenate([np.ones(opens.size, np.int32), -np.ones(closes.size, np.int32)])
    order = np.argsort(pos, kind="stable")
    pos, step = pos[order], step[order]
    outside = np.searchsorted(quotes, pos) % 2 == 0
    depth = np.cumsum(step[outside], dtype=np.int64)
    return int(depth.max()) if depth.size else 0


def _backslashes_before(b: np.ndarray, q: int) -> int:
    n = 0
    while q - n - 1 >= 0 and b[q - n - 1] == ord("\\"):
        n += 1
    return n


def parse_json(raw: bytes, path: PathLike, encoding: str | None = None) -> Any:
    """Parse JSON bytes under the policy (encoding, depth); ``json.JSONDecodeError`` on syntax.

    orjson parses UTF-8 (4× faster on large layers); what it rejects (NaN/Infinity literals)
    goes through the standard library, which also gives the line and column of real errors.
    """
    enc = normalise_encoding(encoding) if encoding else detect_encoding(raw, path)
    if enc != "utf-8":
        raw = decode_text(raw, path, enc).encode("utf-8")
    depth = json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise _fail(
            path,
            (
                f"JSON 嵌套过深（{depth:,} 层，上限 {MAX_JSON_DEPTH}）",
                f"JSON nested too deep ({depth:,} levels, limit {MAX_JSON_DEPTH})",
            ),
            ("这不是正常的 GeoJSON，请重新导出", "this is not ordinary GeoJSON; export it again"),
        )
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a core dependency
        pass
    else:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw.decode("utf-8"))


def load_json(path: PathLike, encoding: str | None = None) -> Any:
    """Read and parse a JSON file under the policy (see :func:`parse_json`)."""
    return parse_json(read_bytes(path), path, encoding)


__all__ = [
    "DEFAULT_MAX_MB",
    "MAX_JSON_DEPTH",
    "ZIP_MAX_RATIO",
    "check_file",
    "check_zip",
    "decode_text",
    "detect_encoding",
    "json_depth",
    "load_json",
    "max_input_bytes",
    "normalise_encoding",
    "parse_json",
    "plausibility",
    "read_bytes",
    "read_text",
]
