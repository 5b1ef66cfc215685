"""The official MovieLens releases: names, files, folders and checksums of the zips.

:data:`RELEASES` is the table :func:`reco.data.fetch.fetch_movielens` verifies downloads
against; the comment above it says where each checksum comes from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

DEFAULT_BASE_URL = "https://files.grouplens.org/datasets/movielens/"


@dataclass(frozen=True)
class Release:
    """One MovieLens release as GroupLens publishes it.

    Parameters
    ----------
    name
        Release name, also the folder it is unpacked to (``ml-10m``).
    zip_name
        File name on the server (``ml-10m.zip``).
    folder
        Top-level folder inside the zip (``ml-10M100K``).
    sha256, md5
        Hex digests of the zip, or None when no published value is known.
    size
        Size of the zip in bytes where published (progress and error messages only).
    moving
        GroupLens updates this release in place, so a fixed checksum can go stale.
    """

    name: str
    zip_name: str
    folder: str
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    moving: bool = False

    def __post_init__(self) -> None:
        # A typo in the table must fail at import, not as a "mismatch" after a 300 MB download.
        for label, value, length in (("sha256", self.sha256, 64), ("md5", self.md5, 32)):
            if value is not None and not re.fullmatch(f"[0-9a-f]{{{length}}}", value):
                raise ValueError(f"{self.name}: {label} must be {length} lowercase hex digits, "
                                 f"got {value!r}")

    def url(self, base_url: str = DEFAULT_BASE_URL) -> str:
        """Download URL of the zip under ``base_url``."""
        return base_url.rstrip("/") + "/" + self.zip_name


# Checksum sources (all of the zip bytes served by files.grouplens.org):
#   [GL]   GroupLens's own <zip>.md5 files; their values are quoted in
#          eli-osherovich/papers_with_code datasets/movielens/dl_config.py (100k .. 25m).
#   [TFDS] tensorflow/datasets tensorflow_datasets/url_checksums/movielens.txt (sha256 + size).
#   [OR]   ISG-Siegen/OmniRec src/omnirec/data_loaders/movielens_{100k,small,large}.py (sha256).
#   [PUB]  ml-32m only: the same md5 (quoted as GroupLens's published one) and sha256 recur in
#          several independent public download scripts and data manifests (size 238,950,008);
#          no well-known library pins ml-32m yet.
# ml-latest has no fixed value: GroupLens regenerates it; OmniRec pins one snapshot
# (66a9e518...) that is stale by design: fetch_movielens wants --sha256/--md5 from a source
# the user trusts, or --allow-unpinned (the mirror's own <url>.md5 is advisory only).
# ml-latest-small: [TFDS]/[OR] agree, and public downloads dated 2026 still match them.
# shared/data/SOURCES.md gives 859da233... for a copy committed to aramki/movieRatings (same
# members); no source records it for the GroupLens URL, so it is not accepted.
_TABLE = (
    Release("ml-100k", "ml-100k.zip", "ml-100k",  # [TFDS] [OR] sha256; [GL] md5
            sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
            md5="0e33842e24a9c977be4e0107933c0723", size=4_924_029),
    Release("ml-1m", "ml-1m.zip", "ml-1m",  # [TFDS] [OR] sha256; [GL] md5
            sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
            md5="c4d9eecfca2ab87c1945afe126590906", size=5_917_549),
    Release("ml-10m", "ml-10m.zip", "ml-10M100K",  # [OR] sha256; [GL] md5
            sha256="813c411ccb6122564edfe752e7f80c4dcc5aa25fa94c93622f6877a7ba252862",
            md5="ce571fd55effeba0271552578f2648bd"),
    Release("ml-20m", "ml-20m.zip", "ml-20m",  # [TFDS] [OR] sha256; [GL] md5
            sha256="96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
            md5="cd245b17a1ae2cc31bb14903e1204af3", size=198_702_078),
    Release("ml-25m", "ml-25m.zip", "ml-25m",  # [TFDS] [OR] sha256; [GL] md5
            sha256="8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
            md5="6b51fb2759a8657d3bfcbfc42b592ada", size=261_978_986),
    Release("ml-32m", "ml-32m.zip", "ml-32m",  # [PUB] sha256 and md5
            sha256="e4a68655d7386b8f95f2f2424b2ff975dfdd15ffd59e0d864a14dca43e99d6ee",
            md5="d472be332d4daa821edc399621853b57", size=238_950_008),
    Release("ml-latest-small", "ml-latest-small.zip", "ml-latest-small",  # [TFDS] [OR]
            sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
            size=978_202, moving=True),
    Release("ml-latest", "ml-latest.zip", "ml-latest", moving=True),  # no pin: see above
)
#: Every release by name (read-only).
RELEASES: Mapping[str, Release] = MappingProxyType({r.name: r for r in _TABLE})
