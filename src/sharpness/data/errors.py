"""The error raised when dataset bytes on disk are not the bytes that were promised."""


class DatasetIntegrityError(RuntimeError):
    """A dataset file exists but its checksum does not match the recorded or published one."""
