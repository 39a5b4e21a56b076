"""Zip archives from users, checked before anything reads them: no zip bombs, no path tricks."""
import posixpath
import re
import zipfile
from typing import Type

from singa.errors import InvalidRequestError

MAX_ENTRIES = 500_000
MAX_TOTAL_UNCOMPRESSED = 32 << 30           # 32 GiB
MAX_RATIO = 200                             # uncompressed / compressed: per entry, and over them all
_RATIO_FLOOR = 1 << 20                      # below this, an entry alone is not judged by its ratio
_DRIVE = re.compile(r'^[A-Za-z]:')


def open_zip(path_or_file, error: Type[InvalidRequestError], field: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path_or_file)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        raise error(f'the file is not a readable zip archive: {e}', field=field) from None


def safe_members(zf: zipfile.ZipFile, error: Type[InvalidRequestError], field: str) -> list[zipfile.ZipInfo]:
    """The archive's file entries (directories left out), after refusing anything dangerous.

    Refused: more than ``MAX_ENTRIES`` entries, a declared total over ``MAX_TOTAL_UNCOMPRESSED``,
    an entry over 1 MiB compressed more than ``MAX_RATIO`` times, or all entries together (every
    one counted, however small) expanding more than ``MAX_RATIO`` times past 1 MiB; absolute names,
    drive letters, backslashes and ``..`` components, duplicate names, and encrypted entries.
    """
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise error(f'the zip has {len(infos)} entries; at most {MAX_ENTRIES} are accepted', field=field)
    total = stored = 0
    seen = set()
    files = []
    for info in infos:
        name = info.filename
        parts = name.split('/')
        if name.startswith('/') or '\\' in name or _DRIVE.match(name) or '..' in parts or '\0' in name:
            raise error(f'the zip holds an unsafe member name {name!r} (absolute, "..", or a backslash)',
                        field=field)
        if name in seen:
            raise error(f'the zip holds {name!r} twice', field=field)
        seen.add(name)
        if info.flag_bits & 0x1:
            raise error(f'the zip member {name!r} is encrypted', field=field)
        if info.file_size > _RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise error(f'the zip member {name!r} expands {info.file_size // max(info.compress_size, 1)} '
                        f'times; refusing a possible zip bomb', field=field)
        total += info.file_size
        stored += info.compress_size
        if total > MAX_TOTAL_UNCOMPRESSED:
            raise error(f'the zip expands to more than {MAX_TOTAL_UNCOMPRESSED >> 30} GiB', field=field)
        if total > _RATIO_FLOOR and total > MAX_RATIO * max(stored, 1):
            raise error(f'the zip\'s entries expand {total // max(stored, 1)} times together; refusing a '
                        f'possible zip bomb', field=field)
        if not info.is_dir():
            files.append(info)
    return files


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int,
                error: Type[InvalidRequestError], field: str) -> bytes:
    """Read one member, refusing it when it is over ``limit`` bytes (whatever its header says)."""
    if info.file_size > limit:
        raise error(f'{info.filename} is {info.file_size} bytes; at most {limit} are accepted', field=field)
    try:
        with zf.open(info) as f:
            data = f.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as e:
        raise error(f'cannot read {info.filename} from the zip: {e}', field=field) from None
    if len(data) > limit:
        raise error(f'{info.filename} is over {limit} bytes', field=field)
    return data


def is_ignorable(name: str) -> bool:
    """Archive clutter from file managers: ``__MACOSX/``, dotfiles such as ``.DS_Store``."""
    return name.startswith('__MACOSX/') or posixpath.basename(name.rstrip('/')).startswith('.')
