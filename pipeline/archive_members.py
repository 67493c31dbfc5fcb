"""Check a zip archive's directory before any reader opens it (torch files, npz arrays, bundles).

Readers disagree about a zip whose directory is ambiguous: Python's ``zipfile`` returns the *last*
member of a duplicated name, torch's reader the *first*, so an inspection by one and a load by the
other look at different bytes. And a member's declared size is what a reader allocates. So before
anything is inspected or loaded the directory must be unambiguous and bounded:

- no two members share a name;
- no name is absolute, holds ``..``, a backslash or a NUL, and (for torch archives) every name lies
  below one root folder;
- the members' declared sizes add up to at most ``max_bytes`` and at most ``max_ratio`` times the
  file's own size (torch stores members uncompressed; a large ratio is a decompression bomb).

No torch and no project imports: the device script's numpy side may use it too.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

# A WRN-34-10 teacher is about 190 MB; ten times the largest model users bring.
MAX_ARCHIVE_BYTES = 4 << 30
# npz's deflate compresses images 2-5x; a bomb compresses zeros about 1000x.
MAX_RATIO = 50


class ArchiveError(ValueError):
    """The archive's directory is ambiguous, escapes its folder or declares too much data."""


def check_members(source: str | Path | bytes, *, single_root: bool = False, max_bytes: int = MAX_ARCHIVE_BYTES,
                  max_ratio: int = MAX_RATIO) -> list[str]:
    """The archive's member names when its directory is safe to hand to any reader; an
    ``ArchiveError`` naming the first problem otherwise. A file that is not a zip is not checked
    (returns an empty list): the caller's own reader reports it. ``source`` is a path or the file's
    bytes (check the bytes you then load, and nothing can change in between)."""
    opened = io.BytesIO(source) if isinstance(source, bytes) else Path(source)
    size = len(source) if isinstance(source, bytes) else Path(source).stat().st_size
    if not zipfile.is_zipfile(opened):
        return []
    try:
        with zipfile.ZipFile(opened) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise ArchiveError(f"damaged zip directory ({exc})") from None
    names = [info.filename for info in infos]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ArchiveError(f"the archive holds two members named {name!r} (readers disagree on which one is read)")
        seen.add(name)
        parts = name.split("/")
        if name.startswith("/") or "\\" in name or "\x00" in name or ".." in parts or (parts and ":" in parts[0]):
            raise ArchiveError(f"the archive holds a member named {name!r}, outside its folder")
    if single_root and names:
        roots = {name.split("/", 1)[0] for name in names}
        if len(roots) != 1 or any("/" not in name for name in names):
            raise ArchiveError(f"the archive's members are not all in one root folder (found {sorted(roots)[:3]})")
    declared = sum(info.file_size for info in infos)
    if declared > max_bytes or declared > max_ratio * max(size, 1) + (1 << 20):
        raise ArchiveError(f"the archive declares {declared / 2**20:.0f} MiB of contents in a "
                           f"{size / 2**20:.1f} MiB file (a decompression bomb, or damaged); refused")
    return names
