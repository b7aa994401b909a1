"""The files the emulated Telegram keeps: uploaded bytes under opaque file ids, the paths bots
download them from (``/file/bot<token>/<path>``), and the Bot API objects (PhotoSize list,
Document, Voice, Sticker, ...) that describe them in messages.
"""

from __future__ import annotations

from .errors import SandboxError
from .state import FileRecord, image_size, new_file_id

_EXTENSIONS = {
    "photo": "jpg",
    "voice": "oga",
    "sticker": "webp",
    "video": "mp4",
    "audio": "mp3",
    "animation": "mp4",
    "document": "bin",
}
_DIRS = {
    "photo": "photos",
    "voice": "voice",
    "sticker": "stickers",
    "video": "videos",
    "audio": "music",
    "animation": "animations",
    "document": "documents",
}


class FileStore:
    """Every stored file, by file_id and by download path."""

    def __init__(self) -> None:
        self.files: dict[str, FileRecord] = {}
        self.files_by_path: dict[str, FileRecord] = {}
        self._counter = 0

    def reset(self) -> None:
        self.files.clear()
        self.files_by_path.clear()

    def store_file(
        self,
        kind: str,
        data: bytes,
        *,
        mime_type: str | None = None,
        file_name: str | None = None,
        width: int | None = None,
        height: int | None = None,
        duration: int | None = None,
        url: str | None = None,
    ) -> FileRecord:
        """Keep uploaded bytes; photos also get a thumbnail-size entry (like Telegram)."""
        if kind == "photo":
            width, height = image_size(data) or (width or 800, height or 600)
            mime_type = mime_type or ("image/png" if data[:4] == b"\x89PNG" else "image/jpeg")
        record = self._new_record(kind, data, mime_type, file_name, width, height, duration, url)
        if kind == "photo":
            assert width is not None and height is not None  # set above for photos
            scale = min(1.0, 90 / max(width or 1, height or 1))
            thumb = self._new_record(
                kind,
                data,
                mime_type,
                None,
                max(1, round(width * scale)),
                max(1, round(height * scale)),
                None,
                url,
            )
            sizes = [self._photo_size(thumb), self._photo_size(record)]
            thumb.photo_sizes = record.photo_sizes = sizes
        return record

    def _new_record(
        self,
        kind: str,
        data: bytes,
        mime_type: str | None,
        file_name: str | None,
        width: int | None,
        height: int | None,
        duration: int | None,
        url: str | None,
    ) -> FileRecord:
        self._counter += 1
        file_id, unique_id = new_file_id(kind)
        ext = _EXTENSIONS.get(kind, "bin")
        if file_name and "." in file_name:
            ext = file_name.rsplit(".", 1)[1]
        elif mime_type == "image/png":
            ext = "png"
        path = f"{_DIRS.get(kind, 'documents')}/file_{self._counter}.{ext}"
        record = FileRecord(
            file_id,
            unique_id,
            kind,
            bytes(data),
            path,
            mime_type,
            file_name,
            width,
            height,
            duration,
            url,
        )
        self.files[file_id] = record
        self.files_by_path[path] = record
        return record

    @staticmethod
    def _photo_size(record: FileRecord) -> dict:
        return {**record.base(), "width": record.width, "height": record.height}

    def media_object(self, record: FileRecord) -> dict:
        """The Bot API object (Document, Voice, Sticker, ...) describing a stored file."""
        obj = record.base()
        if record.kind == "sticker":
            obj.update(
                type="regular",
                width=record.width or 512,
                height=record.height or 512,
                is_animated=False,
                is_video=False,
            )
        if record.kind in ("video", "animation"):
            obj.update(
                width=record.width or 640,
                height=record.height or 480,
                duration=record.duration or 1,
            )
        if record.kind in ("voice", "audio"):
            obj["duration"] = record.duration or 1
        if record.file_name and record.kind in ("document", "audio", "video", "animation"):
            obj["file_name"] = record.file_name
        if record.mime_type and record.kind != "sticker":
            obj["mime_type"] = record.mime_type
        return obj

    def file_bytes(self, file_id: str) -> bytes:
        record = self.files.get(file_id)
        if record is None:
            raise SandboxError(404, f"unknown file_id {file_id}")
        return record.data
