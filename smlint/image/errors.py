"""The one error image reading raises."""


class ImageError(Exception):
    """The image cannot be read; the message is the one-line SM001 reason."""
