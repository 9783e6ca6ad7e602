"""A few LMDB calls through ctypes (liblmdb, a dependency of spyrec), for the
reliability tests that plant records in a real recording. Not a test module."""

import ctypes
import ctypes.util

_lib = ctypes.CDLL(ctypes.util.find_library("lmdb") or "liblmdb.so.0")


class _Val(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("data", ctypes.c_void_p)]


def _check(rc):
    if rc:
        _lib.mdb_strerror.restype = ctypes.c_char_p
        raise OSError(rc, _lib.mdb_strerror(rc).decode())


class Env:
    def __init__(self, path, readonly=False):
        self.env = ctypes.c_void_p()
        _check(_lib.mdb_env_create(ctypes.byref(self.env)))
        _check(_lib.mdb_env_set_maxdbs(self.env, 16))
        _check(_lib.mdb_env_set_mapsize(self.env, ctypes.c_size_t(1 << 30)))
        _check(_lib.mdb_env_open(self.env, str(path).encode(), 0x20000 if readonly else 0, 0o600))
        self.readonly = readonly

    def _txn(self):
        txn = ctypes.c_void_p()
        _check(_lib.mdb_txn_begin(self.env, None, 0x20000 if self.readonly else 0, ctypes.byref(txn)))
        return txn

    def _dbi(self, txn, db):
        dbi = ctypes.c_uint()
        _check(_lib.mdb_dbi_open(txn, db.encode(), 0, ctypes.byref(dbi)))
        return dbi

    def put(self, db, key: bytes, value: bytes):
        txn = self._txn()
        dbi = self._dbi(txn, db)
        k = _Val(len(key), ctypes.cast(ctypes.c_char_p(key), ctypes.c_void_p))
        v = _Val(len(value), ctypes.cast(ctypes.c_char_p(value), ctypes.c_void_p))
        _check(_lib.mdb_put(txn, dbi, ctypes.byref(k), ctypes.byref(v), 0))
        _check(_lib.mdb_txn_commit(txn))

    def items(self, db):
        """[(key, value)] of a sub-database, in key order."""
        txn = self._txn()
        dbi = self._dbi(txn, db)
        cur = ctypes.c_void_p()
        _check(_lib.mdb_cursor_open(txn, dbi, ctypes.byref(cur)))
        out, k, v = [], _Val(), _Val()
        op = 0  # MDB_FIRST
        while _lib.mdb_cursor_get(cur, ctypes.byref(k), ctypes.byref(v), op) == 0:
            out.append((ctypes.string_at(k.data, k.size), ctypes.string_at(v.data, v.size)))
            op = 8  # MDB_NEXT
        _lib.mdb_cursor_close(cur)
        _lib.mdb_txn_abort(txn)
        return out

    def close(self):
        _lib.mdb_env_close(self.env)
