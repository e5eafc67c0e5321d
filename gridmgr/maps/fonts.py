"""The CJK font for Chinese text on static maps (matplotlib).

Debian's ``fonts-noto-cjk`` package ships Noto Sans/Serif CJK as OpenType collections under
``/usr/share/fonts/opentype/noto/`` (``scripts/system-deps.sh`` installs it). :func:`use_cjk_font`
registers them with matplotlib's font manager and returns the family list to give to text
(``Noto Sans CJK SC`` first, ``DejaVu Sans`` as a fallback for the few symbols the CJK font lacks),
so Chinese labels render without missing-glyph boxes or warnings.

``GRIDMGR_CJK_FONT`` may name another font file (``.ttc``/``.otf``/``.ttf``) with CJK glyphs.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from gridmgr.errors import FontNotFoundError

#: Where Debian's fonts-noto-cjk puts its files (and a few other usual places).
FONT_DIRS: tuple[Path, ...] = (
    Path("/usr/share/fonts/opentype/noto"),
    Path("/usr/share/fonts/noto-cjk"),
    Path("/usr/share/fonts/google-noto-cjk"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".local/share/fonts",
)
#: File names tried in each directory, sans before serif.
FONT_FILES: tuple[str, ...] = (
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJK-Bold.ttc",
    "NotoSerifCJK-Regular.ttc",
    "NotoSerifCJK-Bold.ttc",
    "NotoSansCJKsc-Regular.otf",
    "NotoSerifCJKsc-Regular.otf",
)
#: Families preferred for simplified Chinese, in order.
SANS_FAMILY = "Noto Sans CJK SC"
SERIF_FAMILY = "Noto Serif CJK SC"


def cjk_font_files() -> list[Path]:
    """The CJK font files found on this machine (``GRIDMGR_CJK_FONT`` first), maybe empty."""
    found: list[Path] = []
    env = os.environ.get("GRIDMGR_CJK_FONT")
    if env and Path(env).is_file():
        found.append(Path(env))
    for folder in FONT_DIRS:
        for name in FONT_FILES:
            path = folder / name
            if path.is_file() and path not in found:
                found.append(path)
    return found


@lru_cache(maxsize=1)
def use_cjk_font() -> tuple[str, ...]:
    """Register the CJK fonts with matplotlib and return the font family list to use.

    Returns
    -------
    tuple of str
        Family names for matplotlib's ``fontfamily``: the simplified-Chinese CJK family first,
        ``DejaVu Sans`` as fallback.

    Raises
    ------
    FontNotFoundError
        When no CJK font file is installed; the message names the Debian package.

    Examples
    --------
    >>> families = use_cjk_font()  # doctest: +SKIP
    >>> families[0]  # doctest: +SKIP
    'Noto Sans CJK SC'
    """
    files = cjk_font_files()
    if not files:
        dirs = ", ".join(str(d) for d in FONT_DIRS[:3])
        msg = (
            "未找到中文字体（CJK），无法在地图上绘制中文；请安装 Debian 软件包 fonts-noto-cjk"
            "（`apt-get install fonts-noto-cjk` 或运行 scripts/system-deps.sh --run），"
            "或用 GRIDMGR_CJK_FONT 指定字体文件 / no CJK font found in "
            f"{dirs}: install the Debian package fonts-noto-cjk (scripts/system-deps.sh --run) "
            "or set GRIDMGR_CJK_FONT to a .ttc/.otf file with Chinese glyphs"
        )
        raise FontNotFoundError(msg)
    from matplotlib import font_manager

    known = {f.fname for f in font_manager.fontManager.ttflist}
    for path in files:
        if str(path) not in known:
            font_manager.fontManager.addfont(str(path))
    names = {f.name for f in font_manager.fontManager.ttflist if f.fname in {str(p) for p in files}}
    preferred = [n for n in (SANS_FAMILY, SERIF_FAMILY) if n in names]
    others = sorted(
        n for n in names if "CJK" in n and ("SC" in n or "Sans" in n) and n not in preferred
    )
    chosen = preferred or others or sorted(names)
    if not chosen:
        msg = (
            f"字体文件 {files[0]} 无法被 matplotlib 读取 / the font file {files[0]} could not be read "
            "by matplotlib; reinstall fonts-noto-cjk or set GRIDMGR_CJK_FONT to another file"
        )
        raise FontNotFoundError(msg)
    return (chosen[0], "DejaVu Sans")


__all__ = ["SANS_FAMILY", "SERIF_FAMILY", "FontNotFoundError", "cjk_font_files", "use_cjk_font"]
