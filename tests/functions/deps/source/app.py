"""A function whose requirement has no wheel (crcmod: a source distribution with a C module)."""

import sys

import crcmod._crcfunext
import crcmod.crcmod
import crcmod.predefined


def handler(event, context):
    crc32 = crcmod.predefined.mkPredefinedCrcFun("crc-32")
    return {
        "crc": crc32(b"123456789"),
        "extension": sys.modules["crcmod.crcmod"]._usingExtension,
        "extension_file": crcmod._crcfunext.__file__,
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
    }
