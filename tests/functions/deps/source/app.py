"""A function whose requirement has no wheel (crcmod: a source distribution with a C module)."""

import sys

import crcmod
import crcmod._crcfunext


def handler(event, context):
    crc32 = crcmod.predefined.mkPredefinedCrcFun("crc-32")
    return {
        "crc": crc32(b"123456789"),
        "extension": crcmod._usingExtension,
        "extension_file": crcmod._crcfunext.__file__,
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
    }
