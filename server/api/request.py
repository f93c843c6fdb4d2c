"""The request class: multipart parsing that cleans up when it is cut short."""

from __future__ import annotations

from typing import IO, Any

from flask import Request


class UploadRequest(Request):
    """A request whose multipart parser closes the temp files it opened when parsing
    fails part-way (a chunked body found over the limit mid-file, a truncated body),
    instead of leaving them to the garbage collector."""

    def _get_file_stream(self, *args: Any, **kwargs: Any) -> IO[bytes]:
        stream = super()._get_file_stream(*args, **kwargs)
        self.__dict__.setdefault("_upload_streams", []).append(stream)
        return stream

    def _load_form_data(self) -> None:
        try:
            super()._load_form_data()
        except BaseException:
            for stream in self.__dict__.pop("_upload_streams", []):
                stream.close()
            raise
