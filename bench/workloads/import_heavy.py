"""Import-heavy workload: import hundreds of stdlib modules in a fresh process.

    python import_heavy.py

Imports every top-level stdlib module and its public submodules that import
cleanly and do nothing on import (no GUI, no test suite, no "this"), in sorted
order. Each benchmark run is a new process, so nothing is cached in
sys.modules; .pyc files are (as for any user).
"""

import importlib
import sys

SKIP = {
    "__main__",
    "antigravity",
    "this",
    "idlelib",
    "tkinter",
    "turtle",
    "turtledemo",
    "test",
    "lib2to3",
    "pydoc_data",
    "ensurepip",
    "venv",
    "msilib",
    "winreg",
    "winsound",
    "_winapi",
    "msvcrt",
    "nt",
    "_msi",
    "_overlapped",
    "_wmi",
    "__phello__",
    "_testcapi",
    "_testinternalcapi",
    "_testbuffer",
    "_testimportmultiple",
    "_testmultiphase",
    "_testsinglephase",
    "_xxtestfuzz",
    "xxlimited",
    "xxlimited_35",
    "xxsubtype",
    "_tkinter",
    "_ctypes_test",
    "_testclinic",
    "_testclinic_limited",
    "_testexternalinspection",
    "_testlimitedcapi",
    "_android_support",
    "_ios_support",
    "_pyrepl",
}

SUBMODULES = [
    "email.mime.text",
    "email.mime.multipart",
    "email.parser",
    "email.policy",
    "xml.dom.minidom",
    "xml.etree.ElementTree",
    "xml.sax.saxutils",
    "http.client",
    "http.server",
    "http.cookies",
    "urllib.request",
    "urllib.parse",
    "json.decoder",
    "logging.handlers",
    "logging.config",
    "concurrent.futures",
    "multiprocessing.pool",
    "importlib.metadata",
    "importlib.resources",
    "unittest.mock",
    "asyncio.subprocess",
    "sqlite3.dbapi2",
    "ctypes.util",
    "wsgiref.simple_server",
    "xmlrpc.client",
    "xmlrpc.server",
    "dbm.dumb",
    "html.parser",
    "curses.ascii",
    "encodings.idna",
]


def main():
    names = sorted(n for n in sys.stdlib_module_names if n not in SKIP and not n.startswith("_"))
    imported = 0
    for name in names + SUBMODULES:
        try:
            importlib.import_module(name)
            imported += 1
        except Exception:  # optional C modules missing in this build
            pass
    return imported


if __name__ == "__main__":
    count = main()
    if "-v" in sys.argv:
        print(f"{count} modules imported, {len(sys.modules)} in sys.modules")
