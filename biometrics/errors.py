"""The refusals of the biometrics package.

Every message is meant for the operator or the customer's page as it is:
it says what is wrong and never contains an image, an encoding or a name.
"""

from __future__ import annotations


class BiometricsError(ValueError):
    """Input the biometrics package refuses; ``str(error)`` says why."""


class InvalidIIN(BiometricsError):
    """Not a valid Kazakhstan individual identification number."""


class InvalidPhone(BiometricsError):
    """Not a Kazakh mobile number."""


class InvalidName(BiometricsError):
    """A full name that cannot be recorded."""


class UnreadablePhoto(BiometricsError):
    """The bytes do not decode as an image."""


class UnsupportedFormat(BiometricsError):
    """An image format other than JPEG or PNG."""


class PhotoTooLarge(BiometricsError):
    """Too many bytes or too many pixels."""


class PhotoOutsideImport(BiometricsError):
    """An import row names a photo outside the import directory."""


class NoFaceFound(BiometricsError):
    """A reference photo shows no face."""


class SeveralFacesFound(BiometricsError):
    """A reference photo shows more than one face."""


class SealBroken(BiometricsError):
    """A sealed value does not open: wrong key, or moved to another person or purpose."""


class DuplicatePerson(BiometricsError):
    """The IIN (or the phone) is already on record."""


class PersonNotFound(BiometricsError):
    """No person on record with that IIN."""
