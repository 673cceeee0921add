/* The identity keys of a call (ingest/identity.py ``_key``), hashed in C.

   ``key(*parts)`` is blake2b with an 8-byte digest over the parts joined by the unit separator (0x1f),
   read as a big-endian integer, 1 where that is 0. A part is ``bytes`` or an ``int`` in [0, 2**64),
   written in decimal ASCII as ``b"%d" % part`` writes it. It is the same number as
   ``int.from_bytes(hashlib.blake2b(b"\x1f".join(parts), digest_size=8).digest(), "big") or 1``, which
   stays the definition: keys are stored in ``call_keys``, so a different digest would make every call
   stored before it look new. A call takes 3 to 6 keys; through hashlib each costs ~0.78 us, most of it
   Python objects (the joined bytes, a hash object, a digest), here ~0.27 us (docs/performance.md).

   BLAKE2b as RFC 7693 specifies it (its reference code, unkeyed, no salt or personalisation: what
   hashlib computes for ``digest_size=8``). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static const uint64_t IV[8] = {
    0x6A09E667F3BCC908ULL, 0xBB67AE8584CAA73BULL, 0x3C6EF372FE94F82BULL, 0xA54FF53A5F1D36F1ULL,
    0x510E527FADE682D1ULL, 0x9B05688C2B3E6C1FULL, 0x1F83D9ABFB41BD6BULL, 0x5BE0CD19137E2179ULL,
};

/* The message schedule of rounds 0-9; rounds 10 and 11 use rows 0 and 1 again. */
static const uint8_t SIGMA[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

typedef struct {
    uint64_t h[8];
    uint64_t t[2];  /* bytes hashed so far, a 128-bit counter */
    uint8_t block[128];
    size_t filled;  /* bytes in ``block`` */
} State;

static inline uint64_t rotr64(uint64_t x, unsigned n) { return (x >> n) | (x << (64 - n)); }

static inline uint64_t load64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];  /* little-endian on any host */
    return v;
}

#define G(a, b, c, d, x, y)                   \
    do {                                      \
        v[a] = v[a] + v[b] + (x);             \
        v[d] = rotr64(v[d] ^ v[a], 32);       \
        v[c] = v[c] + v[d];                   \
        v[b] = rotr64(v[b] ^ v[c], 24);       \
        v[a] = v[a] + v[b] + (y);             \
        v[d] = rotr64(v[d] ^ v[a], 16);       \
        v[c] = v[c] + v[d];                   \
        v[b] = rotr64(v[b] ^ v[c], 63);       \
    } while (0)

static void compress(State *s, int last) {
    uint64_t v[16], m[16];
    for (int i = 0; i < 8; i++) {
        v[i] = s->h[i];
        v[i + 8] = IV[i];
    }
    v[12] ^= s->t[0];
    v[13] ^= s->t[1];
    if (last) v[14] = ~v[14];
    for (int i = 0; i < 16; i++) m[i] = load64(s->block + 8 * i);
    for (int r = 0; r < 12; r++) {
        const uint8_t *z = SIGMA[r < 10 ? r : r - 10];
        G(0, 4, 8, 12, m[z[0]], m[z[1]]);
        G(1, 5, 9, 13, m[z[2]], m[z[3]]);
        G(2, 6, 10, 14, m[z[4]], m[z[5]]);
        G(3, 7, 11, 15, m[z[6]], m[z[7]]);
        G(0, 5, 10, 15, m[z[8]], m[z[9]]);
        G(1, 6, 11, 12, m[z[10]], m[z[11]]);
        G(2, 7, 8, 13, m[z[12]], m[z[13]]);
        G(3, 4, 9, 14, m[z[14]], m[z[15]]);
    }
    for (int i = 0; i < 8; i++) s->h[i] ^= v[i] ^ v[i + 8];
}

static void count(State *s, uint64_t n) {
    s->t[0] += n;
    if (s->t[0] < n) s->t[1]++;
}

static void start(State *s, size_t digest_bytes) {
    memcpy(s->h, IV, sizeof IV);
    s->h[0] ^= 0x01010000ULL ^ (uint64_t)digest_bytes;  /* fanout 1, depth 1, no key */
    s->t[0] = s->t[1] = 0;
    s->filled = 0;
}

static void update(State *s, const uint8_t *data, size_t size) {
    while (size > 0) {
        /* A full block is compressed only once more input follows: the last one is compressed by
           ``finish`` with the final-block flag. */
        if (s->filled == sizeof s->block) {
            count(s, sizeof s->block);
            compress(s, 0);
            s->filled = 0;
        }
        size_t take = sizeof s->block - s->filled;
        if (take > size) take = size;
        memcpy(s->block + s->filled, data, take);
        s->filled += take;
        data += take;
        size -= take;
    }
}

static uint64_t finish_64(State *s) {
    count(s, s->filled);
    memset(s->block + s->filled, 0, sizeof s->block - s->filled);
    compress(s, 1);
    /* The digest is h[0]'s 8 bytes in little-endian order; read big-endian, as int.from_bytes(.., "big")
       reads it, that is h[0] with its bytes reversed. */
    uint64_t h = s->h[0], out = 0;
    for (int i = 0; i < 8; i++) {
        out = (out << 8) | (h & 0xFF);
        h >>= 8;
    }
    return out;
}

static PyObject *key(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    State s;
    start(&s, 8);
    static const uint8_t SEPARATOR = 0x1F;
    char digits[24];
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyObject *part = args[i];
        if (i > 0) update(&s, &SEPARATOR, 1);
        if (PyBytes_Check(part)) {
            update(&s, (const uint8_t *)PyBytes_AS_STRING(part), (size_t)PyBytes_GET_SIZE(part));
        } else if (PyLong_Check(part) && !PyBool_Check(part)) {
            unsigned long long number = PyLong_AsUnsignedLongLong(part);
            if (number == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
            int written = snprintf(digits, sizeof digits, "%llu", number);
            update(&s, (const uint8_t *)digits, (size_t)written);
        } else {
            return PyErr_Format(PyExc_TypeError, "key parts are bytes or int, not %.100s",
                                Py_TYPE(part)->tp_name);
        }
    }
    uint64_t out = finish_64(&s);
    return PyLong_FromUnsignedLongLong(out ? out : 1);
}

static PyMethodDef METHODS[] = {
    {"key", (PyCFunction)(void (*)(void))key, METH_FASTCALL,
     "key(*parts: bytes | int) -> int: blake2b-64 of the parts joined by 0x1f, big-endian; never 0."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_call_key", NULL, 0, METHODS};

PyMODINIT_FUNC PyInit__call_key(void) { return PyModule_Create(&MODULE); }
